// The command runner again, under a second name: `serve` is run through this one. The build
// (scripts/build.mjs) makes each name a bundle of its own, so that the HTTP stack, the admin UI and
// their packages (two thirds of the code) are read only by the process that serves; under tsx and in
// the single executable both names are the same module.
export { runCommand } from './run-command.js';
