import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { type CliResult, ROOT, runCli, tempDataDir } from '../testing/harness.js';
import { createTestDatabase, skipWithoutPostgres, type TestDatabase } from '../testing/postgres.js';

// `linkqr migrate` on PostgreSQL, end to end: the real bin/linkqr.cjs in a child process, against
// a database of its own on the server LINKQR_TEST_POSTGRES_URL names.

const PASSWORD = 'not-a-real-password-0xC0FFEE';

/** The test database's URL with a password in it: trust authentication ignores it, and no output may show it. */
function withPassword(url: string) {
  const u = new URL(url);
  u.password = PASSWORD;
  return u.href;
}

const shipped = readdirSync(join(ROOT, 'migrations', 'postgres'))
  .filter((f) => f.endsWith('.sql'))
  .sort()
  .map((f) => /^(\d{4})_(.+)\.sql$/.exec(f)!);

const jsonLines = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

function succeeded(r: CliResult) {
  assert.equal(r.code, 0, `exit code 0 expected\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

/** Failed with `code`, one line on stderr matching `message`, no stack trace, no password. */
function failed(r: CliResult, code: number, message: RegExp) {
  assert.equal(r.code, code, `exit code ${code} expected\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  assert.ok(!r.stderr.includes(PASSWORD) && !r.stdout.includes(PASSWORD), 'the password is never shown');
}

describe('linkqr migrate on PostgreSQL', { skip: skipWithoutPostgres }, () => {
  let db: TestDatabase;
  let dataDir: string;
  let url: string;
  before(async () => {
    db = await createTestDatabase();
    url = withPassword(db.url);
    dataDir = tempDataDir();
  });
  after(async () => {
    await db.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { dataDir, env: { LINKQR_DATABASE_URL: url, ...env } });

  test('--status on a new database lists every migration as pending', async () => {
    const r = await cli(['migrate', '--status', '--json']);
    succeeded(r);
    assert.deepEqual(
      jsonLines(r.stdout),
      shipped.map(([, version, name]) => ({ version, name, status: 'pending', appliedAt: null })),
    );
  });

  test('migrate applies them (logging the database without its password), then says the database is up to date', async () => {
    const first = await cli(['migrate'], { LINKQR_LOG_LEVEL: 'info', LINKQR_LOG_FORMAT: 'json' });
    succeeded(first);
    assert.equal(first.stdout, '');
    assert.match(first.stderr, new RegExp(`^Applied ${shipped.map(([, v, n]) => `${v}_${n}`).join(', ')}\\.$`, 'm'));
    const logged = jsonLines(first.stderr.split('\n').filter((l) => l.startsWith('{')).join('\n')).find((l) => l.msg === 'migrations applied');
    const redacted = new URL(db.url);
    redacted.password = '***';
    assert.equal(logged?.database, redacted.href);
    assert.ok(!first.stderr.includes(PASSWORD), 'the password is not logged');

    const again = await cli(['migrate']);
    succeeded(again);
    assert.match(again.stderr, /^Database is up to date\.$/m);
  });

  test('--status and --status --json show them applied, at the time they ran', async () => {
    const text = await cli(['migrate', '--status']);
    succeeded(text);
    assert.match(text.stdout, /^VERSION +NAME +STATUS +APPLIEDAT$/m);
    assert.match(text.stdout, /^0001 +initial +applied +\d{4}-\d\d-\d\dT/m);
    assert.equal(text.stdout.trim().split('\n').length, shipped.length + 1);

    const json = await cli(['migrate', '--status', '--json']);
    succeeded(json);
    const rows = jsonLines(json.stdout);
    assert.deepEqual(rows.map((r) => `${r.version}_${r.name} ${r.status}`), shipped.map(([, v, n]) => `${v}_${n} applied`));
    assert.ok(rows.every((r) => Math.abs(Date.parse(String(r.appliedAt)) - Date.now()) < 120_000), 'appliedAt is when it ran');
  });

  test('the SQLite-only pieces stay out: the data dir is not touched (no lock, no database file, no copy)', () => {
    assert.deepEqual(readdirSync(dataDir), []);
  });

  test('serve without LINKQR_SECRET refuses with one sentence, before it touches the data dir', async () => {
    const r = await cli(['serve', '--port', '0']);
    failed(r, 1, /^linkqr: with PostgreSQL \(LINKQR_DATABASE_URL\), set LINKQR_SECRET, the same on every instance/);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    assert.deepEqual(readdirSync(dataDir), [], 'no lock file, no key, no SQLite database');
  });

  test('the commands use it; backup refuses, naming what backs PostgreSQL up', async () => {
    succeeded(await cli(['workspace', 'create', 'OnPostgres']));
    const list = await cli(['workspace', 'list', '--json']);
    succeeded(list);
    assert.deepEqual(list.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { name: string }).name), ['OnPostgres']);
    failed(await cli(['backup', join(dataDir, 'copy.db')]), 2, /^linkqr: linkqr backup copies the SQLite database in the data dir; a PostgreSQL database \(LINKQR_DATABASE_URL\) is backed up with its own tools: pg_dump/);
    succeeded(await cli(['version']));
    assert.deepEqual(readdirSync(dataDir), [], 'still nothing in the data dir');
  });

  test('a database whose applied migration was edited is refused by migrate and --status', async () => {
    const pool = db.pool();
    const { rows } = await pool.query<{ checksum: string }>('SELECT checksum FROM schema_migrations WHERE version = 1');
    await pool.query(`UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1`);
    try {
      for (const args of [['migrate'], ['migrate', '--status']]) {
        failed(await cli(args), 1, /^linkqr: migration 0001_initial was edited after it was applied \(checksum mismatch\); restore the original file$/m);
      }
    } finally {
      await pool.query('UPDATE schema_migrations SET checksum = $1 WHERE version = 1', [rows[0]!.checksum]);
    }
    succeeded(await cli(['migrate', '--status']));
  });

  test('a database made by a newer LinkQR is refused', async () => {
    const pool = db.pool();
    await pool.query(`INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, 'from_the_future', 'x', 0)`);
    try {
      failed(await cli(['migrate']), 1, /^linkqr: the database has migration 9999 \(from_the_future\) which this build does not know: it was made by a newer LinkQR$/m);
    } finally {
      await pool.query('DELETE FROM schema_migrations WHERE version = 9999');
    }
  });
});

