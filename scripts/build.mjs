// Bundles the server, the CLI and their npm dependencies into CommonJS files, in two shapes:
// - dist/linkqr.cjs, the command line (src/main.ts), which loads a command runner only when a
//   command has to run: `--help` and plain `version` read 70 kB, not 2.4 MB. The runner comes in
//   two bundles: dist/linkqr-server.cjs for `serve` (src/cli/run-server-command.ts: everything), and
//   dist/linkqr-app.cjs for every other command (src/cli/run-command.ts without the server, a
//   third of the size: `key create` reads and initialises that much less). What `bin/linkqr.cjs`
//   and the tests run.
// - dist/linkqr-sea.cjs, both in one file, for scripts/build-binary.mjs: a single executable's
//   main script can only load what it holds (and V8's code cache for it is carried inside).
// Only the native addon's `.node` file stays outside them.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUNDLE = 'dist/linkqr.cjs';
export const APP_BUNDLE = 'dist/linkqr-app.cjs';
export const SERVER_BUNDLE = 'dist/linkqr-server.cjs';
export const SEA_BUNDLE = 'dist/linkqr-sea.cjs';

/**
 * Native addons are loaded through src/lib/native-addons.ts (better-sqlite3 is given its addon by
 * src/db/db.ts), which finds them inside the single executable. A package that loads one itself
 * (`bindings`, `node-gyp-build`) would look for a `.node` file beside the executable and fail
 * there: the build refuses it rather than ship a binary that breaks on first use.
 */
const nativeAddons = {
  name: 'native-addons',
  setup(b) {
    b.onResolve({ filter: /^(bindings|node-gyp-build|node-gyp-build-optional-packages)$/ }, (args) => ({
      errors: [{ text: `${args.importer} loads a native addon with ${args.path}: load it through src/lib/native-addons.ts instead` }],
    }));
    // One copy of node-cron, its CommonJS build, for `import` (src/jobs) and `require` (src/config.ts,
    // which loads it only to check a schedule) alike: the build the tests run through tsx, too.
    b.onResolve({ filter: /^node-cron$/ }, () => ({ path: createRequire(join(ROOT, 'package.json')).resolve('node-cron') }));
    // debug's optional colour detection: plain output is fine, and it would read the environment.
    b.onResolve({ filter: /^supports-color$/ }, () => ({ path: 'supports-color', namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: 'module.exports = false;', loader: 'js' }));
  },
};

const fileName = (path) => `./${path.split('/').pop()}`;

/** The runners, imported by src/main.ts, as files of their own beside it. */
const separateRunners = {
  name: 'separate-runners',
  setup(b) {
    const runners = { './cli/run-command.js': fileName(APP_BUNDLE), './cli/run-server-command.js': fileName(SERVER_BUNDLE) };
    b.onResolve({ filter: /^\.\/cli\/run-(server-)?command\.js$/ }, (args) =>
      args.importer.endsWith('/src/main.ts') ? { path: runners[args.path], external: true } : undefined,
    );
  },
};

/**
 * The runner for every command but `serve` (src/main.ts hands `serve` to the server's bundle): the
 * server's implementation is left out, and calling it says so rather than failing obscurely.
 */
const withoutServer = {
  name: 'without-server',
  setup(b) {
    b.onResolve({ filter: /^\.\/serve\.js$/ }, (args) =>
      args.importer.endsWith('/src/cli/implementations.ts') ? { path: 'serve', namespace: 'not-in-this-bundle' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'not-in-this-bundle' }, () => ({
      contents: `exports.serve = () => { throw new Error('serve runs from ${SERVER_BUNDLE}, not this bundle'); };`,
      loader: 'js',
    }));
  },
};

const options = {
  absWorkingDir: ROOT,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node24',
  sourcemap: 'linked',
  logLevel: 'warning',
  legalComments: 'none',
  // Without comments and whitespace the bundle is a third smaller and pure ASCII, which Node
  // reads and checks against its code cache markedly faster at every start (`linkqr --help`:
  // 1.9x -> 1.6x node's own start, scripts/bench/cold-start.mjs). Names are kept: stack traces
  // and logged error types stay readable (full minification saved ~1 ms more).
  minifyWhitespace: true,
  minifySyntax: true,
};

/** Builds the four bundles. */
export async function bundle() {
  await Promise.all([
    // `import()` of the runner as `require()`: Node would otherwise scan the whole 2.4 MB runner for
    // its exports before running it (cjs-module-lexer, ~8 ms of every command that runs).
    build({ ...options, entryPoints: ['src/main.ts'], outfile: BUNDLE, plugins: [nativeAddons, separateRunners], supported: { 'dynamic-import': false } }),
    build({ ...options, entryPoints: ['src/cli/run-command.ts'], outfile: APP_BUNDLE, plugins: [nativeAddons, withoutServer] }),
    build({ ...options, entryPoints: ['src/cli/run-server-command.ts'], outfile: SERVER_BUNDLE, plugins: [nativeAddons] }),
    build({ ...options, entryPoints: ['src/main.ts'], outfile: SEA_BUNDLE, plugins: [nativeAddons] }),
  ]);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await bundle();
