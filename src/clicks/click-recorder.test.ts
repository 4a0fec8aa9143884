import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { afterEach, describe, test } from 'node:test';
import { openStore, type Store } from '../store.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../lib/logger.js';
import { manualTimers } from '../lib/timers.js';
import { createLink } from '../links/links.service.js';
import { loadAtRestKeys } from '../secrets/at-rest-key.js';
import { SecretBox } from '../secrets/secret-box.js';
import type { Db } from '../db/db.js';
import { eventually, fakeClock, sqliteOnly, TEST_BACKEND, tempDataDir, TEST_OPERATOR } from '../testing/harness.js';
import { createTestDatabase } from '../testing/postgres.js';
import { createWorkspace } from '../workspaces/workspaces.service.js';
import { type ClickInput, ClickRecorder, type ClickRecorderOptions } from './click-recorder.js';
import { SALT_GRACE_MS, VisitorSalts } from './visitor-salts.js';
import { refuseWrites } from '../testing/refuse-writes.js';
import { applyRollups, writeClickBatch, type ClickRecord } from './clicks.repo.js';
import { RollupSums } from './pending-rollups.js';
import { APPLY_EVERY_MS, ROWS_PER_APPLY } from './rollup-applier.js';

interface Fixture {
  store: Store;
  clock: ReturnType<typeof fakeClock>;
  logs: string[];
  linkA: string;
  linkB: string;
  workspaceId: string;
  visitorSalts: VisitorSalts;
  /** A recorder over the fixture's database, closed after the test; `hooks` are its batch callbacks. */
  recorder(options?: ClickRecorderOptions, hooks?: RecorderHooks): ClickRecorder;
  rowCount(): Promise<number>;
  counters(linkId: string): Promise<{ clicks: number; total_clicks: number; last_clicked_at: number | null }>;
}

/** Takes the clicks table away, so that writes to it fail (they are not a disk problem: the recorder retries them). */
const takeClicksAway = (db: Db) => db.exec('alter table clicks rename to clicks_away');
const bringClicksBack = (db: Db) => db.exec('alter table clicks_away rename to clicks');

/** Undoes what a failed test may have left broken. */
async function repair(db: Db): Promise<void> {
  const away =
    db.dialect === 'sqlite'
      ? await db.row(`select 1 from sqlite_master where name = 'clicks_away'`)
      : (await db.row<{ t: string | null }>(`select to_regclass('clicks_away')::text as t`))?.t;
  if (away) await bringClicksBack(db);
  if (db.dialect === 'sqlite') {
    await db.exec('drop trigger if exists refuse_counters');
  } else {
    await db.exec('drop trigger if exists refuse_counters on links');
    await db.exec('drop function if exists refuse_counters()');
  }
}

