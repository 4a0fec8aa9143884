import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { manualTimers } from '../lib/timers.js';
import { clientResponsesFrom } from '../testing/client-responses.js';
import { eventually, fakeClock, startTestServer } from '../testing/harness.js';
import { type ReceivedWebhook, type ReceiverAnswer, startReceiver } from '../testing/receiver.js';
import type { DispatcherOptions } from './dispatcher.js';

/**
 * Fairness of the dispatcher between workspaces and endpoints, against real receivers on
 * 127.0.0.1, some of which never answer (issue 12, item 2): a workspace whose receivers hang
 * holds a bounded share of the attempts in flight, an endpoint that keeps timing out is narrowed
 * to one probe at a time, deleting or disabling endpoints frees their slots at once, and no event
 * is lost on the way. Time is a fake clock, so retries come due only when a test says so, and
 * the attempts' timeouts run on timers the tests move by hand: an attempt times out when a test
 * says so, never because the machine was busy.
 */

const DAY = 86_400_000;
type Answer = ReceiverAnswer;

/** The attempts' total timeout (the shipped 15 s): `timeOut()` makes it pass for every attempt in flight. */
const TIMEOUT_MS = 15_000;

async function scenario(ctx: TestContext, opts: { dispatcher?: DispatcherOptions } = {}) {
  const clock = fakeClock();
  const timers = manualTimers();
  const t = await startTestServer({
    clock,
    env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32', LINKQR_WEBHOOK_RETRY_SCHEDULE: '10s,1m,5m' },
    webhookTimeouts: { totalTimeoutMs: TIMEOUT_MS, timers },
    dispatcher: opts.dispatcher,
  });
  const closers: (() => Promise<void>)[] = [];
  ctx.after(async () => {
    // Receivers first: a hanging one would otherwise hold the dispatcher's shutdown.
    for (const close of closers) await close();
    await t.close();
  });
  const keys = new Map<string, string>();
  const keyOf = async (workspace: string) => {
    if (!keys.has(workspace)) keys.set(workspace, await t.key({ workspace }));
    return keys.get(workspace)!;
  };
  const db = t.store.db;
  const s = {
    t,
    clock,
    /** Every attempt in flight reaches its timeout. */
    timeOut: () => timers.advance(TIMEOUT_MS),
    async receiver(respond: (hook: ReceivedWebhook, n: number) => Answer = () => ({ status: 200 })) {
      const r = await startReceiver(respond);
      closers.push(r.close);
      return r;
    },
    async endpoint(workspace: string, url: string, events: string[]) {
      const res = await t.request('POST', '/api/v1/webhooks', { key: await keyOf(workspace), body: { url, events } });
      assert.equal(res.status, 201, res.text);
      return res.json as { id: string };
    },
    async link(workspace: string, url = 'https://example.com/landing') {
      const res = await t.request('POST', '/api/v1/links', { key: await keyOf(workspace), body: { url } });
      assert.equal(res.status, 201, res.text);
      return res.json as { id: string };
    },
    async api(workspace: string, method: string, path: string, body?: unknown) {
      return t.request(method, path, { key: await keyOf(workspace), body });
    },
    /** Attempts in flight right now, to one endpoint or to a whole workspace's (the dispatcher also holds deliveries ahead, leased, that are not sent yet). */
    inFlightToEndpoint: async (endpointId: string) => t.server.dispatcher.attemptsInFlightTo(endpointId),
    inFlightOfWorkspace: async (workspace: string) =>
      t.server.dispatcher.attemptsInFlightOf((await db.row<{ id: string }>('select id from workspaces where name = ?', workspace))!.id),
    /** Deliveries of a workspace leased right now (sent, or held ahead). */
    leasedOfWorkspace: async (workspace: string) =>
      (await db.row<{ n: number }>(
        'select count(*) as n from webhook_deliveries d join workspaces w on w.id = d.workspace_id where w.name = ? and d.lease_until is not null',
        workspace,
      ))!.n,
    attemptsOfWorkspace: async (workspace: string) =>
      (await db.row<{ n: number }>(
        `select count(*) as n from webhook_attempts a join webhook_deliveries d on d.id = a.delivery_id
         join workspaces w on w.id = d.workspace_id where w.name = ?`,
        workspace,
      ))!.n,
    deliveriesOf: (endpointId: string) =>
      db.rows<{
        event_id: string;
        status: string;
        attempts: number;
        lease_until: number | null;
      }>('select event_id, status, attempts, lease_until from webhook_deliveries where endpoint_id = ? order by id', endpointId),
  };
  return s;
}

