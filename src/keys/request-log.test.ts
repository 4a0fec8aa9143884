import assert from 'node:assert/strict';
import type { Selectable } from 'kysely';
import type { Queries } from '../db/db.js';
import type { ApiRequestLogRow } from '../db/schema.js';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { openStore, type Store } from '../store.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../lib/logger.js';
import { eventually, fakeClock, startTestServer, TEST_BACKEND, tempDataDir, type TestServer } from '../testing/harness.js';
import { createTestDatabase, type TestDatabase } from '../testing/postgres.js';
import { revokeKey } from './keys.service.js';
import { type ApiRequestEntry, ApiRequestRecorder, listKeyRequests, MAX_LOGGED_PATH, summariseKeyRequests } from './request-log.js';

const DAY = 86_400_000;
const keyIdOf = (key: string) => key.slice(4, 16);

type LogRow = Omit<Selectable<ApiRequestLogRow>, 'id'>;

/**
 * A database this test makes on PostgreSQL (LINKQR_TEST_BACKEND=postgres), to outlive a test
 * server (the harness drops a server's own with it); on SQLite the data dir holds the database.
 */
const testDatabase = async () => (TEST_BACKEND === 'postgres' ? await createTestDatabase() : undefined);
/** The settings that open `database` (none: SQLite in the data dir). */
const backendEnv = (database: TestDatabase | undefined): Record<string, string> =>
  database ? { LINKQR_DATABASE_URL: database.url, LINKQR_SECRET: 'linkqr-test-secret-not-for-production' } : {};

