import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../testing/harness.js';

describe('health endpoints', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  test('/healthz answers 200 {status: "ok"} without authentication', async () => {
    const res = await t.request('GET', '/healthz');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(res.json, { status: 'ok' });
    assert.equal((await t.request('HEAD', '/healthz')).status, 200);
  });

  test('/readyz answers 200 when the database is reachable and fully migrated', async () => {
    const res = await t.request('GET', '/readyz');
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.json.status, 'ready');
  });

  test('/readyz answers 503 while a migration is missing, and 200 again once it is back', async () => {
    const db = t.store.db;
    const latest = (await db.row<Record<string, unknown>>('select * from schema_migrations order by version desc limit 1'))!;
    await db.exec('delete from schema_migrations where version = ?', latest.version);
    try {
      const res = await t.request('GET', '/readyz');
      assert.equal(res.status, 503, res.text);
      assert.equal(res.json.status, 'not_ready');
      assert.equal((await t.request('GET', '/healthz')).status, 200, 'the process is still up');
    } finally {
      const columns = Object.keys(latest);
      await db.exec(`insert into schema_migrations (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')})`, ...Object.values(latest));
    }
    assert.equal((await t.request('GET', '/readyz')).status, 200);
  });

  test('/readyz answers 503 when the migrations table cannot be read', async () => {
    const db = t.store.db;
    await db.exec('alter table schema_migrations rename to schema_migrations_away');
    try {
      const res = await t.request('GET', '/readyz');
      assert.equal(res.status, 503, res.text);
      assert.equal(res.json.status, 'not_ready');
    } finally {
      await db.exec('alter table schema_migrations_away rename to schema_migrations');
    }
    assert.equal((await t.request('GET', '/readyz')).status, 200);
  });
});
