import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { COUNTRY_DATABASE } from './geo/country-lookup.js';
import { type CliResult, http, ROOT } from './testing/harness.js';
import { createTestDatabase, skipWithoutPostgres } from './testing/postgres.js';

// The single executable (SPEC §1, `npm run build:binary`), copied alone into an empty folder and
// run there with an empty environment: no node, no node_modules, no views/public/migrations.
// It wraps the bundle the other CLI tests run (`npm run build` first); it is rebuilt only when
// that bundle, the build scripts, the shipped files or the addons changed.

const PASSWORD = 'correct horse battery staple';
const KEY = /^lqr_[0-9A-Za-z]{12}_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}$/;
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The addon file the package loads in a checkout: the executable must carry these very bytes. */
const CHECKOUT_ADDONS = {
  better_sqlite3: (require(join(ROOT, 'node_modules/better-sqlite3/lib/binding.js')) as { getPrebuildPath(): string }).getPrebuildPath(),
};

let folder: string;
let exe: string;

before(() => {
  const build = spawnSync(process.execPath, ['scripts/build-binary.mjs', '--reuse-bundle', '--if-stale'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(build.status, 0, `build-binary failed:\n${build.stdout}\n${build.stderr}`);
  folder = mkdtempSync(join(tmpdir(), 'linkqr-binary-'));
  exe = join(folder, 'linkqr');
  copyFileSync(join(ROOT, 'dist/linkqr'), exe);
  chmodSync(exe, 0o755);
});
after(() => rmSync(folder, { recursive: true, force: true }));

/** Runs the copied executable from its own folder with nothing in the environment but `env`. */
function run(args: string[], opts: { stdin?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, { cwd: folder, env: opts.env ?? {}, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}

function succeeded(r: CliResult, what: string) {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
}

/** The `.node` files in an addon directory, by addon name, checked against their content-hash names. */
function extractedAddons(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const name of readdirSync(dir)) {
    const m = /^(\w+)-([0-9a-f]{64})\.node$/.exec(name);
    assert.ok(m, `unexpected file in the addon directory: ${name}`);
    const bytes = readFileSync(join(dir, name));
    assert.equal(sha256(bytes), m[2], `${name} is not named by the hash of its bytes`);
    out[m[1]!] = bytes;
  }
  return out;
}

test('npm run build:binary prints one line, and no warnings', (t) => {
  if (spawnSync('strip', ['--version'], { stdio: 'ignore' }).status !== 0) return t.skip('no `strip` here: the build rightly warns about it');
  // Not --if-stale: every step runs, strip and postject included.
  const build = spawnSync(process.execPath, ['scripts/build-binary.mjs', '--reuse-bundle'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(build.status, 0, `build-binary failed:\n${build.stdout}\n${build.stderr}`);
  assert.equal(build.stderr, '');
  assert.match(build.stdout, /^build-binary: dist\/linkqr [\d.]+ MB, \d+ files, 1 native addon, built in [\d.]+ s\n$/);
});

describe('the single executable, alone in an empty folder with an empty environment', () => {
  let key: string;

  test('version and --help', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const v = await run(['version']);
    succeeded(v, 'version');
    assert.equal(v.stdout, `linkqr ${version}\n`);
    assert.equal(v.stderr, '', 'no warning (such as the experimental SEA one) on stderr');

    const help = await run(['--help']);
    succeeded(help, '--help');
    for (const c of ['serve', 'migrate', 'user create', 'workspace list', 'key create', 'version']) {
      assert.match(help.stdout, new RegExp(`^  ${c} +\\S`, 'm'));
    }
    assert.ok(!existsSync(join(folder, 'data')), 'version and --help touch no data dir');
  });

  test('migrate --status lists the embedded migrations; the SQLite addon is unpacked beside the data', async () => {
    const r = await run(['migrate', '--status', '--json']);
    succeeded(r, 'migrate --status');
    const shipped = readdirSync(join(ROOT, 'migrations', 'sqlite')).sort();
    assert.ok(shipped.length > 0);
    assert.deepEqual(
      r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { version: string; name: string; status: string }).map((m) => `${m.version}_${m.name}.sql ${m.status}`),
      shipped.map((f) => `${f} pending`),
    );
    const addons = extractedAddons(join(folder, 'data/.addons'));
    assert.deepEqual(Object.keys(addons), ['better_sqlite3'], 'only the addon in use is unpacked');
    assert.ok(addons.better_sqlite3!.equals(readFileSync(CHECKOUT_ADDONS.better_sqlite3)));
  });

  test('user create (argon2), workspace list, key create (the key alone on stdout) and backup', async () => {
    // Readable log lines work inside the executable too: pino-pretty is bundled, with no worker.
    const user = await run(['--log-format', 'pretty', 'user', 'create', '--email', 'ada@example.com', '--password-stdin'], { stdin: `${PASSWORD}\n` });
    succeeded(user, 'user create');
    assert.match(user.stdout, /^usr_[0-9A-Za-z]+\n$/);
    assert.match(user.stderr, /owner of workspace "Default"/);
    assert.match(user.stderr, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: migrations applied \{"migrations":\[/m);

    const list = await run(['workspace', 'list', '--json']);
    succeeded(list, 'workspace list');
    assert.deepEqual(list.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { name: string }).name), ['Default']);

    const created = await run(['key', 'create', '--workspace', 'Default', '--name', 'ci', '--scopes', 'links:read,links:write']);
    succeeded(created, 'key create');
    assert.match(created.stdout, /^lqr_\S+\n$/);
    key = created.stdout.trim();
    assert.match(key, KEY);

    const backup = await run(['backup', join(folder, 'copy.db')]);
    succeeded(backup, 'backup');
    assert.equal(readFileSync(join(folder, 'copy.db')).subarray(0, 16).toString('latin1'), 'SQLite format 3\0');

    const addons = extractedAddons(join(folder, 'data/.addons'));
    assert.deepEqual(Object.keys(addons), ['better_sqlite3'], 'argon2 is node:crypto\'s: no addon for it');
  });

  test('serve: health, the API, a redirect, a static file, an HTML page from the views; SIGTERM exits 0', async () => {
    assert.ok(key, 'the key from the previous test');
    const server = spawn(exe, ['serve', '--port', '0'], { cwd: folder, env: {}, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the server did not start:\n${output}`)), 60_000);
        const onData = (d: Buffer) => {
          output += d;
          const m = /"msg":"listening"/.test(output) ? /"url":"(http:\/\/[^"]+)"/.exec(output) : null;
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        };
        server.stdout.on('data', onData);
        server.stderr.on('data', onData);
        void exited.then((code) => reject(new Error(`the server exited with ${code}:\n${output}`)));
      });

      const health = await http(url, 'GET', '/healthz');
      assert.equal(health.status, 200);
      assert.deepEqual(health.json, { status: 'ok' });

      const created = await http(url, 'POST', '/api/v1/links', { key, body: { url: 'https://example.com/from-the-binary' } });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.json.shortUrl, `${url}/${created.json.slug}`);

      const hop = await http(url, 'GET', `/${created.json.slug}`, { headers: { 'user-agent': CHROME } });
      assert.equal(hop.status, 302);
      assert.equal(hop.headers.get('location'), 'https://example.com/from-the-binary');

      const css = await http(url, 'GET', '/public/status.css');
      assert.equal(css.status, 200);
      assert.match(css.headers.get('content-type') ?? '', /^text\/css\b/);
      assert.equal(css.text, readFileSync(join(ROOT, 'public/status.css'), 'utf8'));

      const missing = await http(url, 'GET', '/no-such-link', { headers: { 'user-agent': CHROME, accept: 'text/html' } });
      assert.equal(missing.status, 404);
      assert.match(missing.headers.get('content-type') ?? '', /^text\/html\b/);
      assert.match(missing.text, /^<!doctype html>/i, 'the page is rendered from the embedded views');

      // Admin pages: a layout, a partial and a page, all from the embedded views.
      const login = await http(url, 'GET', '/admin/login');
      assert.equal(login.status, 200);
      assert.match(login.text, /<form method="post" action="\/admin\/login"/);
      // Linked by the hash of the embedded bytes, and served immutable under that URL.
      const stylesheet = /<link rel="stylesheet" href="(\/public\/admin.css\?v=[\w-]{16})">/.exec(login.text)?.[1];
      assert.ok(stylesheet, 'the stylesheet is linked by content');
      const versioned = await http(url, 'GET', stylesheet);
      assert.equal(versioned.status, 200);
      assert.match(versioned.headers.get('cache-control') ?? '', /immutable/);
    } finally {
      server.kill('SIGTERM');
    }
    assert.equal(await exited, 0, output);
    assert.match(output, /"msg":"stopped"/);
  });
});

// No command looks a country up yet, so this checks the embedding itself: the database's bytes are
// in the executable and its manifest lists them, which is what embeddedAssets() needs to read them
// back (as it reads the migrations above). Checked by hand with a --require'd probe: 8.8.8.8 -> US.
test('the executable carries the IP-to-country database, listed in its manifest', () => {
  const binary = readFileSync(exe);
  const database = readFileSync(join(ROOT, COUNTRY_DATABASE));
  // The last 64 kB (the data section and metadata) are the database's alone.
  assert.ok(binary.includes(database.subarray(-65_536)), 'the database bytes are embedded');
  const start = binary.indexOf('{"files":[');
  assert.ok(start >= 0, 'the manifest is embedded');
  const manifest = JSON.parse(binary.toString('utf8', start, binary.indexOf('}}}', start) + 3)) as { files: string[] };
  assert.ok(manifest.files.includes(COUNTRY_DATABASE), 'the manifest lists the database');
});

describe('the addon directory of the single executable', () => {
  const scratch = () => mkdtempSync(join(folder, 'scratch-'));

  const placements: [string, (dir: string) => { args?: string[]; env?: Record<string, string> }][] = [
    ['--addon-dir', (dir) => ({ args: ['--addon-dir', dir] })],
    ['LINKQR_ADDON_DIR', (dir) => ({ env: { LINKQR_ADDON_DIR: dir } })],
  ];
  for (const [how, place] of placements) {
    test(`${how} names the directory the addons are unpacked to (instead of <data dir>/.addons)`, async () => {
      const data = join(scratch(), 'data');
      const addonDir = join(scratch(), 'nested/addons');
      const { args = [], env = {} } = place(addonDir);
      succeeded(await run(['migrate', '--status', '--data-dir', data, ...args], { env }), 'migrate --status');
      assert.deepEqual(Object.keys(extractedAddons(addonDir)), ['better_sqlite3']);
      assert.ok(!existsSync(join(data, '.addons')), 'nothing unpacked beside the data');
    });
  }

  test('concurrent first starts share one unpacked file and leave no temp files', async () => {
    const data = join(scratch(), 'data');
    const addonDir = join(scratch(), 'addons');
    const results = await Promise.all([1, 2, 3, 4].map(() => run(['migrate', '--status', '--data-dir', data, '--addon-dir', addonDir])));
    for (const r of results) succeeded(r, 'migrate --status');
    assert.equal(readdirSync(addonDir).length, 1, readdirSync(addonDir).join(', '));
    extractedAddons(addonDir);
  });

  test('a directory that cannot be used stops the command with a message naming the setting', async () => {
    const notADir = join(scratch(), 'a-file');
    writeFileSync(notADir, 'x');
    const r = await run(['migrate', '--status', '--data-dir', join(scratch(), 'data'), '--addon-dir', notADir]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /LINKQR_ADDON_DIR \(--addon-dir\) ".*a-file": cannot load the native addon better_sqlite3/);
    assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /, 'no stack trace');
    assert.equal(r.stdout, '');
  });

  test('a noexec mount is refused with a message that says why', async (t) => {
    const mountPoint = scratch();
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'noexec,size=16m', 'tmpfs', mountPoint], { stdio: 'ignore' });
    if (mounted.status !== 0) return t.skip('mounting a noexec tmpfs needs root');
    try {
      mkdirSync(join(mountPoint, 'addons'));
      const r = await run(['migrate', '--status', '--data-dir', join(scratch(), 'data'), '--addon-dir', join(mountPoint, 'addons')]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /failed to map segment/);
      assert.match(r.stderr, /allows executables \(not one mounted noexec/);
    } finally {
      spawnSync('umount', [mountPoint], { stdio: 'ignore' });
    }
  });
});

test('with LINKQR_DATABASE_URL, migrate applies the embedded PostgreSQL migrations and leaves the data dir alone', { skip: skipWithoutPostgres }, async () => {
  const db = await createTestDatabase();
  try {
    const env = { LINKQR_DATABASE_URL: db.url, LINKQR_DATA_DIR: join(folder, 'pg-data') };
    succeeded(await run(['migrate'], { env }), 'migrate');
    const r = await run(['migrate', '--status', '--json'], { env });
    succeeded(r, 'migrate --status');
    assert.deepEqual(
      r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { version: string; name: string; status: string }).map((m) => `${m.version}_${m.name}.sql ${m.status}`),
      readdirSync(join(ROOT, 'migrations', 'postgres')).sort().map((f) => `${f} applied`),
    );
    assert.ok(!existsSync(env.LINKQR_DATA_DIR), 'no data dir, no addon unpacked');
  } finally {
    await db.drop();
  }
});