describe('API request log, through a running server', () => {
  const clock = fakeClock(Date.UTC(2030, 0, 1, 9));
  let t: TestServer;
  let key: string;
  const rowsOf = async (keyId: string) => {
    await t.server.deps.apiRequests.flush();
    return t.store.db.rows<LogRow>('select * from api_request_log where key_id = ? order by id', keyId);
  };

  before(async () => {
    // Trusting the loopback proxy lets each request play another client through X-Forwarded-For.
    t = await startTestServer({ clock, env: { LINKQR_TRUST_PROXY: 'loopback' } });
    key = await t.key({ workspace: 'Acme', scopes: ['links:read', 'links:write'] });
  });
  after(() => t?.close());

  test('each answered request is logged with time, method, path, status, duration, client address and request id', async () => {
    const id = keyIdOf(key);
    const asClient = (ip: string, requestId: string) => ({ 'x-forwarded-for': ip, 'x-request-id': requestId });
    const calls: { method: string; path: string; ip: string; status: number; body?: unknown }[] = [
      { method: 'GET', path: '/api/v1/me', ip: '203.0.113.7', status: 200 },
      { method: 'GET', path: '/api/v1/links?q=secret-search&limit=5', ip: '2001:db8::42', status: 200 },
      { method: 'POST', path: '/api/v1/links', ip: '198.51.100.1', status: 400, body: { url: 'not a url' } },
      { method: 'GET', path: '/api/v1/links/lnk_nope/stats', ip: '198.51.100.1', status: 403 },
      { method: 'DELETE', path: '/api/v1/nowhere', ip: '198.51.100.1', status: 404 },
    ];
    for (const [i, c] of calls.entries()) {
      clock.advance(1_000);
      const res = await t.request(c.method, c.path, { key, body: c.body, headers: asClient(c.ip, `req-${i}`) });
      assert.equal(res.status, c.status, `${c.method} ${c.path}: ${res.text}`);
    }
    const rows = await rowsOf(id);
    assert.equal(rows.length, calls.length);
    const workspaceId = (await t.store.db.row<{ workspace_id: string }>('select workspace_id from api_keys where id = ?', id))!.workspace_id;
    for (const [i, c] of calls.entries()) {
      const row = rows[i]!;
      assert.deepEqual(
        { method: row.method, path: row.path, status: row.status, ip: row.ip, request_id: row.request_id, workspace_id: row.workspace_id },
        { method: c.method, path: c.path.split('?')[0], status: c.status, ip: c.ip, request_id: `req-${i}`, workspace_id: workspaceId },
      );
      assert.equal(row.at, Date.UTC(2030, 0, 1, 9) + (i + 1) * 1_000, 'the time the request came in (the server clock)');
      assert.ok(Number.isInteger(row.duration_ms) && row.duration_ms >= 0 && row.duration_ms < 5_000, `duration ${row.duration_ms}`);
    }
    const stored = JSON.stringify(rows);
    for (const secret of ['secret-search', 'limit=5', 'not a url', key, key.slice(17, 49)]) {
      assert.ok(!stored.includes(secret), `the log keeps ${secret}`);
    }
  });

  test('requests without a valid key are not in any key log; a revoked key logs nothing more', async () => {
    const other = await t.key({ workspace: 'Acme', name: 'soon revoked' });
    const id = keyIdOf(other);
    assert.equal((await t.request('GET', '/api/v1/me', { key: other })).status, 200);
    const tampered = `${other.slice(0, 17)}${other[17] === 'a' ? 'b' : 'a'}${other.slice(18)}`;
    assert.equal((await t.request('GET', '/api/v1/me', { key: tampered })).status, 401);
    await revokeKey(t.store, { actor: { type: 'operator', id: 'cli:test' }, ip: null }, id);
    assert.equal((await t.request('GET', '/api/v1/me', { key: other })).status, 401);
    assert.deepEqual((await rowsOf(id)).map((r) => r.status), [200]);
  });

  test('a long path is cut, and the log reads newest first, a page at a time', async () => {
    const fresh = await t.key({ workspace: 'Acme', name: 'paged' });
    const id = keyIdOf(fresh);
    const long = `/api/v1/links/${'x'.repeat(600)}`;
    assert.equal((await t.request('GET', long, { key: fresh })).status, 404);
    for (let i = 0; i < 4; i++) {
      clock.advance(1_000);
      await t.request('GET', `/api/v1/links?page=${i}`, { key: fresh });
    }
    await t.server.deps.apiRequests.flush();
    const first = await listKeyRequests(t.store.db, id, { limit: 3 });
    assert.deepEqual(first.data.map((r) => r.path), ['/api/v1/links', '/api/v1/links', '/api/v1/links']);
    assert.deepEqual(first.data.map((r) => r.at), [0, 1, 2].map((ago) => new Date(clock.now() - ago * 1_000).toISOString()), 'newest first');
    assert.ok(first.nextBefore !== null);
    const second = await listKeyRequests(t.store.db, id, { limit: 3, before: first.nextBefore });
    assert.equal(second.data.length, 2);
    assert.equal(second.nextBefore, null);
    assert.equal(second.data[1]!.path, long.slice(0, MAX_LOGGED_PATH));
    assert.equal(second.data[1]!.status, 404);
  });

  test('the summary counts the last day and lists the addresses a key was used from', async () => {
    const fresh = await t.key({ workspace: 'Acme', name: 'summarised' });
    const id = keyIdOf(fresh);
    await t.request('GET', '/api/v1/me', { key: fresh, headers: { 'x-forwarded-for': '192.0.2.1' } });
    clock.advance(2 * DAY);
    for (const ip of ['192.0.2.2', '192.0.2.2', '2001:db8::9']) {
      clock.advance(1_000);
      await t.request('GET', '/api/v1/me', { key: fresh, headers: { 'x-forwarded-for': ip } });
    }
    await t.server.deps.apiRequests.flush();
    const summary = await summariseKeyRequests(t.store.db, id, clock.now());
    assert.equal(summary.lastDay, 3);
    assert.equal(summary.total, 4);
    assert.deepEqual(
      summary.addresses.map((a) => [a.ip, a.requests]),
      [
        ['2001:db8::9', 1],
        ['192.0.2.2', 2],
        ['192.0.2.1', 1],
      ],
    );
    assert.equal(summary.addresses[0]!.lastAt, new Date(clock.now()).toISOString());
  });

  test('the retention job deletes entries older than 30 days and keeps the rest', async () => {
    const fresh = await t.key({ workspace: 'Acme', name: 'retained' });
    const id = keyIdOf(fresh);
    for (const age of [31 * DAY, 30 * DAY + 1, 30 * DAY - 60_000, DAY]) {
      clock.set(Date.UTC(2030, 3, 1) - age);
      await t.request('GET', '/api/v1/me', { key: fresh });
    }
    clock.set(Date.UTC(2030, 3, 1));
    await t.server.deps.apiRequests.flush();
    const countAll = async () => (await t.store.db.row<{ n: number }>('select count(*) as n from api_request_log'))!.n;
    const everything = await countAll();
    const outcome = await t.server.scheduler.run('retention');
    assert.equal(outcome.status, 'ok');
    const gone = outcome.status === 'ok' ? (outcome.result.apiRequests as number) : -1;
    assert.ok(gone >= 2, `deleted ${gone}`);
    assert.deepEqual(
      (await rowsOf(id)).map((r) => (clock.now() - r.at) / 60_000),
      [30 * 24 * 60 - 1, 24 * 60],
      'the entries 31 days and 30 days + 1 ms old are gone',
    );
    const left = await countAll();
    assert.equal(left, everything - gone);
    const oldest = (await t.store.db.row<{ oldest: number }>('select min(at) as oldest from api_request_log'))!.oldest;
    assert.ok(oldest >= clock.now() - 30 * DAY, 'nothing older than 30 days is left, of any key');
  });
});

