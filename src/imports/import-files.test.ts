import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDb } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { migratePostgres } from '../db/migrate-postgres.js';
import { loadMigrations } from '../db/migrations.js';
import { shippedAssets } from '../lib/assets.js';
import { eventually, startTestServer, TEST_OPERATOR, tempDataDir, type TestServer } from '../testing/harness.js';
import { createTestDatabase, skipWithoutPostgres } from '../testing/postgres.js';
import { findWorkspaceByName } from '../workspaces/workspaces.repo.js';
import { DRY_RUN_KEPT_MS, runDryRun } from './imports.service.js';

// An import's file lives in import_files, apart from the import's row that every chunk updates
// (migrations/sqlite/0018_import_files.sql says why), for as long as it did in the row: a real
// import's until it finishes, a finished check's until it is run for real or deleted.

describe("an import's file: written once, kept as long as it is needed", () => {
  let t: TestServer;
  let key: string;
  before(async () => {
    t = await startTestServer();
    key = await t.key();
  });
  after(() => t.close());

  const finished = (id: string) =>
    eventually(async () => {
      const res = await t.request('GET', `/api/v1/imports/${id}`, { key });
      return res.json.status === 'done' || res.json.status === 'failed' ? res.json : undefined;
    });
  const queue = async (body: Record<string, unknown>) => (await t.request('POST', '/api/v1/imports', { key, body })).json.id as string;
  const fileOf = async (id: string) => (await t.store.db.row<{ data: string }>('select data from import_files where import_id = ?', id))?.data;
  const CSV = 'url,slug\nhttps://example.com/kept-file,kept-file\n';

  test("a check keeps its file until it is run for real, once; the real import's goes when it finishes", async () => {
    const check = await finished(await queue({ format: 'csv', data: CSV, dryRun: true }));
    assert.equal(check.status, 'done');
    assert.equal(await fileOf(check.id), CSV);
    const workspaceId = (await findWorkspaceByName(t.store.db, 'Acme'))!.id;
    const real = await runDryRun(t.server.deps, workspaceId, TEST_OPERATOR, check.id);
    assert.equal(await fileOf(check.id), undefined, 'taken from the check');
    await assert.rejects(runDryRun(t.server.deps, workspaceId, TEST_OPERATOR, check.id), { code: 'import_not_runnable' });
    const imported = await finished(real.id);
    assert.deepEqual({ status: imported.status, created: imported.created }, { status: 'done', created: 1 });
    assert.equal(await fileOf(real.id), undefined);
  });

  test('a failed import, checked or real, keeps no file', async () => {
    for (const dryRun of [true, false]) {
      const failed = await finished(await queue({ format: 'shlink', data: 'not json', dryRun }));
      assert.equal(failed.status, 'failed');
      assert.equal(await fileOf(failed.id), undefined, `dryRun ${dryRun}`);
    }
  });

  test('a check keeps its file 24 hours: later it is not run, and the retention job deletes the file but keeps the check', async () => {
    const check = await finished(await queue({ format: 'csv', data: CSV, dryRun: true }));
    const workspaceId = (await findWorkspaceByName(t.store.db, 'Acme'))!.id;
    await t.store.db.exec('update imports set finished_at = ? where id = ?', Date.now() - DRY_RUN_KEPT_MS - 60_000, check.id);
    await assert.rejects(runDryRun(t.server.deps, workspaceId, TEST_OPERATOR, check.id), { code: 'import_not_runnable' });
    assert.equal(await fileOf(check.id), CSV, 'refused before the retention job ran');
    const run = await t.server.scheduler.run('retention');
    assert.equal(run.status, 'ok');
    assert.equal(await fileOf(check.id), undefined);
    assert.equal((await t.request('GET', `/api/v1/imports/${check.id}`, { key })).json.status, 'done', 'the check and its report stay');
  });

  test('a check within its 24 hours keeps its file through the retention job', async () => {
    const check = await finished(await queue({ format: 'csv', data: CSV, dryRun: true }));
    await t.store.db.exec('update imports set finished_at = ? where id = ?', Date.now() - DRY_RUN_KEPT_MS + 60_000, check.id);
    assert.equal((await t.server.scheduler.run('retention')).status, 'ok');
    assert.equal(await fileOf(check.id), CSV);
  });

  test('a check deleted by the retention job (30 days after it finished) takes its file with it', async () => {
    const check = await finished(await queue({ format: 'csv', data: CSV, dryRun: true }));
    assert.equal(await fileOf(check.id), CSV);
    await t.store.db.exec('update imports set finished_at = ? where id = ?', Date.now() - 31 * 86_400_000, check.id);
    const run = await t.server.scheduler.run('retention');
    assert.equal(run.status, 'ok');
    assert.equal(await fileOf(check.id), undefined);
  });
});

describe('0018_import_files: the files of existing imports move to import_files', () => {
  const T0 = Date.UTC(2030, 0, 1);
  const setup = [
    `INSERT INTO workspaces (id, name, plan_id, created_at, updated_at) VALUES ('ws_1', 'Acme', 'pln_default', 0, 0)`,
    `INSERT INTO imports (id, workspace_id, format, dry_run, status, data, created_at, updated_at) VALUES ('imp_check', 'ws_1', 'csv', 1, 'done', 'url\nhttps://example.com/a\n', 1, 1)`,
    `INSERT INTO imports (id, workspace_id, format, dry_run, status, data, created_at, updated_at) VALUES ('imp_done', 'ws_1', 'csv', 0, 'done', NULL, 1, 1)`,
  ];
  const expected = [{ import_id: 'imp_check', data: 'url\nhttps://example.com/a\n' }];
  const files = 'SELECT import_id, data FROM import_files ORDER BY import_id';

  test('SQLite', async () => {
    const dir = tempDataDir();
    const db = openDb(join(dir, 'files.db'));
    try {
      const migrations = loadMigrations(shippedAssets(), 'sqlite');
      migrate(db, migrations.slice(0, 17), T0);
      for (const statement of setup) db.sqlite.exec(statement);
      migrate(db, migrations, T0);
      assert.deepEqual(db.sqlite.prepare(files).all(), expected);
      assert.ok(!(db.sqlite.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('imports') as string[]).includes('data'));
      db.sqlite.exec(`DELETE FROM imports WHERE id = 'imp_check'`);
      assert.deepEqual(db.sqlite.prepare(files).all(), [], 'deleting an import deletes its file');
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('PostgreSQL', { skip: skipWithoutPostgres }, async () => {
    const database = await createTestDatabase();
    try {
      const pool = database.pool();
      const migrations = loadMigrations(shippedAssets(), 'postgres');
      await migratePostgres(pool, migrations.slice(0, 17), () => T0);
      for (const statement of setup) await pool.query(statement);
      await migratePostgres(pool, migrations, () => T0);
      assert.deepEqual((await pool.query(files)).rows, expected);
      assert.equal((await pool.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'imports' AND column_name = 'data'`)).rowCount, 0);
      await pool.query(`DELETE FROM imports WHERE id = 'imp_check'`);
      assert.deepEqual((await pool.query(files)).rows, [], 'deleting an import deletes its file');
    } finally {
      await database.drop();
    }
  });
});
