import { parseArgs } from 'node:util';
import type { Command } from './cli/command.js';
import { resolveCommandLine } from './cli/command-line.js';
import { COMMANDS } from './cli/commands.js';
import { CONFIG_OPTIONS, commandHelp, generalHelp, groupHelp, usageOf } from './cli/help.js';

// The entry point: the command line. It finds the command and checks its arguments, answers
// --help, the usage mistakes and plain `version` itself, and hands the rest to the command runner
// (src/cli/run-command.ts): a bundle of its own (scripts/build.mjs), so these answers load only
// the command table and add little to Node's own start (scripts/bench/cold-start.mjs). `serve` has
// a runner bundle of its own (src/cli/run-server-command.ts) with the HTTP stack the others leave out.

/** A mistake in how the command was called: said in one line with the usage, exit code 2. */
class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const call = resolveCommandLine(argv, COMMANDS, new Set(Object.keys(CONFIG_OPTIONS)));
  switch (call.kind) {
    case 'help':
      process.stdout.write(generalHelp(COMMANDS));
      return 0;
    case 'group':
      // Asked for (`linkqr key --help`): the list is the answer. Not asked (`linkqr key`, or
      // `linkqr key $VERB` with an empty VERB in a script): a usage error that lists the choices.
      if (call.helpAsked) {
        process.stdout.write(`Commands of linkqr ${call.group}:\n${groupHelp(call.group, COMMANDS)}`);
        return 0;
      }
      process.stderr.write(`linkqr ${call.group}: which one? Its commands are:\n${groupHelp(call.group, COMMANDS)}`);
      return 2;
    case 'unknown':
      process.stderr.write(`linkqr: unknown command "${call.words.join(' ')}"; "linkqr --help" lists the commands\n`);
      return 2;
  }
  const cmd = call.command;
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseCommandArgs(cmd, call.args));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`linkqr ${cmd.name.join(' ')}: ${e.message}\n\nUsage: ${usageOf(cmd)}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(commandHelp(cmd));
    return 0;
  }

  const answer = cmd.quickAnswer?.(values);
  if (answer !== undefined) {
    process.stdout.write(answer);
    return 0;
  }
  const { runCommand } = cmd.name[0] === 'serve' ? await import('./cli/run-server-command.js') : await import('./cli/run-command.js');
  return runCommand({ name: cmd.name, options: values, positionals });
}

/** The command's options (and the configuration flags, wherever they are), checked against what it takes. */
function parseCommandArgs(cmd: Command, args: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        ...Object.fromEntries(Object.entries({ ...CONFIG_OPTIONS, ...cmd.options }).map(([k, o]) => [k, { type: o.type }])),
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (e) {
    throw new UsageError(parseArgsMistake(e as Error & { code?: string }));
  }
  // parseArgs keeps the last of a repeated option: `--data-dir a … --data-dir b` would quietly use b.
  const given = parsed.tokens.flatMap((t) => (t.kind === 'option' ? [t.name] : []));
  const repeated = [...new Set(given.filter((name, i) => given.indexOf(name) !== i))];
  if (repeated.length > 0) throw new UsageError(`${repeated.map((n) => `--${n}`).join(' and ')} given more than once`);
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return { values, positionals: parsed.positionals };
  const expected = cmd.positionals ?? [];
  const missingPositional = expected.some((p, i) => p.required && parsed.positionals[i] === undefined);
  if (missingPositional || parsed.positionals.length > expected.length) {
    throw new UsageError(`expected ${expected.map((p) => p.name).join(' ') || 'no arguments'}`);
  }
  const missing = Object.entries(cmd.options ?? {}).filter(([name, o]) => o.required && values[name] === undefined).map(([name]) => `--${name}`);
  if (missing.length > 0) throw new UsageError(`${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} required`);
  return { values, positionals: parsed.positionals };
}

/** parseArgs' messages, shortened to what the operator needs: "unknown option --colour", "--workspace needs a value". */
function parseArgsMistake(e: Error & { code?: string }): string {
  const option = /'(-[^' ]+)/.exec(e.message)?.[1];
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) return `unknown option ${option}`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option && /argument missing/.test(e.message)) return `${option} needs a value`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option && /does not take an argument/.test(e.message)) return `${option} takes no value`;
  return e.message;
}

// The output cannot be written. `linkqr audit … | head`: the reader has what it wanted and closed
// the pipe (EPIPE), so stop quietly, as the standard tools do. Anything else (a full disk under
// `> file`) is one sentence, like every other failure, not an unhandled 'error' event.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') process.stderr.write(`linkqr: cannot write the output: ${err.message}\n`);
  process.exit(err.code === 'EPIPE' ? 0 : 1);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // A bug in reading the command line itself (the runner reports its own failures).
    process.stderr.write(`linkqr: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