/** `n` endpoints of `workspace`, each on its own receiver that never answers. */
async function hangingEndpoints(s: Awaited<ReturnType<typeof scenario>>, workspace: string, n: number) {
  const receivers: Awaited<ReturnType<typeof startReceiver>>[] = [];
  const endpoints: { id: string }[] = [];
  for (let i = 0; i < n; i++) {
    const r = await s.receiver(() => 'hang');
    receivers.push(r);
    endpoints.push(await s.endpoint(workspace, `${r.url}/hooks`, ['link.created']));
  }
  return { receivers, endpoints, arrived: () => receivers.reduce((sum, r) => sum + r.received.length, 0) };
}

describe('webhook dispatcher fairness', { concurrency: true }, () => {
  test("eight hanging endpoints of one workspace hold a bounded share: another workspace's event arrives while they hang", async (ctx) => {
    const s = await scenario(ctx);
    const hanging = await hangingEndpoints(s, 'Stuck', 8);
    const healthy = await s.receiver();
    await s.endpoint('Healthy', `${healthy.url}/hooks`, ['link.created']);
    // Eight events: 64 deliveries due at once, as many as the whole pool.
    for (let i = 0; i < 8; i++) await s.link('Stuck', `https://example.com/stuck/${i}`);
    await eventually(() => hanging.arrived() >= 16);

    await s.link('Healthy');
    // The hanging attempts never time out here: the event must not wait for them.
    await healthy.waitFor(1);
    assert.equal(await s.attemptsOfWorkspace('Stuck'), 0, 'it arrived while every attempt of the hanging workspace was still in flight');
    const inFlight = await s.inFlightOfWorkspace('Stuck');
    assert.ok(inFlight <= 16, `the hanging workspace has ${inFlight} attempts in flight (its bound is 16)`);
  });

  test('a receiver that sends its status line and then stalls is narrowed like one that never answers, even with 200', async (ctx) => {
    const s = await scenario(ctx);
    let endpointId = '';
    // Counted as each request arrives (the receiver answers synchronously: the count is awaited later).
    const inFlightAtArrivalQueries: Promise<number>[] = [];
    const r = await s.receiver((_hook, n) => {
      inFlightAtArrivalQueries.push(s.inFlightToEndpoint(endpointId));
      // 200 and 500 status lines whose bodies never finish; from the 11th on, whole answers.
      return n <= 10 ? { stall: n % 2 ? 200 : 500 } : { status: 200 };
    });
    endpointId = (await s.endpoint('Acme', `${r.url}/hooks`, ['link.created'])).id;
    const statusLines = clientResponsesFrom(Number(new URL(r.url).port));
    ctx.after(statusLines.stop);
    for (let i = 0; i < 24; i++) await s.link('Acme', `https://example.com/stall/${i}`);
    // The first 8 stall together, then two probes stall alone; each round ends at the timeout,
    // once the sender has read every status line of the round.
    for (const arrived of [8, 9, 10]) {
      await r.waitFor(arrived);
      await eventually(async () => statusLines.count === arrived && (await s.inFlightToEndpoint(endpointId)) === (arrived === 8 ? 8 : 1));
      // The counts taken as these requests arrived, before the timeout changes them.
      await Promise.all(inFlightAtArrivalQueries);
      s.timeOut();
    }
    await r.waitFor(24);
    const inFlightAtArrival = await Promise.all(inFlightAtArrivalQueries);
    const stalled = await s.t.store.db.rows<{ status: number | null }>(
      'select a.status_code as status from webhook_attempts a join webhook_deliveries d on d.id = a.delivery_id where d.endpoint_id = ? order by a.id',
      endpointId,
    );
    assert.deepEqual(
      stalled.slice(0, 10).map((a) => a.status).sort(),
      [200, 200, 200, 200, 200, 500, 500, 500, 500, 500],
      'each stalled attempt is recorded with its status line',
    );
    assert.equal(Math.max(...inFlightAtArrival.slice(0, 8)), 8);
    assert.deepEqual(inFlightAtArrival.slice(8, 11), [1, 1, 1], 'narrowed to one probe; a stalled 200 does not close the circuit');
    assert.equal(Math.max(...inFlightAtArrival.slice(11)), 8, 'a whole answer gives the slots back');
  });

  test('endpoints that timed out share a quarter of the pool, however many workspaces they belong to', async (ctx) => {
    // The shipped numbers divided by four: a pool of 16, 4 per workspace, 2 per endpoint, 4 for narrowed endpoints.
    const s = await scenario(ctx, { dispatcher: { concurrency: 16, perWorkspace: 4, perEndpoint: 2, narrowed: 4 } });
    const stuck = await s.receiver((hook) => (hook.path === '/ok' ? { status: 200 } : 'hang'));
    const workspaces = ['Stuck A', 'Stuck B', 'Stuck C', 'Stuck D'];
    // Two endpoints each, so that the first round of attempts reaches every one of them.
    for (const w of workspaces) for (let i = 0; i < 2; i++) await s.endpoint(w, `${stuck.url}/${w.at(-1)}${i}`, ['link.created']);
    const stuckInFlight = async () => (await Promise.all(workspaces.map((w) => s.inFlightOfWorkspace(w)))).reduce((n, inFlight) => n + inFlight, 0);
    /** The hanging attempts in flight when the healthy receiver got its event (counted as it arrives, awaited later). */
    const inFlightAtArrival: Promise<number>[] = [];
    const healthy = await s.receiver(() => {
      inFlightAtArrival.push(stuckInFlight());
      return { status: 200 };
    });
    await s.endpoint('Healthy', `${healthy.url}/ok`, ['link.created']);

    // Four workspaces of receivers that hang fill the whole pool of 16 until their first attempts
    // time out; 16 more deliveries wait behind them.
    for (const w of workspaces) for (let i = 0; i < 4; i++) await s.link(w, `https://example.com/${w}/${i}`);
    await eventually(async () => stuck.received.length === 16 && (await stuckInFlight()) === 16);
    s.timeOut();
    await eventually(async () => (await Promise.all(workspaces.map((w) => s.attemptsOfWorkspace(w)))).reduce((n, a) => n + a, 0) === 16);
    // Their next attempts (probes) start and hang.
    await eventually(() => stuck.received.length > 16);

    // Every one of their endpoints has timed out: together they hold 4 attempts, and the other 12 slots are free.
    await s.link('Healthy');
    await healthy.waitFor(1);
    const atArrival = await inFlightAtArrival[0]!;
    assert.ok(atArrival <= 4, `${atArrival} hanging attempts in flight when the healthy event arrived`);
  });

  test("endpoints on one receiver host never wait for each other's connections", async (ctx) => {
    const s = await scenario(ctx);
    // One receiver: 16 endpoints of one workspace hang there, another workspace's endpoint answers at once.
    const r = await s.receiver((hook) => (hook.path === '/ok' ? { status: 200 } : 'hang'));
    for (let i = 0; i < 16; i++) await s.endpoint('Stuck', `${r.url}/hang${i}`, ['link.created']);
    await s.endpoint('Healthy', `${r.url}/ok`, ['link.created']);
    for (let i = 0; i < 2; i++) await s.link('Stuck', `https://example.com/stuck/${i}`);
    await eventually(() => r.received.length >= 16);

    await s.link('Healthy');
    // The hanging attempts never time out here; sharing 8 sockets per host, the healthy one would queue behind them.
    await eventually(() => r.received.some((h) => h.path === '/ok'));
    assert.equal(await s.attemptsOfWorkspace('Stuck'), 0, 'it arrived while every hanging attempt was still in flight');
  });

  test('an endpoint that keeps timing out gets one probe at a time; a success gives it its slots back; no event is lost', async (ctx) => {
    const s = await scenario(ctx);
    let endpointId = '';
    /** Attempts of the endpoint in flight (leased deliveries) as each request arrived (the receiver answers synchronously: awaited later). */
    const inFlightAtArrivalQueries: Promise<number>[] = [];
    const inFlightAtArrival = () => Promise.all(inFlightAtArrivalQueries);
    const r = await s.receiver((_hook, n) => {
      inFlightAtArrivalQueries.push(s.inFlightToEndpoint(endpointId));
      // The first 8 and two probes hang; from the 11th on, the receiver is back.
      return n <= 10 ? 'hang' : { status: 200 };
    });
    endpointId = (await s.endpoint('Acme', `${r.url}/hooks`, ['link.created'])).id;
    const N = 24;
    for (let i = 0; i < N; i++) await s.link('Acme', `https://example.com/probe/${i}`);

    // 8 at once, as for any endpoint; they time out together.
    await r.waitFor(8);
    assert.equal(Math.max(...(await inFlightAtArrival()).slice(0, 8)), 8);
    await eventually(async () => (await s.inFlightToEndpoint(endpointId)) === 8);
    s.timeOut();
    // Then one probe at a time while it keeps timing out, though 16 more deliveries are due…
    for (const arrived of [9, 10]) {
      await r.waitFor(arrived);
      await eventually(async () => (await s.inFlightToEndpoint(endpointId)) === 1);
      // The counts taken as these requests arrived, before the timeout changes them.
      await inFlightAtArrival();
      s.timeOut();
    }
    // …and once a probe succeeds, 8 at a time again.
    await r.waitFor(N);
    assert.deepEqual((await inFlightAtArrival()).slice(8, 11), [1, 1, 1], 'the two probes that hung and the one that succeeded went alone');
    assert.equal(Math.max(...(await inFlightAtArrival()).slice(11)), 8, 'after the success the endpoint has its 8 slots back');

    // The deliveries that timed out were kept due and are retried on the schedule: every event arrives.
    const settled = await eventually(async () => {
      const list = await s.deliveriesOf(endpointId);
      return list.filter((d) => d.status === 'succeeded').length === N - 10 && list;
    });
    const timedOut = settled.filter((d) => d.status === 'pending');
    assert.equal(timedOut.length, 10, 'the 10 deliveries that timed out wait for their retry');
    assert.ok(timedOut.every((d) => d.attempts === 1 && d.lease_until === null));
    s.clock.advance(DAY);
    s.t.server.dispatcher.wake();
    await r.waitFor(N + 10);
    const ds = await eventually(async () => {
      const list = await s.deliveriesOf(endpointId);
      return list.every((d) => d.status === 'succeeded') && list;
    });
    assert.equal(ds.length, N);
    const answered = new Set(r.received.slice(10).map((h) => String(h.headers['webhook-id'])));
    assert.deepEqual([...answered].sort(), ds.map((d) => d.event_id).sort(), 'each event was answered 200 at least once');
  });

  test('an endpoint given a new URL starts afresh: its attempts to the old receiver are cut off and its slots are full again', async (ctx) => {
    const s = await scenario(ctx);
    const old = await s.receiver(() => 'hang');
    const id = (await s.endpoint('Acme', `${old.url}/hooks`, ['link.created'])).id;
    for (let i = 0; i < 16; i++) await s.link('Acme', `https://example.com/moved/${i}`);
    await eventually(async () => old.received.length === 8 && (await s.inFlightToEndpoint(id)) === 8);
    s.timeOut();
    // Eight timeouts: the circuit is open, one probe at a time.
    await eventually(async () => old.received.length === 9 && (await s.inFlightToEndpoint(id)) === 1);

    const fresh = await s.receiver(() => 'hang');
    const moved = await s.api('Acme', 'PATCH', `/api/v1/webhooks/${id}`, { url: `${fresh.url}/hooks` });
    assert.equal(moved.status, 200, moved.text);
    // The probe is cut off and sent again, with the other seven due, to the new receiver: 8 at once.
    await eventually(async () => fresh.received.length === 8 && (await s.inFlightToEndpoint(id)) === 8);
    assert.equal(old.received.length, 9, 'nothing more to the old receiver');
  });

  for (const how of ['deleted', 'disabled'] as const) {
    test(`hanging endpoints ${how} while their attempts are in flight give their slots back at once`, async (ctx) => {
      const s = await scenario(ctx);
      const hanging = await hangingEndpoints(s, 'Acme', 8);
      const healthy = await s.receiver();
      await s.endpoint('Acme', `${healthy.url}/hooks`, ['link.updated']);
      const links = [];
      for (let i = 0; i < 8; i++) links.push(await s.link('Acme', `https://example.com/acme/${i}`));
      await eventually(() => hanging.arrived() >= 16);

      for (const e of hanging.endpoints) {
        const res = how === 'deleted' ? await s.api('Acme', 'DELETE', `/api/v1/webhooks/${e.id}`) : await s.api('Acme', 'PATCH', `/api/v1/webhooks/${e.id}`, { enabled: false });
        assert.equal(res.status, how === 'deleted' ? 204 : 200, res.text);
      }
      // Their attempts never time out here; the workspace's healthy endpoint must not wait for that.
      assert.equal((await s.api('Acme', 'PATCH', `/api/v1/links/${links[0]!.id}`, { title: 'urgent' })).status, 200);
      await healthy.waitFor(1);
      await eventually(async () => (await s.leasedOfWorkspace('Acme')) === 0);
      if (how === 'deleted') return;

      // Disabled ones keep their deliveries, untouched by the cut-off attempts, and send them once enabled again.
      const pending = (await Promise.all(hanging.endpoints.map((e) => s.deliveriesOf(e.id)))).flat();
      assert.equal(pending.length, 64);
      assert.ok(pending.every((d) => d.status === 'pending' && d.attempts === 0 && d.lease_until === null));
      const back = await s.receiver();
      for (const e of hanging.endpoints) {
        const res = await s.api('Acme', 'PATCH', `/api/v1/webhooks/${e.id}`, { url: `${back.url}/hooks`, enabled: true });
        assert.equal(res.status, 200, res.text);
      }
      await back.waitFor(64);
      await eventually(async () => (await Promise.all(hanging.endpoints.map((e) => s.deliveriesOf(e.id)))).every((list) => list.every((d) => d.status === 'succeeded')));
    });
  }
});
