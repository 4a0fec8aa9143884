import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type pg from 'pg';
import { diskAssets, shippedAssets } from '../lib/assets.js';
import { createTestDatabase, skipWithoutPostgres, type TestDatabase } from '../testing/postgres.js';
import { migratePostgres, MIGRATION_LOCK_KEY, postgresMigrationStatus } from './migrate-postgres.js';
import { loadMigrations, MigrationError } from './migrations.js';
import { openPostgres, parseBigint, postgresConnectionProblem } from './postgres.js';

const T0 = Date.UTC(2030, 0, 1);

/** Migrations of a throwaway project root (package.json + migrations/postgres/). */
function fakeMigrations(root: string, files: Record<string, string>) {
  mkdirSync(join(root, 'migrations', 'postgres'), { recursive: true });
  writeFileSync(join(root, 'package.json'), '{"name":"migrate-postgres-test"}\n');
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(root, 'migrations', 'postgres', name), sql);
  return loadMigrations(diskAssets(root), 'postgres');
}

const recorded = async (pool: pg.Pool) =>
  (await pool.query<{ version: number; name: string; checksum: string; applied_at: number }>('SELECT * FROM schema_migrations ORDER BY version')).rows;

describe('PostgreSQL migration runner', { skip: skipWithoutPostgres }, () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let root: string;
  beforeEach(async () => {
    db = await createTestDatabase();
    pool = db.pool();
    root = mkdtempSync(join(tmpdir(), 'linkqr-migrate-pg-'));
  });
  afterEach(async () => {
    await db.drop();
    rmSync(root, { recursive: true, force: true });
  });

  const shipped = () => loadMigrations(shippedAssets(), 'postgres');

  test('applies the shipped migrations in order and records version, name, checksum and time (as numbers)', async () => {
    const migrations = shipped();
    assert.deepEqual((await postgresMigrationStatus(pool, migrations)).map((s) => s.appliedAt), migrations.map(() => null));
    const applied = await migratePostgres(pool, migrations, () => T0);
    assert.deepEqual(applied.map((m) => m.version), migrations.map((m) => m.version));
    assert.deepEqual(
      await recorded(pool),
      migrations.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum, applied_at: T0 })),
      'BIGINT columns read as numbers',
    );
    assert.deepEqual(await migratePostgres(pool, migrations, () => T0 + 1), [], 'a second run applies nothing');
    assert.ok((await postgresMigrationStatus(pool, migrations)).every((s) => s.appliedAt === T0));
    const plan = await pool.query('SELECT id, name, created_at FROM plans');
    assert.equal(plan.rows.length, 1, '0001 seeds the default plan');
    assert.equal(typeof plan.rows[0].created_at, 'number');
    assert.ok(Math.abs(plan.rows[0].created_at - Date.now()) < 60_000, 'its time is now, in milliseconds');
  });

  test('--status of a database never migrated creates nothing', async () => {
    await postgresMigrationStatus(pool, shipped());
    const tables = await pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`);
    assert.deepEqual(tables.rows, []);
  });

  test("another application's database (tables, no LinkQR schema) is refused by status and by migrate, and left untouched", async () => {
    await pool.query('CREATE TABLE invoices (id int); INSERT INTO invoices VALUES (42); CREATE TABLE users (id int)');
    const refusal = /^The PostgreSQL database "[^"]+" already holds tables that LinkQR did not make \(invoices, users\) and no LinkQR schema: it belongs to something else\./;
    await assert.rejects(postgresMigrationStatus(pool, shipped()), (e: Error) => e instanceof MigrationError && refusal.test(e.message));
    await assert.rejects(migratePostgres(pool, shipped(), () => T0), (e: Error) => e instanceof MigrationError && refusal.test(e.message));
    const tables = await pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`);
    assert.deepEqual(tables.rows.map((r) => r.table_name), ['invoices', 'users'], 'no schema_migrations left behind');
  });

  test("another application's own schema_migrations (Rails keeps one: a version column alone) is not LinkQR's: refused", async () => {
    await pool.query('CREATE TABLE schema_migrations (version varchar PRIMARY KEY); INSERT INTO schema_migrations VALUES (\'20240101000000\')');
    await assert.rejects(
      migratePostgres(pool, shipped(), () => T0),
      (e: Error) => e instanceof MigrationError && /already holds tables that LinkQR did not make \(schema_migrations\)/.test(e.message),
    );
    const tables = await pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`);
    assert.deepEqual(tables.rows.map((r) => r.table_name), ['schema_migrations']);
  });

  test('an applied migration that was edited is refused, by status and by migrate', async () => {
    const migrations = fakeMigrations(root, { '0001_create_things.sql': 'CREATE TABLE things (id BIGINT PRIMARY KEY);' });
    await migratePostgres(pool, migrations, () => T0);
    const edited = fakeMigrations(root, { '0001_create_things.sql': 'CREATE TABLE things (id BIGINT PRIMARY KEY, name TEXT);' });
    const checksum = (e: unknown) => e instanceof MigrationError && /0001_create_things was edited after it was applied \(checksum mismatch\)/.test(e.message);
    await assert.rejects(postgresMigrationStatus(pool, edited), checksum);
    await assert.rejects(migratePostgres(pool, edited, () => T0), checksum);
  });

  test('a database with a migration this build does not know is refused', async () => {
    const migrations = fakeMigrations(root, { '0001_create_things.sql': 'CREATE TABLE things (id BIGINT PRIMARY KEY);' });
    await migratePostgres(pool, migrations, () => T0);
    await pool.query(`INSERT INTO schema_migrations VALUES (2, 'from_the_future', 'x', 0)`);
    await assert.rejects(migratePostgres(pool, migrations, () => T0), (e) => e instanceof MigrationError && /2 \(from_the_future\).*newer LinkQR/.test(e.message));
  });

  test('a failing migration is rolled back whole and the database stays at the one before', async () => {
    const files = {
      '0001_create_things.sql': 'CREATE TABLE things (id BIGINT PRIMARY KEY, name TEXT);',
      '0002_more.sql': "CREATE TABLE more (id BIGINT);\nINSERT INTO things VALUES (1, 'a');\nINSERT INTO no_such_table VALUES (1);",
      '0003_after.sql': 'CREATE TABLE after (id BIGINT);',
    };
    await assert.rejects(
      migratePostgres(pool, fakeMigrations(root, files), () => T0),
      (e) => e instanceof MigrationError && /^migration 0002_more failed and was rolled back \(.*no_such_table.*\); the database stays at 0001$/.test(e.message),
    );
    assert.deepEqual((await recorded(pool)).map((r) => r.version), [1]);
    const tables = await pool.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`);
    assert.deepEqual(tables.rows.map((r) => r.table_name), ['schema_migrations', 'things'], 'nothing of 0002 (or 0003) is left');
    assert.equal((await pool.query('SELECT * FROM things')).rows.length, 0);
    // The lock was given back: the fixed file applies.
    const fixed = fakeMigrations(root, { ...files, '0002_more.sql': 'CREATE TABLE more (id BIGINT);' });
    assert.deepEqual((await migratePostgres(pool, fixed, () => T0 + 1)).map((m) => m.version), [2, 3]);
  });

  test('tables in a publication keep what their deletes need: clicks its primary key (0021), rate-limit buckets their WAL (0010)', async () => {
    const all = shipped();
    const hasKey = async () => (await pool.query(`SELECT 1 FROM pg_constraint WHERE conname = 'clicks_pkey'`)).rowCount === 1;
    await migratePostgres(pool, all.filter((m) => m.version < 10), () => T0);
    // Only the publication's existence matters here, not logical decoding (wal_level).
    const name = `pub_${Math.random().toString(36).slice(2, 10)}`;
    await pool.query(`CREATE PUBLICATION ${name} FOR TABLE clicks, rate_limit_buckets`);
    try {
      await migratePostgres(pool, all, () => T0);
      assert.equal(await hasKey(), true);
      const persistence = await pool.query<{ relpersistence: string }>(`SELECT relpersistence FROM pg_class WHERE relname = 'rate_limit_buckets'`);
      assert.equal(persistence.rows[0]!.relpersistence, 'p', 'logged');
      // Its deletes are published, so they must find the rows by a key: they work.
      await pool.query(`INSERT INTO clicks (link_id, workspace_id, clicked_at, bot, qr) VALUES ('l', 'w', 0, 0, 0)`);
      assert.equal((await pool.query('DELETE FROM clicks')).rowCount, 1);
    } finally {
      await pool.query(`DROP PUBLICATION ${name}`);
    }
    // Without a publication, 0021 drops it.
    const other = await createTestDatabase();
    try {
      await migratePostgres(other.pool(), all, () => T0);
      assert.equal((await other.pool().query(`SELECT 1 FROM pg_constraint WHERE conname = 'clicks_pkey'`)).rowCount, 0);
    } finally {
      await other.drop();
    }
  });

  test('three instances starting at once: each migration is applied exactly once and all three succeed', async () => {
    const migrations = fakeMigrations(root, {
      '0001_create_runs.sql': 'CREATE TABLE runs (version BIGINT NOT NULL);\nINSERT INTO runs VALUES (1);',
      // No key would stop a second run of these: a count of 1 means it ran once.
      '0002_run_again.sql': 'INSERT INTO runs VALUES (2);',
      '0003_and_again.sql': 'INSERT INTO runs VALUES (3);',
    });
    // Hold the lock so that all three are surely inside migratePostgres, waiting, before any runs.
    const holder = await pool.connect();
    let runs: Promise<unknown>[] = [];
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
      const instances = [db.pool(), db.pool(), db.pool()];
      runs = instances.map((p, i) => migratePostgres(p, migrations, () => T0 + i));
      let waiting = 0;
      for (let tries = 0; tries < 200 && waiting < 3; tries++) {
        await new Promise((r) => setTimeout(r, 50));
        const locks = await pool.query<{ n: number }>(
          `SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        );
        waiting = locks.rows[0]!.n;
      }
      assert.equal(waiting, 3, 'the three runners wait for the lock');
    } finally {
      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]).catch(() => {});
      holder.release();
    }
    const results = (await Promise.allSettled(runs)) as PromiseSettledResult<Awaited<ReturnType<typeof migratePostgres>>>[];
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled'], 'all three succeed');
    const applied = results.flatMap((r) => (r.status === 'fulfilled' ? r.value.map((m) => m.version) : []));
    assert.deepEqual(applied.sort(), [1, 2, 3], 'between them, each migration was applied once');
    assert.deepEqual((await pool.query('SELECT version FROM runs ORDER BY version')).rows, [{ version: 1 }, { version: 2 }, { version: 3 }]);
    assert.equal((await recorded(pool)).length, 3);
  });
});

describe('PostgreSQL connection', { skip: skipWithoutPostgres }, () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(() => db.drop());

  test('BIGINT reads as a number up to 2^53, and fails loudly beyond', async () => {
    const pool = db.pool();
    const { rows } = await pool.query('SELECT 9007199254740991::bigint AS max, count(*) AS n FROM (VALUES (1), (2)) v');
    assert.deepEqual(rows, [{ max: Number.MAX_SAFE_INTEGER, n: 2 }]);
    await assert.rejects(pool.query('SELECT 9007199254740993::bigint AS big'), /9007199254740993\) is beyond 2\^53/);
  });

  test('a database that does not exist is one sentence naming it, without the password', async () => {
    const url = new URL(db.url);
    url.pathname = '/linkqr_no_such_database';
    url.password = 'sekrit-password';
    const other = openPostgres(url.href);
    try {
      const err = await other.query('SELECT 1').then(() => undefined, (e: unknown) => e);
      // Trust authentication ignores the password; a server that checks it refuses it first.
      const problem = postgresConnectionProblem(err, url.href);
      assert.ok(problem, `a connection problem: ${String(err)}`);
      assert.match(problem.message, /^cannot use the PostgreSQL database at [^ ]+:\d+\/linkqr_no_such_database: (the database does not exist|the password was refused)/);
      assert.ok(!problem.message.includes('sekrit'));
    } finally {
      await other.end();
    }
  });
});

describe('BIGINT parsing', () => {
  test('exact up to 2^53, an error beyond', () => {
    assert.equal(parseBigint('1767225600000'), 1767225600000);
    assert.equal(parseBigint('-9007199254740991'), -9007199254740991);
    assert.throws(() => parseBigint('9007199254740992'), RangeError);
  });

  test('a refused connection is said as such, naming host, port and database only', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const problem = postgresConnectionProblem(err, 'postgres://linkqr:hunter2@127.0.0.1:1/linkqr');
    assert.equal(problem?.message, 'cannot use the PostgreSQL database at 127.0.0.1:1/linkqr: the connection was refused (is PostgreSQL running and listening there?)');
    assert.equal(postgresConnectionProblem(new Error('syntax error'), 'postgres://x@h/d'), undefined);
  });

  test('a server that closes the connection at once (not PostgreSQL, or refusing this client) is said as such', async () => {
    const server = createNetServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `postgres://linkqr:hunter2@127.0.0.1:${(server.address() as AddressInfo).port}/linkqr`;
    const pool = openPostgres(url);
    try {
      const err = await pool.query('SELECT 1').then(() => undefined, (e: unknown) => e);
      assert.match(postgresConnectionProblem(err, url)?.message ?? String(err), /^cannot use the PostgreSQL database at 127\.0\.0\.1:\d+\/linkqr: the server closed the connection/);
    } finally {
      await pool.end();
      server.close();
    }
  });

  test('the other failures node-postgres reports without a code: a silent server, SSL asked of a server without it', () => {
    const url = 'postgres://x@db.example:5432/d';
    assert.match(postgresConnectionProblem(new Error('Connection terminated due to connection timeout'), url)?.message ?? '', /the server did not answer within 10 s/);
    assert.match(postgresConnectionProblem(new Error('The server does not support SSL connections'), url)?.message ?? '', /the URL asks for SSL \(sslmode\) and the server does not offer it/);
  });
});
