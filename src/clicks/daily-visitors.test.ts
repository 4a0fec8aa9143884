import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DB_FILE } from '../db/files.js';
import { fakeClock, sqliteOnly, startTestServer, TEST_BACKEND, tempDataDir, type TestServer } from '../testing/harness.js';
import { createTestDatabase } from '../testing/postgres.js';
import { encodingsOf, findHashedAddress, findLeaks, textKeysIn } from '../testing/leak-scan.js';

/**
 * Visitor hashes (issue 12, item 3): the salt changes every UTC day and is deleted after its day,
 * so daily unique visitors work while no one holding the database or a backup can turn a past
 * day's hashes back into addresses, by trying every IPv4 address or otherwise.
 */

const VISITOR = '203.0.113.77';
const OTHER = '198.51.100.4';
const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const at = (day: number, hour: number, minute = 0) => Date.UTC(2030, 0, day, hour, minute);

/**
 * The database a restarted server finds again: on SQLite the data dir holds it; on PostgreSQL
 * (LINKQR_TEST_BACKEND=postgres) it is made here, since the harness drops a server's own with it.
 * `env` is for every start; drop() after the last.
 */
async function lastingDatabase(): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  if (TEST_BACKEND !== 'postgres') return { env: {}, drop: async () => {} };
  const database = await createTestDatabase();
  return { env: { LINKQR_DATABASE_URL: database.url }, drop: () => database.drop() };
}

test('a visitor keeps one hash through the UTC day, across a restart; the next day brings another, and the salt of the day is gone after it', async (ctx) => {
  const dataDir = tempDataDir();
  const database = await lastingDatabase();
  const clock = fakeClock(at(1, 10));
  let t: TestServer | undefined;
  ctx.after(async () => {
    await t?.close();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const start = async () => (t = await startTestServer({ dataDir, clock, env: { LINKQR_TRUST_PROXY: 'loopback', ...database.env } }));
  /** The hash a click from `ip` gets now. */
  const hashOf = async (server: TestServer, slug: string, ip: string) => {
    const res = await server.request('GET', `/${slug}`, { headers: { 'x-forwarded-for': ip, 'user-agent': BROWSER } });
    assert.equal(res.status, 302);
    await server.flushClicks();
    return (await server.store.db.row<{ ip_hash: string }>('select ip_hash from clicks order by id desc limit 1'))!.ip_hash;
  };

  let server = await start();
  const key = await server.key();
  const link = await server.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/daily' } });
  assert.equal(link.status, 201, link.text);
  const slug = link.json.slug as string;
  const morning = await hashOf(server, slug, VISITOR);
  assert.match(morning, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(await hashOf(server, slug, VISITOR), morning, 'the same visitor, the same hash');
  assert.notEqual(await hashOf(server, slug, OTHER), morning, 'another visitor, another hash');
  await server.close();

  clock.set(at(1, 23, 59));
  server = await start();
  assert.equal(await hashOf(server, slug, VISITOR), morning, 'a restart within the day keeps the visitor');

  clock.set(at(2, 0, 5));
  const nextDay = await hashOf(server, slug, VISITOR);
  assert.notEqual(nextDay, morning, 'a new day, a new salt');

  // Day 1's salt as stored (sealed under the at-rest key): with the key, it would re-identify day 1's visitors.
  const db = server.store.db;
  const daySalts = () => db.rows<{ day: number; salt: string }>('select day, salt from visitor_salts order by day');
  assert.deepEqual((await daySalts()).map((r) => r.day), [at(1, 0), at(2, 0)]);
  const firstDaySalt = (await daySalts())[0]!.salt;

  clock.set(at(2, 1, 30));
  const retention = await server.server.scheduler.run('retention');
  assert.ok(retention.status === 'ok' && retention.result.visitorSalts === 1, JSON.stringify(retention));
  assert.deepEqual((await daySalts()).map((r) => r.day), [at(2, 0)], "day 1's salt is deleted");
  assert.equal(await hashOf(server, slug, VISITOR), nextDay, "today's salt stays");
  // The database's files: SQLite's, in the data dir (PostgreSQL keeps its own out of reach of the test).
  await ctx.test("the database files keep neither day 1's salt nor a key that re-identifies the visitor", { skip: sqliteOnly }, () => {
    const files = [join(dataDir, DB_FILE), join(dataDir, `${DB_FILE}-wal`)];
    assert.deepEqual(
      [...findLeaks(files, encodingsOf("day 1's sealed salt", firstDaySalt)), ...findHashedAddress(files, 'visitor address', VISITOR, textKeysIn(files))],
      [],
      "no key in the files re-identifies the visitor, and day 1's salt is not left in free space or the WAL",
    );
  });
});

test('a start-up after a day is over deletes its salt, even if the retention job never ran', async (ctx) => {
  const dataDir = tempDataDir();
  const database = await lastingDatabase();
  const clock = fakeClock(at(1, 10));
  let t: TestServer | undefined;
  ctx.after(async () => {
    await t?.close();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  t = await startTestServer({ dataDir, clock, env: database.env });
  const key = await t.key();
  const link = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/daily' } });
  assert.equal((await t.request('GET', `/${link.json.slug}`, { headers: { 'user-agent': BROWSER } })).status, 302);
  await t.flushClicks();
  const days = async (server: TestServer) => (await server.store.db.rows<{ day: number }>('select day from visitor_salts')).map((r) => r.day);
  assert.deepEqual(await days(t), [at(1, 0)]);
  await t.close();

  clock.set(at(3, 9));
  t = await startTestServer({ dataDir, clock, env: database.env });
  assert.deepEqual(await days(t), [], 'deleted at start, not sealed again');
});
