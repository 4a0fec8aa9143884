// Builds dist/linkqr: one Linux x64 executable holding Node, the bundle (dist/linkqr-sea.cjs), the
// files under views/, public/ and migrations/, the IP-to-country database (7.8 MB) and
// better-sqlite3's native addon, using Node's single executable applications (SEA) and postject.
// See src/lib/assets.ts and src/lib/native-addons.ts for how the bundle finds them inside the
// executable.
//
//   node scripts/build-binary.mjs                  bundle, then build the executable
//   node scripts/build-binary.mjs --reuse-bundle   wrap the existing dist/linkqr-sea.cjs (as tests do)
//   node scripts/build-binary.mjs --if-stale       do nothing if dist/linkqr was built from the same inputs
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { bundle, ROOT, SEA_BUNDLE } from './build.mjs';

const OUTPUT = join(ROOT, 'dist/linkqr');
const STAMP = join(ROOT, 'dist/linkqr.inputs');
const MANIFEST_KEY = 'linkqr/manifest.json'; // src/lib/assets.ts
const ASSET_DIRS = ['migrations', 'views', 'public'];
// Single files shipped from elsewhere in the checkout, under the paths diskAssets reads them from:
// the IP-to-country database, from its npm package (COUNTRY_DATABASE in src/geo/country-lookup.ts),
// and resvg's WebAssembly module, which draws SVG logos into PNG codes (RESVG_WASM in src/qr/svg-rasterizer.ts).
const ASSET_FILES = ['node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb', 'node_modules/@resvg/resvg-wasm/index_bg.wasm'];
const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const args = new Set(process.argv.slice(2));
const started = performance.now();
const require = createRequire(import.meta.url);

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.warn(`build-binary: building for ${process.platform}-${process.arch}, the host; the project ships linux-x64`);
}

if (!args.has('--reuse-bundle') || !existsSync(join(ROOT, SEA_BUNDLE))) await bundle();

// The addon files the packages themselves would load here (see src/lib/native-addons.ts).
const packageDir = (name) => dirname(require.resolve(`${name}/package.json`));
const addons = {
  // A local compile (build/Release) wins over the shipped prebuild, as in the package itself.
  better_sqlite3: [join(packageDir('better-sqlite3'), 'build/Release/better_sqlite3.node')].find(existsSync) ?? createRequire(join(packageDir('better-sqlite3'), 'package.json'))('./lib/binding.js').getPrebuildPath(),
};

for (const f of ASSET_FILES) {
  if (!existsSync(join(ROOT, f))) throw new Error(`build-binary: ${f} is missing: run npm install (or npm ci)`);
}
const files = [...ASSET_DIRS.flatMap((dir) => walk(join(ROOT, dir))).map((f) => relative(ROOT, f).split(sep).join('/')), ...ASSET_FILES].sort();
const sha256 = (data) => createHash('sha256').update(data).digest('hex');

const inputs = createHash('sha256');
inputs.update(`${process.version} ${process.execPath} ${statSync(process.execPath).size}\n`);
for (const f of [SEA_BUNDLE, 'scripts/build.mjs', 'scripts/build-binary.mjs', ...files]) inputs.update(`${f}\n`).update(readFileSync(join(ROOT, f)));
for (const [name, file] of Object.entries(addons)) inputs.update(`${name}\n`).update(readFileSync(file));
const inputsHash = inputs.digest('hex');
if (args.has('--if-stale') && existsSync(OUTPUT) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === inputsHash) {
  console.log(`build-binary: ${relative(process.cwd(), OUTPUT)} is up to date`);
  process.exit(0);
}

// Everything in a folder of its own, so that concurrent builds do not mix their files.
const work = join(ROOT, `dist/.sea-${process.pid}`);
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
try {
  const manifest = {
    files,
    addons: Object.fromEntries(
      Object.entries(addons).map(([name, file]) => [name, { asset: `linkqr/addons/${name}.node`, sha256: sha256(readFileSync(file)) }]),
    ),
  };
  writeFileSync(join(work, 'manifest.json'), JSON.stringify(manifest));
  const seaConfig = {
    main: join(ROOT, SEA_BUNDLE),
    output: join(work, 'linkqr.blob'),
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    assets: {
      [MANIFEST_KEY]: join(work, 'manifest.json'),
      ...Object.fromEntries(files.map((f) => [f, join(ROOT, f)])),
      ...Object.fromEntries(Object.entries(addons).map(([name, file]) => [manifest.addons[name].asset, file])),
    },
  };
  writeFileSync(join(work, 'sea-config.json'), JSON.stringify(seaConfig, null, 2));
  run(process.execPath, ['--experimental-sea-config', join(work, 'sea-config.json')]);

  // The blob only runs in the Node that made it: embed this very binary.
  const binary = join(work, 'linkqr');
  copyFileSync(process.execPath, binary);
  chmodSync(binary, 0o755);
  if (spawnSync('strip', ['--version'], { stdio: 'ignore' }).status === 0) run('strip', [binary]);
  else console.warn('build-binary: `strip` not found (Debian: apt-get install binutils): the executable keeps its symbols');
  const { inject } = require('postject');
  // LIEF (inside postject) warns that a stripped ELF file has no section-name strings for its
  // notes ('.note.100', '.note'): harmless, Node finds the blob through the note itself. Those
  // lines alone are dropped; any other warning still shows.
  const warn = console.warn;
  console.warn = (...args) => {
    if (!/^warning: Can't find string offset for section name '\.note(\.\d+)?'$/.test(String(args[0]).trim())) warn(...args);
  };
  try {
    await inject(binary, 'NODE_SEA_BLOB', readFileSync(seaConfig.output), { sentinelFuse: SENTINEL_FUSE });
  } finally {
    console.warn = warn;
  }
  renameSync(binary, OUTPUT);
  writeFileSync(STAMP, inputsHash);
} finally {
  rmSync(work, { recursive: true, force: true });
}

const mb = (statSync(OUTPUT).size / 1024 / 1024).toFixed(1);
console.log(`build-binary: ${relative(process.cwd(), OUTPUT)} ${mb} MB, ${files.length} files, ${Object.keys(addons).length} native addon${Object.keys(addons).length === 1 ? '' : 's'}, built in ${((performance.now() - started) / 1000).toFixed(1)} s`);

function walk(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Runs a build step quietly (node's "Wrote single executable preparation blob…"); its output is shown if it fails. */
function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    throw new Error(`build-binary: ${cmd} ${argv.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})`);
  }
}