describe('ApiRequestRecorder', () => {
  let store: Store;
  let dataDir: string;
  let database: TestDatabase | undefined;
  const logs: string[] = [];
  let n = 0;
  const entry = (keyId: string, over: Partial<ApiRequestEntry> = {}): ApiRequestEntry => ({
    keyId,
    workspaceId: 'wsp_test',
    at: Date.UTC(2030, 0, 1) + n++,
    method: 'GET',
    path: '/api/v1/links',
    status: 200,
    durationMs: 1.6,
    ip: '192.0.2.1',
    requestId: null,
    ...over,
  });
  /** The entries of a key in the log (through `db`: the database, or a transaction's handle). */
  const count = async (keyId: string, db: Queries = store.db) =>
    (await db.row<{ n: number }>('select count(*) as n from api_request_log where key_id = ?', keyId))!.n;

  before(async () => {
    dataDir = tempDataDir();
    database = await testDatabase();
    const log = createLogger('info', { write: (line: string) => void logs.push(line) });
    store = await openStore(loadConfig({ LINKQR_DATA_DIR: dataDir, ...backendEnv(database) }), { log, clock: fakeClock() });
  });
  after(async () => {
    await store.db.close();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('entries wait in memory until the delay, and are written in one batch', async () => {
    const recorder = new ApiRequestRecorder({ db: store.db, log: store.log }, { flushDelayMs: 30 });
    for (let i = 0; i < 5; i++) recorder.record(entry('waits'));
    assert.equal(await count('waits'), 0, 'nothing written on the request path');
    assert.equal(recorder.depth, 5);
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(await count('waits'), 5);
    assert.equal(recorder.depth, 0);
    const row = await store.db.row<{ duration_ms: number }>("select duration_ms from api_request_log where key_id = 'waits' limit 1");
    assert.equal(row?.duration_ms, 2, 'whole milliseconds');
  });

  test('a full batch is written on the next turn, without waiting for the delay', async () => {
    const recorder = new ApiRequestRecorder({ db: store.db, log: store.log }, { flushDelayMs: 60_000, maxBatch: 10 });
    for (let i = 0; i < 10; i++) recorder.record(entry('batched'));
    assert.equal(await count('batched'), 0);
    await new Promise((r) => setImmediate(r));
    // On SQLite the batch is written by now; over PostgreSQL's round trips it may still be on its way.
    assert.equal(recorder.depth, 0, 'the batch was taken on the next turn');
    assert.equal(await recorder.flush(), 0, 'that batch wrote every entry: a flush finds none left');
    assert.equal(await count('batched'), 10);
  });

  test('a full buffer drops new entries and says how many at the next write', async () => {
    const recorder = new ApiRequestRecorder({ db: store.db, log: store.log }, { flushDelayMs: 60_000, maxBatch: 1_000, maxBuffered: 3 });
    for (let i = 0; i < 7; i++) recorder.record(entry('bounded'));
    assert.equal(recorder.depth, 3);
    assert.equal(await recorder.flush(), 3);
    assert.equal(await count('bounded'), 3);
    const warning = logs.map((l) => JSON.parse(l)).find((l) => l.dropped !== undefined);
    assert.equal(warning?.dropped, 4);
    assert.equal(warning?.level, 40);
  });

  test("each key keeps about its allowance: the oldest go, other keys' entries stay", async () => {
    const recorder = new ApiRequestRecorder({ db: store.db, log: store.log }, { flushDelayMs: 60_000, maxBatch: 1_000_000, keepPerKey: 100 });
    for (let i = 0; i < 50; i++) recorder.record(entry('quiet'));
    for (let i = 0; i < 1_000; i++) recorder.record(entry('busy', { path: `/api/v1/links/${i}` }));
    await recorder.flush();
    assert.equal(await count('busy'), 100);
    assert.equal(await count('quiet'), 50);
    const kept = (await store.db.rows<{ path: string }>("select path from api_request_log where key_id = 'busy' order by id")).map((r) => r.path);
    assert.equal(kept[0], '/api/v1/links/900', 'the newest are kept');
    // Between trims a key grows by at most a tenth of its allowance.
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 7; i++) recorder.record(entry('busy'));
      await recorder.flush();
      const busy = await count('busy');
      assert.ok(busy <= 110, `${busy} kept`);
    }
  });

  test('a flush waits for the batch already being written, so a stop writes everything before the database closes', async () => {
    const recorder = new ApiRequestRecorder({ db: store.db, log: store.log }, { flushDelayMs: 60_000 });
    // Another transaction holds the database: the first batch waits behind it. (PostgreSQL runs
    // transactions side by side: there the holder locks the table the batch writes.) What it sees
    // is read through its handle: on SQLite, a statement from outside would wait for it too.
    let release!: () => void;
    let holder!: (t: Queries) => void;
    const holds = new Promise<Queries>((resolve) => (holder = resolve));
    const held = store.db.tx(async (t) => {
      if (t.dialect === 'postgres') await t.exec('lock table api_request_log in exclusive mode');
      holder(t);
      await new Promise<void>((resolve) => (release = resolve));
    });
    const holding = await holds;
    for (let i = 0; i < 4; i++) recorder.record(entry('in flight'));
    const first = recorder.flush();
    let secondDone = false;
    const second = recorder.flush().then((n) => {
      secondDone = true;
      return n;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(secondDone, false, 'a flush with nothing of its own to write still waits for the batch under way');
    assert.equal(await count('in flight', holding), 0);
    release();
    await held;
    assert.equal(await second, 0);
    assert.equal(await count('in flight'), 4, 'the earlier batch was written when the later flush finished');
    assert.equal(await first, 4);
  });

  test('the server writes what is buffered when it stops', async () => {
    const dir = tempDataDir();
    const lasting = await testDatabase();
    try {
      // A delay longer than the test: only the stop can write these entries.
      const server = await startTestServer({ dataDir: dir, apiRequests: { flushDelayMs: 10 * 60_000 }, env: backendEnv(lasting) });
      const key = await server.key();
      for (let i = 0; i < 3; i++) assert.equal((await server.request('GET', '/api/v1/me', { key })).status, 200);
      // Recorded as each response finishes (the client may have its answer a moment before).
      await eventually(() => server.server.deps.apiRequests.depth === 3);
      await server.close();
      const reopened = await openStore(loadConfig({ LINKQR_DATA_DIR: dir, LINKQR_LOG_LEVEL: 'silent', ...backendEnv(lasting) }));
      try {
        assert.equal(await count(keyIdOf(key), reopened.db), 3);
      } finally {
        await reopened.db.close();
      }
    } finally {
      await lasting?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