describe('linkqr migrate: three at once on a new PostgreSQL database', { skip: skipWithoutPostgres }, () => {
  let db: TestDatabase;
  let dataDirs: string[];
  beforeEach(async () => {
    db = await createTestDatabase();
    dataDirs = [tempDataDir(), tempDataDir(), tempDataDir()];
  });
  afterEach(async () => {
    await db.drop();
    for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
  });

  test('all three succeed and between them apply each migration once', async () => {
    // Three machines, each with its own data dir: only the database is shared.
    const runs = await Promise.all(dataDirs.map((dataDir) => runCli(['migrate'], { dataDir, env: { LINKQR_DATABASE_URL: db.url } })));
    for (const r of runs) succeeded(r);
    const applied = runs.flatMap((r) => /^Applied (.+)\.$/m.exec(r.stderr)?.[1]?.split(', ') ?? []);
    assert.deepEqual(applied.sort(), shipped.map(([, v, n]) => `${v}_${n}`));
    const { rows } = await db.pool().query<{ n: number }>('SELECT count(*) AS n FROM schema_migrations');
    assert.equal(rows[0]!.n, shipped.length);
  });
});

describe('linkqr migrate with a bad LINKQR_DATABASE_URL', () => {
  let dataDir: string;
  before(() => {
    dataDir = tempDataDir();
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('not a PostgreSQL URL: one sentence naming the setting and an example, the password hidden', async () => {
    const r = await runCli(['migrate'], { dataDir, env: { LINKQR_DATABASE_URL: `mysql://linkqr:${PASSWORD}@db.internal/linkqr` } });
    failed(r, 1, /^ {2}- LINKQR_DATABASE_URL="mysql:\/\/linkqr:\*\*\*@db\.internal\/linkqr": must be a PostgreSQL URL such as postgres:\/\/linkqr:PASSWORD@db\.example\.com:5432\/linkqr/m);
  });

  test('as a flag, the same', async () => {
    const r = await runCli(['serve', '--database-url', 'sqlite:///var/lib/linkqr/linkqr.db'], { dataDir });
    failed(r, 1, /^ {2}- --database-url="sqlite:\/\/\/var\/lib\/linkqr\/linkqr\.db": must be a PostgreSQL URL/m);
  });

  test('a server that is not there: one sentence naming host, port and database', async () => {
    // Port 1 on the loopback: nothing listens there, the connection is refused at once.
    const r = await runCli(['migrate'], { dataDir, env: { LINKQR_DATABASE_URL: `postgres://linkqr:${PASSWORD}@127.0.0.1:1/linkqr` } });
    failed(r, 1, /^linkqr: cannot use the PostgreSQL database at 127\.0\.0\.1:1\/linkqr: the connection was refused \(is PostgreSQL running and listening there\?\)\n$/);
    assert.deepEqual(readdirSync(dataDir), []);
  });
});
