import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { DB_FILE } from '../db/files.js';
import { makeReadOnly, mountTmpfs } from '../testing/disk.js';
import { BIN, http, runCli, serveExpectingFailure, spawnServer, sqliteOnly, tempDataDir } from '../testing/harness.js';

// Runs the built bundle as an operator would (`npm run build` first).

type Refusal = Awaited<ReturnType<typeof serveExpectingFailure>>;

/** Exit 1 before the port opens, and one sentence on stderr: no stack trace, no "unexpected error". */
function refusedToStart(r: Refusal, message: RegExp) {
  assert.equal(r.listened, false, `the server opened its port:\n${r.output}`);
  assert.equal(r.code, 1, r.output);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr:\n${r.stderr}`);
  assert.match(lines[0]!, /^linkqr: /);
  assert.match(lines[0]!, message);
  assert.doesNotMatch(r.output, /unexpected error|\n\s+at /, 'no stack trace');
}

/** A data dir with a workspace and an API key, made with the CLI. */
async function prepare(dataDir = tempDataDir()): Promise<{ dataDir: string; key: string }> {
  assert.equal((await runCli(['workspace', 'create', 'Acme'], { dataDir })).code, 0);
  const made = await runCli(['key', 'create', '--workspace', 'Acme', '--name', 'startup', '--scopes', 'links:read,links:write'], { dataDir });
  assert.equal(made.code, 0, made.stderr);
  return { dataDir, key: made.stdout.trim() };
}

describe('serve refuses to start, in one sentence, before opening its port', () => {
  const cleanups: (() => void | Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  const dir = () => {
    const d = tempDataDir();
    cleanups.push(() => rmSync(d, { recursive: true, force: true }));
    return d;
  };

  test('a bad setting', async () => {
    const r = await serveExpectingFailure(dir(), ['--port', '70000']);
    assert.equal(r.listened, false);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'linkqr: Invalid configuration:\n  - --port="70000": must be an integer from 0 to 65535\n');
    assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /);
  });

  test('the port is taken by another program', async () => {
    const taken: NetServer = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => taken.close(() => resolve())));
    const port = (taken.address() as { port: number }).port;
    refusedToStart(
      await serveExpectingFailure(dir(), ['--port', String(port)]),
      new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use: stop the program using it or choose another --port$`),
    );
  });

  test('the host is not an address of this machine', async () => {
    refusedToStart(await serveExpectingFailure(dir(), ['--host', '192.0.2.1', '--port', '0']), /cannot listen on 192\.0\.2\.1: it is not an address of this machine/);
  });

  test('a migration fails', async () => {
    const { dataDir } = await prepare(dir());
    // As if 0007 had never been recorded: applying it again fails on the tables it creates.
    const db = new Database(join(dataDir, DB_FILE));
    db.prepare('delete from schema_migrations where version = 7').run();
    db.close();
    for (let attempt = 0; attempt < 2; attempt++) {
      refusedToStart(
        await serveExpectingFailure(dataDir),
        /migration 0007_api_product failed and was rolled back \(.+\); the database stays at 0006$/,
      );
    }
    const backups = join(dataDir, 'backups');
    assert.deepEqual(existsSync(backups) ? readdirSync(backups).filter((f) => f.startsWith('pre-migrate')) : [], [], 'failed starts leave no copies of an unchanged database');
  });

  test('a write of the start that fails (the setup link) fails the start: it does not listen without it', async () => {
    const dataDir = dir();
    assert.equal((await runCli(['migrate'], { dataDir })).code, 0);
    // No user yet, so serve writes a setup token: make that one write fail.
    const db = new Database(join(dataDir, DB_FILE));
    db.exec(`create trigger refuse_setup before insert on settings when new.key = 'setup_token' begin select raise(abort, 'injected failure'); end`);
    db.close();
    const r = await serveExpectingFailure(dataDir);
    assert.equal(r.listened, false, `the server opened its port:\n${r.output}`);
    assert.equal(r.code, 1, r.output);
    assert.deepEqual(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /injected failure/);
    assert.ok(!existsSync(join(dataDir, 'linkqr.lock.json')), 'the data dir is free again');
  });

  test('a damaged key file stops the start before the database is created or migrated', async () => {
    const dataDir = dir();
    writeFileSync(join(dataDir, 'linkqr.key'), 'not a key\n', { mode: 0o600 });
    refusedToStart(await serveExpectingFailure(dataDir), /linkqr\.key is not a LinkQR key/);
    assert.equal(existsSync(join(dataDir, DB_FILE)), false, 'no database was made (nor migrated, nor backed up)');
  });

  test('the data dir is a file', async () => {
    const file = join(dir(), 'not-a-dir');
    writeFileSync(file, '');
    refusedToStart(await serveExpectingFailure(file), /the data dir .*not-a-dir is not a directory; choose another --data-dir$/);
  });

  test('a read-only data dir after a kill -9 left -wal and -shm files behind (it used to listen, say ready and fail every write)', async (t) => {
    const { dataDir, key } = await prepare(dir());
    const first = await spawnServer(dataDir);
    const created = await http(first.url, 'POST', '/api/v1/links', { key, body: { url: 'https://example.com/kept', slug: 'kept' } });
    assert.equal(created.status, 201, created.text);
    await first.stop('SIGKILL');
    assert.ok(existsSync(join(dataDir, `${DB_FILE}-wal`)) && existsSync(join(dataDir, `${DB_FILE}-shm`)), 'the crash left the WAL behind');

    const undo = makeReadOnly(dataDir);
    if (typeof undo === 'string') return t.skip(undo);
    let r: Refusal;
    try {
      r = await serveExpectingFailure(dataDir);
    } finally {
      undo();
    }
    refusedToStart(r, new RegExp(`cannot write to the data dir ${dataDir}: it is (on a read-only file system|not writable by user \\w+) \\(\\w+\\); make it writable and try again$`));

    // Writable again: it starts, with what the crashed server had committed.
    const again = await spawnServer(dataDir);
    try {
      assert.equal((await http(again.url, 'GET', '/kept')).status, 302);
    } finally {
      await again.stop();
    }
  });

  test('a read-only database file in a writable data dir', async (t) => {
    const { dataDir } = await prepare(dir());
    const undo = makeReadOnly(join(dataDir, DB_FILE));
    if (typeof undo === 'string') return t.skip(undo);
    try {
      refusedToStart(await serveExpectingFailure(dataDir), /cannot write to the data dir .*: linkqr\.db (is on a read-only file system|is not writable by user \w+) \(SQLITE_READONLY\); make it writable and try again$/);
    } finally {
      undo();
    }
  });

  test('a data dir that cannot be created', async (t) => {
    const parent = dir();
    const undo = makeReadOnly(parent);
    if (typeof undo === 'string') return t.skip(undo);
    try {
      refusedToStart(await serveExpectingFailure(join(parent, 'data')), /cannot write to the data dir .*\/data: .* (is on a read-only file system|is not writable by user \w+) \(\w+\); make it writable and try again$/);
    } finally {
      undo();
    }
  });

  test('a full disk', async (t) => {
    const disk = mountTmpfs(4 * 1024 * 1024);
    if (typeof disk === 'string') return t.skip(disk);
    cleanups.push(() => disk.unmount());
    const dataDir = join(disk.dir, 'data');
    mkdirSync(dataDir);
    await prepare(dataDir);
    disk.fill();
    refusedToStart(await serveExpectingFailure(dataDir), /cannot write to the data dir .*: its disk is full \(0 KB free\) \(\w+\); free some space and try again$/);

    disk.free();
    const started = await spawnServer(dataDir);
    assert.equal((await started.stop()).code, 0, 'starts once there is room');
  });
});

