// Bundles the server, the CLI and their npm dependencies into one CommonJS file, dist/linkqr.cjs.
// The same file is what `bin/linkqr.cjs` and the tests run, and what scripts/build-binary.mjs
// wraps into the single executable: only the native addons' `.node` files stay outside it.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUNDLE = 'dist/linkqr.cjs';
const NATIVE_ADDONS_MODULE = fileURLToPath(new URL('../src/lib/native-addons.ts', import.meta.url));

/** npm packages that load a native addon, and its name in src/lib/native-addons.ts. */
const ADDON_OF_PACKAGE = { 'better-sqlite3': 'better_sqlite3', argon2: 'argon2' };

/**
 * The packages' own addon loaders (`bindings`, `node-gyp-build`) look for `.node` files next to
 * the package, which the single executable does not have: route them to src/lib/native-addons.ts.
 * `bindings` is called when the addon is needed; `node-gyp-build` when argon2 is imported, before
 * the configuration (and so the addon directory) is known, so it gets an addon loaded on first call.
 */
const nativeAddons = {
  name: 'native-addons',
  setup(b) {
    b.onResolve({ filter: /^(bindings|node-gyp-build)$/ }, (args) => {
      const pkg = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/](?!.*node_modules)/.exec(args.importer)?.[1];
      const addon = ADDON_OF_PACKAGE[pkg];
      if (!addon) return { errors: [{ text: `${pkg ?? args.importer} loads a native addon with ${args.path}: add it to ADDON_OF_PACKAGE and src/lib/native-addons.ts` }] };
      return { path: `${args.path}:${addon}`, namespace: 'native-addon', pluginData: { loader: args.path, addon } };
    });
    b.onLoad({ filter: /.*/, namespace: 'native-addon' }, ({ pluginData: { loader, addon } }) => ({
      contents:
        `const addons = require(${JSON.stringify(NATIVE_ADDONS_MODULE)});\n` +
        (loader === 'bindings'
          ? `module.exports = () => addons.nativeAddon(${JSON.stringify(addon)});\n`
          : `module.exports = () => addons.lazyNativeAddon(${JSON.stringify(addon)});\n`),
      resolveDir: ROOT,
      loader: 'js',
    }));
    // One copy of node-cron, its CommonJS build, for `import` (src/jobs) and `require` (src/config.ts,
    // which loads it only to check a schedule) alike: the build the tests run through tsx, too.
    b.onResolve({ filter: /^node-cron$/ }, () => ({ path: createRequire(join(ROOT, 'package.json')).resolve('node-cron') }));
    // debug's optional colour detection: plain output is fine, and it would read the environment.
    b.onResolve({ filter: /^supports-color$/ }, () => ({ path: 'supports-color', namespace: 'stub' }));
    b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: 'module.exports = false;', loader: 'js' }));
  },
};

/** Builds dist/linkqr.cjs. */
export async function bundle() {
  await build({
    absWorkingDir: ROOT,
    entryPoints: ['src/main.ts'],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    sourcemap: 'linked',
    plugins: [nativeAddons],
    logLevel: 'warning',
    legalComments: 'none',
    // Without comments and whitespace the bundle is a third smaller and pure ASCII, which Node
    // reads and checks against its code cache markedly faster at every start (`linkqr --help`:
    // 1.9x -> 1.6x node's own start, scripts/bench/cold-start.mjs). Names are kept: stack traces
    // and logged error types stay readable (full minification saved ~1 ms more).
    minifyWhitespace: true,
    minifySyntax: true,
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await bundle();
