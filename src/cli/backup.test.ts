import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DB_FILE } from '../db/files.js';
import { openDb } from '../db/db.js';
import { type CliResult, http, runCli, spawnServer, sqliteOnly, startTestServer, tempDataDir } from '../testing/harness.js';

// These tests run the built bundle: `npm run build` first.

function succeeded(r: CliResult, what = 'command') {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stderr}`);
}

/** A failure the user can read: exit code, a message on stderr, no stack trace, nothing on stdout. */
function failed(r: CliResult, code: number, message: RegExp) {
  assert.equal(r.code, code, `expected exit ${code}, got ${r.code}:\n${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /, 'a user error must not print a stack trace');
  assert.equal(r.stdout, '');
}

const countLinks = (file: string) => {
  const db = openDb(file);
  try {
    return db.sqlite.prepare('select count(*) from links').pluck().get() as number;
  } finally {
    void db.close(); // SQLite's close is done when it returns
  }
};

// A copy of the SQLite file (PostgreSQL's backups are pg_dump's): SQLite only.
describe('linkqr backup FILE', { skip: sqliteOnly }, () => {
  let dataDir: string;
  let out: string;
  let key: string;
  before(async () => {
    dataDir = tempDataDir();
    out = tempDataDir();
    succeeded(await runCli(['workspace', 'create', 'Acme'], { dataDir }), 'workspace create');
    const created = await runCli(['key', 'create', '--workspace', 'Acme', '--name', 'writer', '--scopes', 'links:read,links:write'], { dataDir });
    succeeded(created, 'key create');
    key = created.stdout.trim();
  });
  after(() => {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });

  test('copies the database of a running server while it writes; the copy holds what was acknowledged before and serves', async () => {
    // ~25 MB, so the copy is not instant.
    const setup = openDb(join(dataDir, DB_FILE));
    setup.sqlite
      .prepare(
        `with recursive n(i) as (select 1 union all select i + 1 from n where i < 100000)
         insert into clicks (link_id, workspace_id, clicked_at, bot, qr, user_agent) select 'lnk_padding', 'wsp_padding', 0, 0, 0, printf('%.200c', 'x') from n`,
      )
      .run();
    await setup.close();

    const server = await spawnServer(dataDir);
    const acknowledged: { id: string; beforeBackup: boolean }[] = [];
    let backupStarted = false;
    let stop = false;
    let n = 0;
    const writer = async () => {
      while (!stop) {
        const res = await http(server.url, 'POST', '/api/v1/links', { key, body: { url: `https://example.com/${n++}` } });
        assert.equal(res.status, 201, res.text);
        acknowledged.push({ id: res.json.id, beforeBackup: !backupStarted });
      }
    };
    let result: CliResult;
    let writtenDuring: number;
    try {
      const writers = [writer(), writer(), writer()];
      while (acknowledged.length < 100) await new Promise((r) => setTimeout(r, 5));
      backupStarted = true;
      const before = acknowledged.length;
      result = await runCli(['backup', join(out, 'live.db')], { dataDir });
      writtenDuring = acknowledged.length - before;
      stop = true;
      await Promise.all(writers);
    } finally {
      stop = true;
      const { code, output } = await server.stop();
      assert.equal(code, 0, output);
    }

    succeeded(result, 'backup');
    assert.equal(result.stdout, '');
    assert.ok(result.stderr.includes(join(out, 'live.db')), result.stderr);
    assert.ok(writtenDuring > 0, 'the server kept writing while the backup ran');
    assert.deepEqual(readdirSync(out), ['live.db'], 'no temporary file left beside it');

    const restored = tempDataDir();
    try {
      writeFileSync(join(restored, DB_FILE), readFileSync(join(out, 'live.db')));
      const t = await startTestServer({ dataDir: restored });
      try {
        assert.equal(t.store.db.sqlite.pragma('integrity_check', { simple: true }), 'ok');
        const ids = new Set(t.store.db.sqlite.prepare('select id from links').pluck().all() as string[]);
        assert.deepEqual(acknowledged.filter((l) => l.beforeBackup && !ids.has(l.id)), [], 'every link acknowledged before the backup is in it');
        assert.equal(t.store.db.sqlite.prepare('select count(*) from clicks').pluck().get(), 100_000);
        const first = await t.request('GET', `/api/v1/links/${acknowledged[0]!.id}`, { key });
        assert.equal(first.status, 200, first.text);
      } finally {
        await t.close();
      }
    } finally {
      rmSync(restored, { recursive: true, force: true });
    }
  });

  test('an existing FILE is kept unless --force, which replaces it', async () => {
    const file = join(out, 'exists.db');
    writeFileSync(file, 'precious');
    failed(await runCli(['backup', file], { dataDir }), 1, /already exists.*--force/);
    assert.equal(readFileSync(file, 'utf8'), 'precious');

    succeeded(await runCli(['backup', file, '--force'], { dataDir }), 'backup --force');
    assert.equal(countLinks(file), countLinks(join(dataDir, DB_FILE)));
  });

  const refusals: { what: string; args: (dataDir: string, out: string) => string[]; code: number; message: RegExp }[] = [
    { what: 'the database itself, even with --force', args: (d) => ['backup', join(d, DB_FILE), '--force'], code: 2, message: /must not be the database/ },
    { what: 'its WAL file', args: (d) => ['backup', join(d, `${DB_FILE}-wal`), '--force'], code: 2, message: /must not be the database/ },
    { what: 'a folder that does not exist', args: (_d, o) => ['backup', join(o, 'no', 'such', 'x.db')], code: 1, message: /folder .*no\/such.* was not found/ },
    { what: 'no FILE', args: () => ['backup'], code: 2, message: /expected FILE/ },
  ];
  for (const { what, args, code, message } of refusals) {
    test(`refuses ${what}`, async () => {
      failed(await runCli(args(dataDir, out), { dataDir }), code, message);
      assert.ok(countLinks(join(dataDir, DB_FILE)) > 0, 'the database is intact');
    });
  }

  test('a data dir without a database is reported, and no database is created', async () => {
    const empty = tempDataDir();
    try {
      failed(await runCli(['backup', join(out, 'nothing.db')], { dataDir: empty }), 1, /database .*linkqr\.db was not found/);
      assert.deepEqual(readdirSync(empty), []);
      assert.equal(existsSync(join(out, 'nothing.db')), false);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('is listed in the help', async () => {
    const r = await runCli(['backup', '--help']);
    succeeded(r);
    assert.match(r.stdout, /Usage: linkqr backup FILE \[--force\]/);
    assert.match((await runCli(['--help'])).stdout, /^\s+backup\s+/m);
  });
});