describe('the other commands: an operator mistake is one sentence, never a stack trace', () => {
  const cleanups: (() => void)[] = [];
  after(() => {
    for (const c of cleanups.reverse()) c();
  });
  const dir = () => {
    const d = tempDataDir();
    cleanups.push(() => rmSync(d, { recursive: true, force: true }));
    return d;
  };

  /** Exit 1, one line on stderr saying it, nothing on stdout. */
  function oneSentence(r: { code: number | null; stdout: string; stderr: string }, message: RegExp) {
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^linkqr: [^\n]+\n$/, `one line on stderr:\n${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /);
  }

  test('a workspace that does not exist', async () => {
    const { dataDir } = await prepare(dir());
    oneSentence(await runCli(['key', 'create', '--workspace', 'Nope', '--name', 'N', '--scopes', 'links:read'], { dataDir }), /^linkqr: Workspace "Nope" was not found\.$/m);
  });

  test('a read-only data dir, for a command that writes and one that only reads', async (t) => {
    const { dataDir } = await prepare(dir());
    const undo = makeReadOnly(dataDir);
    if (typeof undo === 'string') return t.skip(undo);
    try {
      for (const args of [['key', 'create', '--workspace', 'Acme', '--name', 'N', '--scopes', 'links:read'], ['workspace', 'list']]) {
        oneSentence(await runCli(args, { dataDir }), /^linkqr: cannot write to the data dir .*: it is (on a read-only file system|not writable by user \w+) \(\w+\); make it writable and try again$/m);
      }
    } finally {
      undo();
    }
  });

  test('migrate, with a data dir that cannot be created (it used to be "unexpected error: ENOENT … mkdir")', async (t) => {
    const parent = dir();
    const undo = makeReadOnly(parent);
    if (typeof undo === 'string') return t.skip(undo);
    try {
      for (const args of [['migrate'], ['migrate', '--status']]) {
        oneSentence(await runCli(args, { dataDir: join(parent, 'data') }), /^linkqr: cannot write to the data dir .*\/data: .* \(\w+\); make it writable and try again$/m);
      }
    } finally {
      undo();
    }
  });

  test('a data dir whose linkqr.db is not a database (a wrong --data-dir, another file): serve and the other commands', async () => {
    const dataDir = dir();
    writeFileSync(join(dataDir, DB_FILE), 'these are not the pages of a SQLite database, whatever the name says\n'.repeat(20));
    const message = new RegExp(`^linkqr: ${dataDir}/linkqr\\.db is not a LinkQR database \\(SQLITE_NOTADB\\): check --data-dir, or restore the file from a backup$`, 'm');
    oneSentence(await runCli(['workspace', 'list'], { dataDir }), message);
    refusedToStart(await serveExpectingFailure(dataDir), message);
  });

  test("a linkqr.db of another application (tables, no LinkQR schema): refused by serve and the commands, no table made in it", { skip: sqliteOnly }, async () => {
    const dataDir = dir();
    const foreign = new Database(join(dataDir, DB_FILE));
    foreign.exec('CREATE TABLE foo (id INTEGER); INSERT INTO foo VALUES (1)');
    foreign.close();
    const message = new RegExp(`^linkqr: The SQLite database "${dataDir}/linkqr\\.db" already holds tables that LinkQR did not make \\(foo\\) and no LinkQR schema: it belongs to something else\\.`, 'm');
    oneSentence(await runCli(['migrate'], { dataDir }), message);
    oneSentence(await runCli(['workspace', 'list'], { dataDir }), message);
    refusedToStart(await serveExpectingFailure(dataDir), message);
    const after = new Database(join(dataDir, DB_FILE), { readonly: true });
    assert.deepEqual(after.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all(), ['foo']);
    after.close();
  });

  test('output that cannot be written (`> file` on a full disk) is one sentence', async (t) => {
    if (!existsSync('/dev/full')) return t.skip('no /dev/full here');
    const out = openSync('/dev/full', 'w');
    try {
      const child = spawn(process.execPath, [BIN, 'version'], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', out, 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 1);
      assert.equal(stderr, 'linkqr: cannot write the output: ENOSPC: no space left on device, write\n');
    } finally {
      closeSync(out);
    }
  });

  test('a listing cut short by its reader (`linkqr audit … | head -1`) stops quietly, exit 0', async () => {
    const { dataDir } = await prepare(dir());
    // More lines than a pipe holds (64 KB), so the command is still writing when the reader leaves.
    const db = new Database(join(dataDir, DB_FILE));
    const ws = (db.prepare("select id from workspaces where name = 'Acme'").get() as { id: string }).id;
    const insert = db.prepare(
      "insert into audit_log (workspace_id, actor_type, actor_id, action, target_type, target_id, summary, ip, created_at) values (?, 'operator', 'cli:test', 'link.create', 'link', ?, ?, null, ?)",
    );
    db.transaction(() => {
      for (let i = 0; i < 5_000; i++) insert.run(ws, `lnk_${i}`, JSON.stringify({ slug: `s${i}`, url: `https://example.com/${i}` }), Date.now());
    })();
    db.close();
    const child = spawn(process.execPath, [BIN, 'audit', '--workspace', 'Acme', '--limit', '10000'], {
      env: { PATH: process.env.PATH ?? '', LINKQR_DATA_DIR: dataDir, LINKQR_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(stderr, '');
    assert.equal(code, 0);
  });
});
