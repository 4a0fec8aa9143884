import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { fakeClock, startTestServer, type TestServer } from '../testing/harness.js';
import { ANALYTICS_RETENTION_DAYS, CLICK_REF, ChunkedDelete } from './retention.job.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const NOW = Date.UTC(2031, 5, 1, 12, 0, 0);
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

/** Plans as an instance admin would define them; `limits` is the plans.limits JSON. */
const PLANS = [
  { id: 'pln_free', name: 'Free', limits: { links: 100, [ANALYTICS_RETENTION_DAYS]: 30 } },
  { id: 'pln_pro', name: 'Pro', limits: { [ANALYTICS_RETENTION_DAYS]: 365 } },
  { id: 'pln_typo', name: 'Typo', limits: { [ANALYTICS_RETENTION_DAYS]: '30' } },
];
/** Workspace → plan (pln_default has no limits: keep forever). */
const WORKSPACES = { Acme: 'pln_free', Globex: 'pln_pro', Initech: 'pln_default', Umbrella: 'pln_typo' } as const;
type Workspace = keyof typeof WORKSPACES;

/** How old each click is when the job runs. */
const AGES = [400 * DAY, 366 * DAY, 365 * DAY, 100 * DAY, 30 * DAY + 1, 30 * DAY, 29 * DAY, HOUR];

/** The ages each workspace keeps: older than its plan's retention goes, exactly at the limit stays. */
const KEPT: Record<Workspace, number[]> = {
  Acme: [30 * DAY, 29 * DAY, HOUR],
  Globex: [365 * DAY, 100 * DAY, 30 * DAY + 1, 30 * DAY, 29 * DAY, HOUR],
  Initech: AGES,
  Umbrella: AGES,
};