/** The callbacks a recorder calls around its batches. */
type RecorderHooks = Partial<Pick<ConstructorParameters<typeof ClickRecorder>[0], 'onFlush' | 'inBatch' | 'countryOf' | 'keepUserAgent'>>;

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A migrated temp database with one workspace and two links, and recorders over it. */
async function fixture(): Promise<Fixture> {
  const dataDir = tempDataDir();
  const logs: string[] = [];
  const clock = fakeClock();
  const log = createLogger('info', { write: (line: string) => void logs.push(line) });
  // On PostgreSQL (LINKQR_TEST_BACKEND=postgres), a database of its own, dropped after the test.
  const database = TEST_BACKEND === 'postgres' ? await createTestDatabase() : undefined;
  const backend = database ? { LINKQR_DATABASE_URL: database.url, LINKQR_SECRET: 'linkqr-test-secret-not-for-production' } : {};
  const config = loadConfig({ LINKQR_DATA_DIR: dataDir, ...backend });
  const store = await openStore(config, { clock, log, applyPending: true });
  const visitorSalts = new VisitorSalts({ db: store.db, secretBox: new SecretBox(loadAtRestKeys(config)), clock, log });
  const recorders: ClickRecorder[] = [];
  cleanups.push(async () => {
    // Undo what a failed test may have left broken, so the final flush succeeds and no retry timer outlives the test.
    await repair(store.db);
    for (const r of recorders) await r.close();
    await store.db.close();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const ws = await createWorkspace(store, TEST_OPERATOR, 'Acme');
  const linkDeps = { db: store.db, clock, baseUrl: () => 'http://127.0.0.1', linkChanged: () => {}, outboxChanged: () => {} };
  const linkA = (await createLink(linkDeps, ws.id, TEST_OPERATOR, { url: 'https://example.com/a' })).id;
  const linkB = (await createLink(linkDeps, ws.id, TEST_OPERATOR, { url: 'https://example.com/b' })).id;
  return {
    store,
    clock,
    logs,
    linkA,
    linkB,
    workspaceId: ws.id,
    visitorSalts,
    recorder(options, hooks) {
      const recorder = new ClickRecorder({ db: store.db, log, visitorSalts, keepUserAgent: () => true, countryOf: () => null, ...hooks }, options);
      recorders.push(recorder);
      return recorder;
    },
    rowCount: async () => (await store.db.row<{ n: number }>('select count(*) as n from clicks'))!.n,
    counters: async (linkId) =>
      (await store.db.row<{ clicks: number; total_clicks: number; last_clicked_at: number | null }>(
        'select clicks, total_clicks, last_clicked_at from links where id = ?',
        linkId,
      ))!,
  };
}

const T0 = Date.UTC(2030, 0, 1);

function click(f: Fixture, linkId: string, overrides: Partial<ClickInput> = {}): ClickInput {
  return {
    linkId,
    workspaceId: f.workspaceId,
    at: T0,
    bot: false,
    qr: false,
    referrer: undefined,
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
    ip: '198.51.100.7',
    ...overrides,
  };
}

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('ClickRecorder', () => {
  test('buffers clicks and writes a large batch in one flush, with the links counters', async () => {
    const f = await fixture();
    const recorder = f.recorder({ flushDelayMs: 60_000 });
    for (let i = 0; i < 1_000; i++) recorder.record(click(f, f.linkA, { at: T0 + i }));
    for (let i = 0; i < 300; i++) recorder.record(click(f, f.linkA, { bot: true, at: T0 + 5_000 + i }));
    for (let i = 0; i < 200; i++) recorder.record(click(f, f.linkB, { at: T0 + i, qr: i % 2 === 0 }));

    assert.equal(recorder.depth, 1_500);
    assert.equal(recorder.pendingHumanClicks(f.linkA), 1_000, 'bot clicks are not pending human clicks');
    assert.equal(recorder.pendingHumanClicks(f.linkB), 200);
    assert.equal(await f.rowCount(), 0, 'nothing is written before the flush');

    assert.equal(await recorder.flush(), 1_500);

    assert.equal(await f.rowCount(), 1_500);
    assert.equal(recorder.depth, 0);
    assert.equal(recorder.pendingHumanClicks(f.linkA), 0);
    assert.equal(recorder.pendingHumanClicks(f.linkB), 0);
    assert.deepEqual(await f.counters(f.linkA), { clicks: 1_000, total_clicks: 1_300, last_clicked_at: T0 + 999 }, 'lastClickedAt follows human clicks');
    assert.deepEqual(await f.counters(f.linkB), { clicks: 200, total_clicks: 200, last_clicked_at: T0 + 199 });
    const qr = (await f.store.db.row<{ n: number }>('select count(*) as n from clicks where link_id = ? and qr = 1', f.linkB))!;
    assert.equal(qr.n, 100);
    assert.equal(await recorder.flush(), 0, 'a second flush has nothing to write');
  });

  test('text reaches the database as it was: quotes, backslashes, braces, commas, non-ASCII, NULL-like words', async () => {
    // PostgreSQL gets a batch's rows as one JSON parameter (src/db/dialect-sql.ts, pgJsonRows).
    const f = await fixture();
    const recorder = f.recorder({ flushDelayMs: 60_000 });
    const referrers = [
      'https://a.example/"quoted"?q=\\back\\slash',
      'https://b.example/{braces},[brackets],commas',
      'https://c.example/null',
      'https://xn--bcher-kva.example/bücher/日本/😀',
      'https://d.example/\u0041 stays six characters',
    ];
    const agents = ['NULL', '"', '\\', 'Agent/1.0 (ünïcødé; "x"; {y})'];
    referrers.forEach((referrer, i) => recorder.record(click(f, f.linkA, { at: T0 + i, referrer, userAgent: agents[i % agents.length] })));
    await recorder.flush();
    const rows = await f.store.db.rows<{ referrer: string; user_agent: string }>('select referrer, user_agent from clicks order by clicked_at');
    assert.deepEqual(
      rows.map((r) => r.referrer),
      referrers,
    );
    assert.deepEqual(
      rows.map((r) => r.user_agent),
      referrers.map((_, i) => agents[i % agents.length]),
    );
  });

  test('every column of every click lands in its own row, in batches that span several multi-row inserts', async () => {
    // SQLite writes 64 clicks a statement and the rest one by one: 130 clicks take both forms.
    const f = await fixture();
    const recorder = f.recorder({ flushDelayMs: 60_000 });
    const agents = ['Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1', 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0'];
    const clicks = Array.from({ length: 130 }, (_, i) =>
      click(f, i % 3 === 0 ? f.linkB : f.linkA, {
        at: T0 + i,
        bot: i % 5 === 0,
        qr: i % 2 === 0,
        referrer: i % 4 === 0 ? undefined : `https://r${i}.example/page`,
        userAgent: agents[i % 2],
        ip: `198.51.100.${i}`,
      }),
    );
    for (const c of clicks) recorder.record(c);
    assert.equal(await recorder.flush(), 130);
    const rows = await f.store.db.rows<Record<string, unknown>>(
      'select link_id, workspace_id, clicked_at, bot, qr, referrer, referrer_host, user_agent, device, browser, os, ip_hash from clicks order by clicked_at',
    );
    assert.equal(rows.length, 130);
    const hashes = new Set<unknown>();
    rows.forEach((row, i) => {
      const c = clicks[i]!;
      const { ip_hash, ...rest } = row;
      hashes.add(ip_hash);
      assert.match(String(ip_hash), /^[\w-]{22}$/);
      assert.deepEqual(
        { ...rest, clicked_at: Number(rest.clicked_at), bot: Number(rest.bot), qr: Number(rest.qr) },
        {
          link_id: c.linkId,
          workspace_id: f.workspaceId,
          clicked_at: c.at,
          bot: c.bot ? 1 : 0,
          qr: c.qr ? 1 : 0,
          referrer: c.referrer ?? null,
          referrer_host: c.referrer ? `r${i}.example` : null,
          user_agent: c.userAgent,
          device: c.bot ? 'bot' : i % 2 === 0 ? 'mobile' : 'desktop',
          browser: i % 2 === 0 ? 'Safari' : 'Firefox',
          os: i % 2 === 0 ? 'iOS' : 'Linux',
        },
        `click ${i}`,
      );
    });
    assert.equal(hashes.size, 130, 'each address its own visitor hash');
  });

  test('the batch timer writes everything after flushDelayMs without an explicit flush', async () => {
    const f = await fixture();
    const timers = manualTimers();
    const recorder = f.recorder({ flushDelayMs: 150, timers });
    for (let i = 0; i < 500; i++) recorder.record(click(f, f.linkA));
    await nextTick();
    assert.equal(await f.rowCount(), 0, 'still buffered right after recording');

    timers.advance(149);
    await recorder.whenIdle();
    assert.equal(await f.rowCount(), 0, 'not before the delay');
    timers.advance(1);
    await recorder.whenIdle();
    assert.equal(await f.rowCount(), 500, 'the whole batch lands at once');
    assert.equal((await f.counters(f.linkA)).clicks, 500);
    assert.equal(recorder.depth, 0);
  });

  test('a full batch (maxBatch) is written at once instead of waiting for the delay', async () => {
    const f = await fixture();
    const recorder = f.recorder({ flushDelayMs: 60_000, maxBatch: 100 });
    for (let i = 0; i < 99; i++) recorder.record(click(f, f.linkA));
    await nextTick();
    await nextTick();
    assert.equal(await f.rowCount(), 0, '99 clicks wait for the (long) delay');
    assert.equal(recorder.depth, 99);

    recorder.record(click(f, f.linkA));
    await nextTick();
    await recorder.whenIdle();
    assert.equal(await f.rowCount(), 100);
    assert.equal(recorder.depth, 0);
    assert.equal(recorder.pendingHumanClicks(f.linkA), 0);
  });

  test('a failed write keeps the clicks buffered and pending, and the retry writes them once it is fixed', async () => {
    const f = await fixture();
    const recorder = f.recorder({ flushDelayMs: 60_000 });
    // A first batch succeeds, so the insert statement is already prepared when the table disappears.
    recorder.record(click(f, f.linkA));
    assert.equal(await recorder.flush(), 1);

    await takeClicksAway(f.store.db);
    for (let i = 0; i < 30; i++) recorder.record(click(f, f.linkA, { at: T0 + 10 + i }));
    for (let i = 0; i < 20; i++) recorder.record(click(f, f.linkB, { bot: true }));

    assert.equal(await recorder.flush(), 0, 'nothing written');
    assert.equal(recorder.depth, 50, 'nothing dropped');
    assert.equal(recorder.pendingHumanClicks(f.linkA), 30, 'still counted against maxClicks');
    assert.deepEqual(await f.counters(f.linkA), { clicks: 1, total_clicks: 1, last_clicked_at: T0 }, 'counters untouched');
    assert.ok(f.logs.some((l) => l.includes('click batch write failed')), 'the failure is logged');

    // Clicks keep arriving during the outage.
    recorder.record(click(f, f.linkA, { at: T0 + 100 }));
    await bringClicksBack(f.store.db);

    // No explicit flush: the recorder retries by itself.
    await eventually(() => recorder.depth === 0);
    assert.equal(await f.rowCount(), 52);
    assert.equal(recorder.pendingHumanClicks(f.linkA), 0);
    assert.deepEqual(await f.counters(f.linkA), { clicks: 32, total_clicks: 32, last_clicked_at: T0 + 100 });
    assert.deepEqual(await f.counters(f.linkB), { clicks: 0, total_clicks: 20, last_clicked_at: null }, 'lastClickedAt follows human clicks');
  });

  test('after an outage the backlog is written in transactions of at most ten batches, oldest first, each click once', async () => {
    const f = await fixture();
    const recorder = f.recorder({ flushDelayMs: 60_000, maxBatch: 10 });
    recorder.record(click(f, f.linkA));
    assert.equal(await recorder.flush(), 1);
    await takeClicksAway(f.store.db);
    for (let i = 0; i < 350; i++) recorder.record(click(f, f.linkA, { at: T0 + 10 + i }));
    assert.equal(await recorder.flush(), 0, 'nothing written');
    assert.equal(recorder.depth, 350);
    // A click whose redirect waits for its write, behind the backlog: it goes in the first write,
    // which fails, and its redirect gets the error (not a wait for the whole backlog, nor a retry loop).
    const answered = new Promise<unknown>((resolve) => recorder.recordDurably(click(f, f.linkB, { at: T0 + 999 }), resolve));
    assert.ok((await answered) instanceof Error, 'the waiting redirect is answered with the failure');
    assert.equal(recorder.depth, 350, 'the backlog stays, without the failed click');

    // Counts the transactions that write clicks, and the clicks each one wrote.
    const sizes: number[] = [];
    const tx = f.store.db.tx.bind(f.store.db);
    (f.store.db as { tx: typeof tx }).tx = async (fn) => {
      const before = await f.rowCount();
      const result = await tx(fn);
      const after = await f.rowCount();
      if (after > before) sizes.push(after - before);
      return result;
    };
    try {
      await bringClicksBack(f.store.db);
      assert.equal(await recorder.flush(), 350);
    } finally {
      (f.store.db as { tx: typeof tx }).tx = tx;
    }
    assert.deepEqual(sizes, [100, 100, 100, 50], 'ten batches of 10 at most per transaction');
    assert.equal(recorder.depth, 0);
    assert.equal(await f.rowCount(), 351);
    assert.deepEqual(await f.counters(f.linkA), { clicks: 351, total_clicks: 351, last_clicked_at: T0 + 359 });
    // Oldest first: the first transaction wrote the clicks recorded first.
    const first = await f.store.db.rows<{ clicked_at: number }>('select clicked_at from clicks order by id limit 101');
    assert.deepEqual(first.slice(1).map((r) => Number(r.clicked_at)), Array.from({ length: 100 }, (_, i) => T0 + 10 + i));
  });

  test(
    'while writes fail, arriving clicks do not each trigger another write attempt (the retry waits)',
    async () => {
      const f = await fixture();
      const timers = manualTimers();
      const recorder = f.recorder({ flushDelayMs: 60_000, maxBatch: 5, timers });
      await takeClicksAway(f.store.db);
      const failures = () => f.logs.filter((l) => l.includes('click batch write failed')).length;
      for (let i = 0; i < 5; i++) recorder.record(click(f, f.linkA));
      await eventually(() => failures() === 1);

      // Traffic keeps coming during the outage: a click per tick and a millisecond apart for 20 ticks,
      // well inside the 1 s retry delay.
      for (let i = 0; i < 20; i++) {
        recorder.record(click(f, f.linkA));
        await nextTick();
        timers.advance(1);
      }
      assert.equal(failures(), 1, 'a failing write of the whole buffer per incoming click would stall the redirect path');
      assert.equal(recorder.depth, 25);

      await bringClicksBack(f.store.db);
      timers.advance(1_000);
      await eventually(() => recorder.depth === 0);
      assert.equal(await f.rowCount(), 25);
    },
  );

  test('a batch is all or nothing: when the counter update fails, no click row stays behind to be written twice', async () => {
    const f = await fixture();
    const recorder = f.recorder({ flushDelayMs: 60_000 });
    const restore = await refuseWrites(f.store.db, 'refuse_counters', 'update', 'links', 'counters refused');
    for (let i = 0; i < 40; i++) recorder.record(click(f, f.linkA));

    assert.equal(await recorder.flush(), 0);
    assert.equal(await f.rowCount(), 0, 'the inserted rows were rolled back with the failed update');
    assert.equal(recorder.depth, 40);

    await restore();
    assert.equal(await recorder.flush(), 40);
    assert.equal(await f.rowCount(), 40, 'each click written exactly once');
    assert.equal((await f.counters(f.linkA)).clicks, 40);
  });

  test('one write at a time: a flush asked for during a write waits for it; clicks recorded meanwhile go in the next batch', async () => {
    const f = await fixture();
    const flushes: number[] = [];
    const recorder = f.recorder({ flushDelayMs: 60_000 }, { onFlush: (count) => flushes.push(count) });
    for (let i = 0; i < 10; i++) recorder.record(click(f, f.linkA));
    const first = recorder.flush();
    // Recorded while the first batch is being written.
    for (let i = 0; i < 5; i++) recorder.record(click(f, f.linkA, { at: T0 + 1 }));
    assert.equal(recorder.depth, 15, 'the clicks being written are not written yet');
    assert.equal(recorder.pendingHumanClicks(f.linkA), 15);
    const second = recorder.flush();
    assert.deepEqual(await Promise.all([first, second]), [10, 15], 'the second flush returns once both batches are written');
    assert.deepEqual(flushes, [10, 5]);
    assert.equal(await f.rowCount(), 15);
    assert.equal((await f.counters(f.linkA)).clicks, 15);
    assert.equal(recorder.pendingHumanClicks(f.linkA), 0);
  });

  test('a batch whose commit fails stays buffered and pending, as if it had never been written', async () => {
    const f = await fixture();
    let failCommit = true;
    // PostgreSQL defers only a constraint declared deferrable.
    if (f.store.db.dialect === 'postgres') await f.store.db.exec('alter table events alter constraint events_workspace_id_fkey deferrable');
    const recorder = f.recorder(
      { flushDelayMs: 60_000 },
      {
        async inBatch(t) {
          if (!failCommit) return;
          // A foreign key checked at COMMIT: every statement succeeds, then the commit fails.
          await t.exec(t.dialect === 'sqlite' ? 'pragma defer_foreign_keys = on' : 'set constraints all deferred');
          await t.exec("insert into events (id, workspace_id, type, payload, created_at) values ('evt_orphan', 'no such workspace', 'link.clicked', '{}', 0)");
        },
      },
    );
    for (let i = 0; i < 4; i++) recorder.record(click(f, f.linkA));
    recorder.record(click(f, f.linkA, { bot: true }));

    assert.equal(await recorder.flush(), 0);
    assert.match(String(recorder.lastError), /FOREIGN KEY/i);
    assert.equal(recorder.depth, 5);
    assert.equal(recorder.pendingHumanClicks(f.linkA), 4, 'counted as pending again: links.clicks does not have them');
    assert.deepEqual(await f.counters(f.linkA), { clicks: 0, total_clicks: 0, last_clicked_at: null });

    failCommit = false;
    assert.equal(await recorder.flush(), 5);
    assert.equal(recorder.pendingHumanClicks(f.linkA), 0);
    assert.deepEqual(await f.counters(f.linkA), { clicks: 4, total_clicks: 5, last_clicked_at: T0 });
    assert.equal(await f.rowCount(), 5, 'each click written once');
  });

  test('close waits for the write in progress and counts its clicks', async () => {
    const f = await fixture();
    const recorder = f.recorder({ flushDelayMs: 60_000 });
    for (let i = 0; i < 7; i++) recorder.record(click(f, f.linkA));
    const flushing = recorder.flush();
    recorder.record(click(f, f.linkB));
    assert.equal(await recorder.close(), 8);
    assert.equal(await f.rowCount(), 8, 'written when close returns');
    assert.equal(await flushing, 7);
  });

  test('close writes what is left and stops the timer', async () => {
    const f = await fixture();
    const recorder = f.recorder({ flushDelayMs: 60_000 });
    for (let i = 0; i < 7; i++) recorder.record(click(f, f.linkA));
    assert.equal(await recorder.close(), 7);
    assert.equal(await f.rowCount(), 7);
    assert.equal(recorder.depth, 0);
  });

  test(
    'close stays final when its write fails: no retry timer is left behind (it would keep a stopping process alive)',
    async () => {
      const f = await fixture();
      const timers = manualTimers();
      const recorder = f.recorder({ flushDelayMs: 60_000, timers });
      recorder.record(click(f, f.linkA));
      await takeClicksAway(f.store.db);
      const failures = () => f.logs.filter((l) => l.includes('click batch write failed')).length;

      assert.equal(await recorder.close(), 0);
      assert.equal(recorder.depth, 1, 'what could not be written is still reported as buffered');
      assert.equal(timers.pending, 0, 'no timer left behind');
      timers.advance(10 * 60_000);
      assert.equal(failures(), 1, 'no write attempts after close');
    },
  );

  test('when the event loop is too busy for the batch timer, a click arriving after flushDelayMs writes the batch itself', async () => {
    const f = await fixture();
    const timers = manualTimers();
    const recorder = f.recorder({ flushDelayMs: 20, timers });
    recorder.record(click(f, f.linkA));
    // Requests keep the event loop busy: the timer cannot fire meanwhile.
    timers.busyFor(19);
    recorder.record(click(f, f.linkA));
    assert.equal(await f.rowCount(), 0, 'a click inside the delay waits for the timer');
    timers.busyFor(1);

    recorder.record(click(f, f.linkA));
    // The manual timers have not fired: only this click can have started the write.
    await recorder.whenIdle();
    assert.equal(await f.rowCount(), 3, 'written as this click is recorded: no click waits much longer than flushDelayMs');
    assert.equal(recorder.depth, 0);
  });

  test('recordDurably: done runs once the click is written, and the clicks of one turn share one write', async () => {
    const f = await fixture();
    const flushes: number[] = [];
    const recorder = f.recorder({ flushDelayMs: 60_000 }, { onFlush: (count) => flushes.push(count) });
    const done: unknown[] = [];
    recorder.record(click(f, f.linkB));
    // Each done counts the rows as it runs (the count is read as it is called).
    for (let i = 0; i < 3; i++) recorder.recordDurably(click(f, f.linkA), (err) => done.push(err ?? f.rowCount()));
    assert.equal(recorder.pendingHumanClicks(f.linkA), 3, 'counted against maxClicks while being written');
    assert.deepEqual(done, [], 'nothing is answered before the write');

    await nextTick();
    await recorder.whenIdle();
    assert.deepEqual(await Promise.all(done), [4, 4, 4], 'each done runs after its click is in the database');
    assert.deepEqual(flushes, [4], 'one write for the turn, with the buffered click beside them');
    assert.equal((await f.counters(f.linkA)).clicks, 3);
  });

  test('recordDurably when the write fails: done gets the error and the click never counted; buffered clicks stay for the retry', async () => {
    const f = await fixture();
    const recorder = f.recorder({ flushDelayMs: 60_000 });
    recorder.record(click(f, f.linkA));
    assert.equal(await recorder.flush(), 1, 'statements prepared before the table goes');
    await takeClicksAway(f.store.db);
    recorder.record(click(f, f.linkA));
    let outcome: unknown = 'pending';
    recorder.recordDurably(click(f, f.linkA), (err) => (outcome = err));
    await nextTick();
    await recorder.whenIdle();

    assert.match(String(outcome), f.store.db.dialect === 'sqlite' ? /no such table/ : /relation "clicks" does not exist/);
    assert.equal(recorder.depth, 1, 'the refused click is gone from the buffer; the answered one stays');
    assert.equal(recorder.pendingHumanClicks(f.linkA), 1);
    await bringClicksBack(f.store.db);
    recorder.retryNow();
    await eventually(() => recorder.depth === 0);
    assert.equal((await f.counters(f.linkA)).clicks, 2, 'the refused click was never written');
  });

  // SQLite's read-only mode (a disk that refuses writes, SQLITE_READONLY): PostgreSQL has no such switch that counts as storage down.
  test('recordDurably while the database cannot be written fails at once, without trying the disk', { skip: sqliteOnly }, async () => {
    const f = await fixture();
    const recorder = f.recorder({ flushDelayMs: 60_000 });
    f.store.db.sqlite.pragma('query_only = 1');
    recorder.record(click(f, f.linkA));
    assert.equal(await recorder.flush(), 0);
    assert.equal(f.store.db.storage.available, false);

    let outcome: unknown = 'pending';
    recorder.recordDurably(click(f, f.linkA), (err) => (outcome = err));
    assert.match(String(outcome), /readonly/, 'answered in the same turn');
    assert.equal(recorder.depth, 1);
    f.store.db.sqlite.pragma('query_only = 0');
  });

  test('close retries a refused write for its grace period, and writes once the disk takes it', async () => {
    const f = await fixture();
    const recorder = f.recorder({ flushDelayMs: 60_000 });
    for (let i = 0; i < 5; i++) recorder.record(click(f, f.linkA));
    // SQLite refuses as a read-only disk does; PostgreSQL has no such switch: there the table is
    // taken away (close retries whatever refused the write).
    const sqlite = f.store.db.dialect === 'sqlite';
    if (sqlite) f.store.db.sqlite.pragma('query_only = 1');
    else await takeClicksAway(f.store.db);
    const closing = recorder.close(10_000);
    // close starts its first write at once; the retries wait CLOSE_RETRY_MS.
    await recorder.whenIdle();
    assert.ok(recorder.lastError, 'the first attempt was refused');
    if (sqlite) f.store.db.sqlite.pragma('query_only = 0');
    else await bringClicksBack(f.store.db);
    assert.equal(await closing, 5);
    assert.equal(recorder.depth, 0);
    assert.equal(await f.rowCount(), 5);
  });

  test('beyond maxBuffered, new clicks are dropped and the drop is logged', async () => {
    const f = await fixture();
    const recorder = f.recorder({ flushDelayMs: 60_000, maxBuffered: 10 });
    for (let i = 0; i < 15; i++) recorder.record(click(f, f.linkA));
    assert.equal(recorder.depth, 10);
    assert.equal(recorder.pendingHumanClicks(f.linkA), 10);
    assert.equal(await recorder.flush(), 10);
    const dropped = f.logs.map((l) => JSON.parse(l) as { msg: string; dropped?: number }).find((l) => l.msg.includes('dropped'));
    assert.equal(dropped?.dropped, 5);
  });

  test('clicks that arrive while a write waits for the database are written as any other, and not with a salt whose day ended meanwhile', async () => {
    // Their rows are made while the write waits (PostgreSQL): with the salts the write had.
    const f = await fixture();
    const DAY = 86_400_000;
    let release: () => void = () => {};
    const blocked = new Promise<void>((resolve) => (release = resolve));
    let batches = 0;
    const recorder = f.recorder({ flushDelayMs: 60_000 }, { inBatch: async () => void (++batches === 2 && (await blocked)) });
    f.clock.set(T0 + 60_000);
    const agent = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
    recorder.record(click(f, f.linkA, { ip: '203.0.113.1', at: T0 + 1 }));
    await recorder.flush(); // the day's salt is known
    recorder.record(click(f, f.linkA, { ip: '203.0.113.1', at: T0 + 2 }));
    const second = recorder.flush();
    await eventually(() => batches === 2);
    // Day T0's clicks, then a click of the next day (whose salt the recorder has not read yet).
    for (let i = 0; i < 250; i++) recorder.record(click(f, f.linkB, { ip: `203.0.113.${i}`, at: T0 + 10 + i, userAgent: agent, referrer: 'https://news.example/a' }));
    recorder.record(click(f, f.linkB, { ip: '203.0.113.1', at: T0 + DAY + 5 }));
    for (let i = 0; i < 10; i++) await nextTick();
    release();
    await second;
    assert.equal(await recorder.flush(), 251);
    const rows = await f.store.db.rows<{ ip_hash: string | null; device: string; referrer_host: string | null; clicked_at: number }>(
      'select ip_hash, device, referrer_host, clicked_at from clicks order by clicked_at',
    );
    assert.equal(rows.length, 253);
    const [first, before, ...later] = rows;
    assert.equal(first!.ip_hash, before!.ip_hash);
    const sameDay = later.slice(0, 250);
    assert.equal(sameDay[1]!.ip_hash, first!.ip_hash, "203.0.113.1 on day T0: the day's hash");
    assert.equal(new Set(sameDay.map((r) => r.ip_hash)).size, 250);
    assert.ok(sameDay.every((r) => r.device === 'mobile' && r.referrer_host === 'news.example'));
    assert.notEqual(later[250]!.ip_hash, first!.ip_hash, "the next day's salt");
    assert.match(later[250]!.ip_hash ?? '', /^[\w-]{22}$/);

    // Made ahead with day T0's salt; that day is over (grace included) when their write starts.
    release = () => {};
    const again = new Promise<void>((resolve) => (release = resolve));
    let waiting = false;
    const recorder2 = f.recorder({ flushDelayMs: 60_000 }, { inBatch: async () => void (waiting && (await again)) });
    recorder2.record(click(f, f.linkA, { ip: '203.0.113.1', at: T0 + 3 }));
    await recorder2.flush();
    waiting = true;
    recorder2.record(click(f, f.linkA, { ip: '203.0.113.1', at: T0 + 4 }));
    const blockedWrite = recorder2.flush();
    await eventually(() => recorder2.depth === 1);
    recorder2.record(click(f, f.linkA, { ip: '203.0.113.77', at: T0 + 5 }));
    for (let i = 0; i < 10; i++) await nextTick();
    waiting = false;
    release();
    await blockedWrite;
    f.clock.set(T0 + DAY + SALT_GRACE_MS + 1);
    await recorder2.flush();
    const late = await f.store.db.row<{ ip_hash: string | null }>('select ip_hash from clicks where clicked_at = ?', T0 + 5);
    assert.equal(late!.ip_hash, null, "a click written after its day's salt is gone has no visitor hash, even when its row was made before");
  });

  test('rows made while a write waits: made then (not after), given up with a failed write, and written with the setting of the moment', async () => {
    const f = await fixture();
    let keepAgents = true;
    const lookedUp: string[] = [];
    let failing = false;
    let release: () => void = () => {};
    let blocked = false;
    const recorder = f.recorder(
      { flushDelayMs: 60_000 },
      {
        keepUserAgent: () => keepAgents,
        countryOf: (ip) => (lookedUp.push(ip), ip.endsWith('.9') ? 'DE' : 'US'),
        inBatch: async () => {
          if (!blocked) return;
          await new Promise<void>((resolve) => (release = resolve));
          if (failing) throw new Error('refused for the test');
        },
      },
    );
    const agent = 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0';
    recorder.record(click(f, f.linkA, { ip: '203.0.113.1', at: T0 + 1, userAgent: agent }));
    await recorder.flush(); // the day's salt is known
    // A write that waits, then fails; clicks of another link arrive meanwhile.
    blocked = true;
    failing = true;
    for (let i = 0; i < 3; i++) recorder.record(click(f, f.linkA, { ip: `203.0.113.${10 + i}`, at: T0 + 10 + i, referrer: `https://a${i}.example/`, userAgent: agent }));
    const failed = recorder.flush();
    await eventually(() => lookedUp.length === 4, 5_000);
    for (let i = 0; i < 5; i++) recorder.record(click(f, f.linkB, { ip: `198.51.100.${i}`, at: T0 + 20 + i, referrer: `https://b${i}.example/`, userAgent: agent }));
    for (let i = 0; i < 10; i++) await nextTick();
    assert.equal(lookedUp.length, 9, "the arriving clicks' rows are made while the write waits");
    release();
    assert.equal(await failed, 0);
    // The failed batch goes back ahead of them; the agents setting is turned off before the retry.
    keepAgents = false;
    blocked = false;
    failing = false;
    recorder.retryNow();
    await eventually(async () => (await f.rowCount()) === 9);
    const rows = await f.store.db.rows<{ link_id: string; referrer_host: string | null; user_agent: string | null; country: string | null; clicked_at: number }>(
      'select link_id, referrer_host, user_agent, country, clicked_at from clicks where clicked_at > ? order by clicked_at',
      T0 + 1,
    );
    assert.deepEqual(
      rows.map((r) => [r.link_id, r.referrer_host, r.user_agent, r.country]),
      [
        ...[0, 1, 2].map((i) => [f.linkA, `a${i}.example`, null, 'US']),
        ...[0, 1, 2, 3, 4].map((i) => [f.linkB, `b${i}.example`, null, 'US']),
      ],
    );
    // Rows made ahead while raw agents were kept, written after the setting was turned off: without them.
    keepAgents = true;
    blocked = true;
    const seen = lookedUp.length;
    recorder.record(click(f, f.linkA, { ip: '203.0.113.50', at: T0 + 50, userAgent: agent }));
    const waiting = recorder.flush();
    await eventually(() => lookedUp.length === seen + 1);
    recorder.record(click(f, f.linkA, { ip: '203.0.113.51', at: T0 + 51, userAgent: agent }));
    await eventually(() => lookedUp.length === seen + 2, 5_000);
    keepAgents = false;
    release();
    await waiting;
    blocked = false;
    await recorder.flush();
    const agents = await f.store.db.rows<{ user_agent: string | null }>('select user_agent from clicks where clicked_at >= ? order by clicked_at', T0 + 50);
    assert.deepEqual(
      agents.map((r) => r.user_agent),
      [agent, null],
    );
  });

  test("the IP is stored only as a 22-character hash salted per UTC day: the same address within a day, another across days, none once the day's salt is gone", async () => {
    const f = await fixture();
    const recorder = f.recorder({ flushDelayMs: 60_000 });
    const DAY = 86_400_000;
    f.clock.set(T0 + DAY + 60_000);
    for (const [ip, at] of [
      ['203.0.113.9', T0 + 1_000],
      ['203.0.113.9', T0 + DAY - 1], // the day's last moment, written just after midnight
      ['203.0.113.10', T0 + 2_000],
      ['203.0.113.9', T0 + DAY],
    ] as const) {
      recorder.record(click(f, f.linkA, { ip, at }));
    }
    await recorder.flush();
    f.clock.set(T0 + 2 * DAY + SALT_GRACE_MS);
    recorder.record(click(f, f.linkA, { ip: '203.0.113.9', at: T0 + DAY + 1 })); // waited in the buffer past the grace period
    await recorder.flush();
    const hashes = (await f.store.db.rows<{ ip_hash: string | null }>('select ip_hash from clicks order by id')).map((r) => r.ip_hash);
    for (const h of hashes.slice(0, 4)) assert.match(h ?? '', /^[A-Za-z0-9_-]{22}$/);
    assert.equal(hashes[0], hashes[1], 'same address, same day, same hash');
    assert.notEqual(hashes[0], hashes[2], 'another address, another hash');
    assert.notEqual(hashes[0], hashes[3], 'another day, another hash');
    assert.equal(hashes[4], null, 'no salt is kept, or made again, for a day that is over');
    const dump = JSON.stringify(await f.store.db.rows('select * from clicks'));
    assert.ok(!dump.includes('203.0.113'), 'no address in any column');
  });
});

/** A link's day totals, and the workspace's hour totals, and how many batches wait to be applied. */
async function rolledUp(f: Fixture, linkId: string) {
  const db = f.store.db;
  const day = await db.row<{ total: number | null; human: number | null }>('select sum(total) as total, sum(human) as human from workspace_link_days where link_id = ?', linkId);
  const hours = await db.row<{ total: number | null }>('select sum(total) as total from workspace_click_hours where workspace_id = ?', f.workspaceId);
  const pending = await db.row<{ n: number }>('select count(*) as n from pending_rollups');
  return { total: Number(day?.total ?? 0), human: Number(day?.human ?? 0), workspace: Number(hours?.total ?? 0), pending: Number(pending!.n) };
}

const record = (f: Fixture, linkId: string, at: number): ClickRecord => ({
  linkId,
  workspaceId: f.workspaceId,
  at,
  bot: false,
  qr: false,
  referrer: null,
  referrerHost: null,
  userAgent: null,
  device: 'desktop',
  browser: 'Firefox',
  os: 'Linux',
  ipHash: null,
  country: null,
});

describe('pending rollups', () => {
  test('a batch leaves its rollups pending; they are applied within a second, summed with the batches after it, each click once', async () => {
    const f = await fixture();
    const timers = manualTimers();
    const recorder = f.recorder({ flushDelayMs: 25, timers });
    for (let batch = 0; batch < 3; batch++) {
      for (let i = 0; i < 4; i++) recorder.record(click(f, f.linkA, { at: T0 + batch * 100 + i, bot: i === 3 }));
      timers.advance(25);
      await recorder.whenIdle();
    }
    assert.equal(await f.rowCount(), 12, 'the clicks are written with their batches');
    assert.equal((await f.counters(f.linkA)).clicks, 9, 'and so are the counters limits read');
    assert.deepEqual(await rolledUp(f, f.linkA), { total: 0, human: 0, workspace: 0, pending: 3 }, 'the rollups wait');
    // The first batch committed at 25 ms: its apply is due at 25 + APPLY_EVERY_MS; it is 75 now.
    timers.advance(APPLY_EVERY_MS - 51);
    await recorder.whenIdle();
    assert.equal((await rolledUp(f, f.linkA)).pending, 3, 'not before the second is up');
    timers.advance(1);
    await recorder.whenIdle();
    assert.equal((await rolledUp(f, f.linkA)).pending, 0, 'applied when it is');
    assert.deepEqual(await rolledUp(f, f.linkA), { total: 12, human: 9, workspace: 12, pending: 0 });
    const rows = await f.store.db.row<{ n: number }>('select count(*) as n from workspace_link_days where link_id = ?', f.linkA);
    assert.equal(Number(rows!.n), 1, 'three batches, one row');
    // flush() applies at once what is pending: stats after it show every click written.
    recorder.record(click(f, f.linkA, { at: T0 + 1_000 }));
    await recorder.flush();
    assert.deepEqual(await rolledUp(f, f.linkA), { total: 13, human: 10, workspace: 13, pending: 0 });
  });

  test("the workspace's link days: none for a link deleted before its batch is applied", async () => {
    const f = await fixture();
    await f.store.db.tx((t) => writeClickBatch(t, [record(f, f.linkA, T0), record(f, f.linkB, T0 + 1)], [], []));
    await f.store.db.exec('delete from links where id = ?', f.linkB);
    const sums = new RollupSums();
    const pending = await f.store.db.rows<{ id: number; rollups: string }>('select id, rollups from pending_rollups order by id');
    for (const p of pending) sums.add(p.rollups);
    await f.store.db.tx((t) => applyRollups(t, pending.map((p) => p.id), { links: sums.linkRows, workspaces: sums.workspaceRows, countries: sums.countryRows }));
    const read = 'select workspace_id, day, link_id, total, human, qr from workspace_link_days order by link_id';
    const rows = (await f.store.db.rows<Record<string, unknown>>(read)).map((r) => ({ ...r, total: Number(r.total), human: Number(r.human), qr: Number(r.qr) }));
    assert.deepEqual(rows, [{ workspace_id: f.workspaceId, day: T0, link_id: f.linkA, total: 1, human: 1, qr: 0 }]);
    assert.equal((await rolledUp(f, f.linkA)).workspace, 2, "the workspace's hours count the deleted link's click");
  });

  test('batches left pending by a run that stopped (or another instance) are applied once the next one starts', async () => {
    const f = await fixture();
    // What a kill -9 right after a batch's commit leaves: its clicks and counters, and its rollups pending.
    await f.store.db.tx((t) => writeClickBatch(t, [record(f, f.linkA, T0), record(f, f.linkB, T0 + 1)], [], []));
    assert.equal((await rolledUp(f, f.linkA)).pending, 1);
    const timers = manualTimers();
    f.recorder({ timers }).start();
    timers.advance(APPLY_EVERY_MS);
    await eventually(async () => (await rolledUp(f, f.linkA)).pending === 0);
    assert.deepEqual(await rolledUp(f, f.linkA), { total: 1, human: 1, workspace: 2, pending: 0 });
    assert.equal((await rolledUp(f, f.linkB)).total, 1);
  });

  test('a batch is applied once: applying it again fails and changes nothing, and two recorders applying at once count each batch once', async () => {
    const f = await fixture();
    for (let i = 0; i < 30; i++) await f.store.db.tx((t) => writeClickBatch(t, [record(f, f.linkA, T0 + i), record(f, f.linkB, T0 + i)], [], []));
    const pending = await f.store.db.rows<{ id: number }>('select id from pending_rollups order by id');
    const first = pending[0]!.id;
    const row = record(f, f.linkA, T0);
    const rollup = { linkId: f.linkA, facet: 'all' as const, day: T0, value: '', total: 1, human: 1, qr: 0 };
    await f.store.db.tx((t) => applyRollups(t, [first], { links: [rollup], workspaces: [], countries: [] }));
    await assert.rejects(f.store.db.tx((t) => applyRollups(t, [first, pending[1]!.id], { links: [rollup], workspaces: [], countries: [] })), /applied by someone else/);
    assert.equal((await rolledUp(f, row.linkId)).total, 1, 'the failed apply rolled back');
    assert.equal((await rolledUp(f, row.linkId)).pending, 29);
    const [a, b] = [f.recorder(), f.recorder()];
    await Promise.all([a.flush(), b.flush(), a.flush()]);
    assert.deepEqual(await rolledUp(f, f.linkA), { total: 30, human: 30, workspace: 58, pending: 0 });
    assert.equal((await rolledUp(f, f.linkB)).total, 29);
  });

  test('pending rows that cannot be read are logged once each and left in place, however many come first; the batches after them are applied', async () => {
    const f = await fixture();
    await f.store.db.tx((t) => writeClickBatch(t, [record(f, f.linkA, T0)], [], []));
    // More than one read's worth (16), ahead of the next batch.
    for (let i = 0; i < 40; i++) await f.store.db.exec('insert into pending_rollups (created_at, rollups) values (?, ?)', T0, '{"links": "damaged"}');
    await f.store.db.tx((t) => writeClickBatch(t, [record(f, f.linkA, T0 + 1)], [], []));
    const recorder = f.recorder();
    await recorder.flush();
    await recorder.flush();
    assert.deepEqual(await rolledUp(f, f.linkA), { total: 2, human: 2, workspace: 2, pending: 40 });
    const logged = f.logs.filter((l) => l.includes('a pending_rollups row cannot be read'));
    assert.equal(logged.length, 40, 'each logged once');
    assert.match(logged[0]!, /"id":\d+/);
  });

  test('many batches over many links: applied in several transactions of about ROWS_PER_APPLY rows, every click counted once', async () => {
    const f = await fixture();
    // 30 batches of 400 clicks over 6,000 links: 7 rows a link-day, so several pending rows a batch
    // and far more rows than one apply takes. The links exist (bare rows): the day totals are kept
    // under each link's workspace, read from links.
    const links = Array.from({ length: 6_000 }, (_, i) => `lnk_many_${i}`);
    await f.store.db.tx(async (t) => {
      for (const id of links) {
        await t.exec(`insert into links (id, workspace_id, slug, url, created_at, updated_at, domain) values (?, ?, ?, 'https://example.com/', 0, 0, '')`, id, f.workspaceId, id);
      }
    });
    for (let batch = 0; batch < 30; batch++) {
      const clicks = Array.from({ length: 400 }, (_, i) => record(f, links[(batch * 400 + i) % links.length]!, T0 + batch * 1_000 + i));
      await f.store.db.tx((t) => writeClickBatch(t, clicks, [], []));
    }
    const pending = (await rolledUp(f, f.linkA)).pending;
    assert.ok(pending >= 30, `${pending} pending rows`);
    const transactions: number[] = [];
    const counting = f.recorder({}, {});
    const tx = f.store.db.tx.bind(f.store.db);
    // Counts the applies' transactions and their rows by wrapping the database's tx for this flush.
    (f.store.db as { tx: typeof tx }).tx = async (fn) => {
      const rollupRows = 'select (select count(*) from click_rollups) + (select count(*) from workspace_link_days) as n';
      const before = await f.store.db.row<{ n: number }>(rollupRows);
      const result = await tx(fn);
      const after = await f.store.db.row<{ n: number }>(rollupRows);
      transactions.push(Number(after!.n) - Number(before!.n));
      return result;
    };
    try {
      await counting.flush();
    } finally {
      (f.store.db as { tx: typeof tx }).tx = tx;
    }
    const limit = ROWS_PER_APPLY;
    assert.ok(transactions.length >= Math.ceil((6_000 * 7) / (limit + 4_000)), `${transactions.length} transactions`);
    assert.ok(transactions.every((rows) => rows <= limit + 4_000), `rows added by each: ${transactions.join(', ')}`);
    const totals = await f.store.db.row<{ total: number; pending: number }>(
      'select (select sum(total) from workspace_link_days) as total, (select count(*) from pending_rollups) as pending',
    );
    assert.deepEqual({ total: Number(totals!.total), pending: Number(totals!.pending) }, { total: 12_000, pending: 0 });
  });
});