describe('retention job', () => {
  let t: TestServer;
  const clock = fakeClock(NOW - 500 * DAY);
  const keys = {} as Record<Workspace, string>;
  /** Per workspace: a link that stays, and one that will be deleted. */
  const links = {} as Record<Workspace, { kept: { id: string; slug: string }; deleted: { id: string; slug: string } }>;

  beforeEach(async () => {
    clock.set(NOW - 500 * DAY);
    t = await startTestServer({ clock });
    const db = t.store.db;
    for (const p of PLANS) {
      await db.exec(
        `insert into plans (id, name, features, limits, created_at, updated_at) values (?, ?, '{"api":true,"webhooks":true,"qr":true,"analytics":true}', ?, 0, 0)`,
        p.id, p.name, JSON.stringify(p.limits),
      );
    }
    for (const [name, plan] of Object.entries(WORKSPACES) as [Workspace, string][]) {
      keys[name] = await t.key({ workspace: name });
      await db.exec('update workspaces set plan_id = ? where name = ?', plan, name);
      const make = async () => {
        const res = await t.request('POST', '/api/v1/links', { key: keys[name], body: { url: `https://example.com/${name}` } });
        assert.equal(res.status, 201, res.text);
        return { id: res.json.id as string, slug: res.json.slug as string };
      };
      links[name] = { kept: await make(), deleted: await make() };
    }
    // Every link is clicked once at each age, oldest first, as real redirects at the fake time.
    for (const age of AGES) {
      clock.set(NOW - age);
      for (const name of Object.keys(WORKSPACES) as Workspace[]) {
        for (const link of [links[name].kept, links[name].deleted]) {
          const res = await t.request('GET', `/${link.slug}`, { headers: { 'user-agent': BROWSER } });
          assert.equal(res.status, 302);
        }
      }
    }
    await t.flushClicks();
    // The setup's API requests are logged in batches: written now, so that the first run finds
    // them (500 days old) and the run that follows finds nothing left, however busy the machine.
    await t.server.deps.apiRequests.flush();
    clock.set(NOW);
  });
  afterEach(() => t.close());

  const clickAges = async (linkId: string) =>
    (await t.store.db.rows<{ clicked_at: number }>('select clicked_at from clicks where link_id = ? order by clicked_at', linkId)).map(
      (r) => clock.now() - r.clicked_at,
    );
  const countClicks = async () => (await t.store.db.row<{ n: number }>('select count(*) as n from clicks'))!.n;

  test('deletes clicks older than the plan allows and clicks of deleted links; keeps the rest', async () => {
    for (const name of ['Globex', 'Initech'] as const) {
      assert.equal((await t.request('DELETE', `/api/v1/links/${links[name].deleted.id}`, { key: keys[name] })).status, 204);
    }
    const before = await countClicks();

    const outcome = await t.server.scheduler.run('retention');

    // Acme's two links past 30 days and Globex's remaining link past 365; every click of the deleted links.
    const expired = (AGES.length - KEPT.Acme.length) * 2 + (AGES.length - KEPT.Globex.length);
    const orphans = AGES.length * 2;
    // The links' events and audit entries are over 30 days and a year old too (outbox-retention.test covers those).
    assert.equal(outcome.status, 'ok');
    assert.deepEqual(outcome.status === 'ok' && { expiredClicks: outcome.result.expiredClicks, orphanClicks: outcome.result.orphanClicks }, { expiredClicks: expired, orphanClicks: orphans });
    assert.equal(await countClicks(), before - expired - orphans);
    for (const name of Object.keys(WORKSPACES) as Workspace[]) {
      assert.deepEqual(await clickAges(links[name].kept.id), KEPT[name], `${name} (${WORKSPACES[name]})`);
    }
    assert.deepEqual(await clickAges(links.Acme.deleted.id), KEPT.Acme, 'a link that still exists keeps its recent clicks');
    assert.deepEqual(await clickAges(links.Umbrella.deleted.id), AGES);
    for (const name of ['Globex', 'Initech'] as const) assert.deepEqual(await clickAges(links[name].deleted.id), [], `${name}: deleted link`);

    // Lifetime counters are not analytics detail: an exhausted link must stay exhausted.
    const link = await t.request('GET', `/api/v1/links/${links.Acme.kept.id}`, { key: keys.Acme });
    assert.equal(link.json.clicks, AGES.length);

    const log = t.logs.map((l) => JSON.parse(l));
    const finished = log.find((l) => l.msg === 'job finished' && l.job === 'retention');
    assert.ok(finished, 'the run is logged');
    assert.equal(finished.expiredClicks, expired);
    assert.equal(finished.orphanClicks, orphans);
    const warning = log.find((l) => l.plan === 'Typo');
    assert.ok(warning, 'a plan with an unreadable retention is reported');
    assert.equal(warning.level, 40);

    // The rollups follow: whole days past the cutoff go (the day the cutoff falls in stays), and
    // nothing is left of the deleted links.
    const rollupDays = async (linkId: string) =>
      (await t.store.db.rows<{ day: number }>('select distinct day from click_rollups where link_id = ? order by day', linkId)).map(
        (r) => Math.floor((clock.now() - r.day) / DAY),
      );
    assert.deepEqual(await rollupDays(links.Acme.kept.id), [30, 29, 0], 'the day of the clicks 30 d + 1 ms and 30 d old, of the 29 d old one, and today');
    assert.deepEqual(await rollupDays(links.Initech.kept.id), [400, 366, 365, 100, 30, 29, 0]);
    for (const name of ['Globex', 'Initech'] as const) assert.deepEqual(await rollupDays(links[name].deleted.id), [], `${name}: deleted link's rollups`);
    // The workspaces' countries go by the hour, as their hours do; the clicks of a deleted link stay counted there.
    const countryHours = async (name: Workspace) =>
      (
        await t.store.db.rows<{ hour: number; total: number }>(
          'select c.hour, sum(c.total) as total from workspace_click_country_hours c join workspaces w on w.id = c.workspace_id where w.name = ? group by c.hour order by c.hour',
          name,
        )
      ).map((r) => [Math.floor((clock.now() - r.hour) / HOUR), Number(r.total)]);
    const hoursOf = async (name: Workspace) =>
      (
        await t.store.db.rows<{ hour: number; total: number }>(
          'select h.hour, h.total from workspace_click_hours h join workspaces w on w.id = h.workspace_id where w.name = ? order by h.hour',
          name,
        )
      ).map((r) => [Math.floor((clock.now() - r.hour) / HOUR), Number(r.total)]);
    for (const name of Object.keys(WORKSPACES) as Workspace[]) assert.deepEqual(await countryHours(name), await hoursOf(name), name);
    // By day, they keep the whole days the links' rollups keep.
    const countryDays = async (name: Workspace) =>
      (
        await t.store.db.rows<{ day: number }>(
          'select distinct c.day from workspace_click_country_days c join workspaces w on w.id = c.workspace_id where w.name = ? order by c.day',
          name,
        )
      ).map((r) => Math.floor((clock.now() - r.day) / DAY));
    assert.deepEqual(await countryDays('Acme'), [30, 29, 0]);
    assert.deepEqual(await countryDays('Globex'), await rollupDays(links.Globex.kept.id));
    // The workspaces' link days (the summary's top links) keep the days each link's own rollups keep.
    const workspaceLinkDays = async (linkId: string) =>
      (await t.store.db.rows<{ day: number }>('select day from workspace_link_days where link_id = ? order by day', linkId)).map((r) => Math.floor((clock.now() - r.day) / DAY));
    for (const name of Object.keys(WORKSPACES) as Workspace[]) {
      assert.deepEqual(await workspaceLinkDays(links[name].kept.id), await rollupDays(links[name].kept.id), `${name}: link days`);
    }
    assert.deepEqual(await workspaceLinkDays(links.Acme.kept.id), [30, 29, 0]);
    for (const name of ['Globex', 'Initech'] as const) assert.deepEqual(await workspaceLinkDays(links[name].deleted.id), [], `${name}: deleted link's days`);
    // The hours of the day the cutoff falls in stay with that day: the click 30 d + 1 ms old (11:00, 30 days ago) too.
    assert.equal(Math.max(...(await countryHours('Acme')).map(([hours]) => hours!)), 30 * 24 + 1);
    assert.equal((await countryHours('Globex')).reduce((n, [, total]) => n + total!, 0), KEPT.Globex.length * 2, "the deleted link's clicks still count");
    // So a summary from that day on has countries that add up to its total, as it does in each workspace.
    for (const name of ['Acme', 'Globex'] as const) {
      const res = await t.request('GET', `/api/v1/stats?from=${new Date(NOW - 30 * DAY).toISOString().slice(0, 10)}&interval=day`, { key: keys[name] });
      assert.equal(res.status, 200, res.text);
      const counted = (res.json.countries as { total: number }[]).reduce((n, c) => n + c.total, 0);
      assert.equal(counted, res.json.total, `${name}: countries ${counted}, total ${res.json.total}`);
      assert.equal(res.json.total, name === 'Acme' ? (KEPT.Acme.length + 1) * 2 : 4 * 2);
    }
    const acmeStats = await t.request('GET', `/api/v1/links/${links.Acme.kept.id}/stats?from=${new Date(NOW - 60 * DAY).toISOString()}&interval=day`, { key: keys.Acme });
    assert.equal(acmeStats.json.total, KEPT.Acme.length + 1, 'the stats keep whole days: the click 30 d + 1 ms old shares the cutoff day');

    // Nothing left to do now. Two days later, Acme's 30- and 29-day-old clicks (two links) and
    // Globex's 365-day-old one have passed their limits.
    assert.deepEqual(await t.server.scheduler.run('retention'), { status: 'ok', result: { expiredClicks: 0, orphanClicks: 0, rollupRows: 0, deliveries: 0, events: 0, auditEntries: 0, expiredSessions: 0, idempotencyRecords: 0, apiRequests: 0, visitorSalts: 0, imports: 0 } });
    clock.advance(2 * DAY);
    const later = await t.server.scheduler.run('retention');
    assert.equal(later.status === 'ok' && later.result.expiredClicks, 5);
    assert.deepEqual(await rollupDays(links.Acme.kept.id), [2], 'only the day of the click that was an hour old is left');
    assert.deepEqual(await countryHours('Acme'), await hoursOf('Acme'));
    assert.deepEqual(await countryDays('Acme'), [2]);
    assert.deepEqual(await workspaceLinkDays(links.Acme.kept.id), [2]);
    assert.deepEqual(await clickAges(links.Acme.kept.id), [2 * DAY + HOUR]);
    assert.deepEqual(await clickAges(links.Globex.kept.id), KEPT.Globex.slice(1).map((age) => age + 2 * DAY));
  });

  test('a step that fails does not stop the others: the run fails naming it, and the next run finishes', async () => {
    const db = t.store.db;
    const requestRows = async () => Number((await db.row<{ n: number }>('select count(*) as n from api_request_log'))!.n);
    const before = await countClicks();
    assert.ok((await requestRows()) > 0, 'the setup logged its API requests, 500 days ago');
    // A database that refuses the idempotency records' delete (as a table in a publication without a key would).
    await db.exec('alter table idempotency_records rename to idempotency_records_away');
    const outcome = await t.server.scheduler.run('retention');
    assert.equal(outcome.status, 'failed');
    assert.match(String(outcome.status === 'failed' && (outcome.error as Error).message), /could not delete: idempotency records \(/);
    // The steps before it and after it ran.
    assert.ok((await countClicks()) < before, 'expired clicks were deleted');
    assert.equal(await requestRows(), 0, 'the API request log, a later step, was cleaned');
    const lines = t.logs.map((l) => JSON.parse(l));
    assert.ok(lines.find((l) => l.step === 'idempotency records'), 'the failing step is logged with its error');
    const partly = lines.find((l) => l.msg === 'the retention job did all but the failed steps');
    assert.deepEqual([partly?.failed, partly?.expiredClicks > 0, partly?.apiRequests > 0], [['idempotency records'], true, true], 'what the other steps did is logged');
    await db.exec('alter table idempotency_records_away rename to idempotency_records');
    assert.equal((await t.server.scheduler.run('retention')).status, 'ok');
  });

  test('changing a workspace to a plan with shorter retention applies at the next run', async () => {
    await t.store.db.exec("update workspaces set plan_id = 'pln_free' where name = 'Initech'");
    await t.server.scheduler.run('retention');
    assert.deepEqual(await clickAges(links.Initech.kept.id), KEPT.Acme);
    assert.deepEqual(await clickAges(links.Globex.kept.id), KEPT.Globex, 'other workspaces keep their own plan');
  });

  describe('large deletes', () => {
    // The parameters cast: PostgreSQL types a parameter in a select list as text.
    const bulkInsert = (linkId: string, workspaceId: string, count: number, at: number) =>
      t.store.db.exec(
        `with recursive n(i) as (select 1 union all select i + 1 from n where i < ?)
         insert into clicks (link_id, workspace_id, clicked_at, bot, qr) select cast(? as text), cast(? as text), cast(? as bigint), 0, 0 from n`,
        count, linkId, workspaceId, at,
      );
    const workspaceId = async (name: string) => (await t.store.db.row<{ id: string }>('select id from workspaces where name = ?', name))!.id;

    test('go in chunks, letting the event loop run between them', async () => {
      await bulkInsert(links.Acme.kept.id, await workspaceId('Acme'), 12_000, NOW - 90 * DAY);
      await bulkInsert('lnk_gone_long_ago', await workspaceId('Initech'), 7_000, NOW - HOUR);
      const before = await countClicks();

      let turns = 0;
      let done = false;
      // A write that arrives once the first chunk is gone: it must not wait for the whole job.
      let write: Promise<boolean> | undefined;
      // The count is a query: one at a time, checked as it answers, while every turn is counted.
      let counting: Promise<void> | undefined;
      let countFailed: unknown;
      const tick = () => {
        if (done) return;
        turns++;
        if (!write && !counting) {
          counting = countClicks().then(
            (n) => {
              counting = undefined;
              if (!write && !done && n < before) {
                write = t.store.db
                  .tx((tx) => tx.exec("update links set title = 'written meanwhile' where id = ?", links.Acme.kept.id))
                  .then(() => !done);
              }
            },
            (error) => void (countFailed = error),
          );
        }
        setImmediate(tick);
      };
      setImmediate(tick);
      const outcome = await t.server.scheduler.run('retention');
      done = true;
      assert.equal(countFailed, undefined);
      assert.equal(await write, true, 'a write between two chunks commits before the job ends');

      const expired = 12_000 + (AGES.length - KEPT.Acme.length) * 2 + (AGES.length - KEPT.Globex.length) * 2;
      assert.equal(outcome.status, 'ok');
      assert.deepEqual(outcome.status === 'ok' && { expiredClicks: outcome.result.expiredClicks, orphanClicks: outcome.result.orphanClicks }, { expiredClicks: expired, orphanClicks: 7_000 });
      assert.equal(await countClicks(), before - expired - 7_000);
      assert.ok(turns >= 4, `the event loop ran between chunks (${turns} turns)`);
    });

    test('stop between chunks: the run ends early, having deleted only expired clicks', async () => {
      await bulkInsert(links.Acme.kept.id, await workspaceId('Acme'), 12_000, NOW - 90 * DAY);
      const before = await countClicks();
      const running = t.server.scheduler.run('retention');
      await t.server.scheduler.stop();
      const outcome = await running;

      assert.deepEqual(outcome, { status: 'stopped' });
      const deleted = before - (await countClicks());
      assert.ok(deleted > 0 && deleted < 12_000, `stopped part-way (${deleted} deleted)`);
      for (const name of Object.keys(WORKSPACES) as Workspace[]) {
        assert.deepEqual((await clickAges(links[name].kept.id)).slice(-KEPT[name].length), KEPT[name], `${name}: clicks within retention are kept`);
      }
    });
  });
});

describe('retention: how a click is found again to be deleted', () => {
  let t: TestServer;
  beforeEach(async () => {
    t = await startTestServer();
  });
  afterEach(async () => {
    await t.close();
  });

  test('a click whose row moved between the read and the delete is not deleted for it, nor is the click now in its place', async () => {
    const db = t.store.db;
    const key = await t.key({ workspace: 'Acme' });
    const link = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/a' } })).json as { id: string };
    const { workspace_id } = (await db.row<{ workspace_id: string }>('select workspace_id from links where id = ?', link.id))!;
    for (const at of [1, 2, 3]) {
      await db.exec('insert into clicks (link_id, workspace_id, clicked_at, bot, qr) values (?, ?, ?, 0, 0)', link.id, workspace_id, at);
    }
    const refOf = async (at: number) => (await db.row<{ id: number; ctid?: string }>(`SELECT ${CLICK_REF[db.dialect]} FROM clicks WHERE clicked_at = ?`, at))!;
    const deleter = new ChunkedDelete(db, new AbortController().signal);
    // The job reads the clicks at 2 and 3 …
    await deleter.collect((room) => db.rows(`SELECT ${CLICK_REF[db.dialect]} FROM clicks WHERE link_id = ? AND clicked_at >= 2 LIMIT ?`, link.id, room));
    // … then, before its delete, the click at 2 moves (a new row version, as VACUUM FULL or
    // CLUSTER would move it), and one of its places holds another click than the one it read
    // (as when a new click takes a place a plain VACUUM freed): the click at 1's place, read
    // with the id of the click at 3.
    await db.exec('update clicks set qr = qr where clicked_at = 2');
    const one = await refOf(1);
    await deleter.collect(async () => [{ ctid: one.ctid, id: (await refOf(3)).id }]);
    const deleted = await deleter.finish();
    const left = (await db.rows<{ clicked_at: number }>('select clicked_at from clicks order by clicked_at')).map((r) => Number(r.clicked_at));
    if (db.dialect === 'postgres') {
      // Only the click still where it was read goes: the moved one stays (the next run finds it
      // again), and so does the click in a place read for another.
      assert.deepEqual({ deleted, left }, { deleted: 1, left: [1, 2] });
    } else {
      // SQLite finds a click by its id, which never moves: both clicks read go, nothing else.
      assert.deepEqual({ deleted, left }, { deleted: 2, left: [1] });
    }
  });
});
