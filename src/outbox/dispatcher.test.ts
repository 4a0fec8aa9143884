import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { ServerOptions } from '../app.js';
import { manualTimers } from '../lib/timers.js';
import { eventually, fakeClock, startTestServer } from '../testing/harness.js';
import type { DispatcherOptions } from './dispatcher.js';
import { type ReceivedWebhook, startReceiver } from '../testing/receiver.js';

/**
 * The dispatcher against real receivers on 127.0.0.1 (SPEC §5). Time is a fake clock: tests move
 * it to when a retry is due and wake the dispatcher, instead of sleeping.
 */

const SCHEDULE = '10s,1m,5m';
const DELAYS = [10_000, 60_000, 300_000];
const DAY = 86_400_000;
const BROWSER_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const ALL_EVENTS = ['link.created', 'link.updated', 'link.deleted', 'link.clicked', 'webhook.test'];

type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'hang' | 'destroy';
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Verifies a delivery with the standardwebhooks package, as a receiver whose clock reads `nowMs`
 * (the server's fake clock: the package checks the timestamp against Date.now()).
 */
function verify(secret: string, hook: ReceivedWebhook, nowMs: number): any {
  const realNow = Date.now;
  Date.now = () => nowMs;
  try {
    return new Webhook(secret).verify(hook.body, hook.headers as Record<string, string>);
  } finally {
    Date.now = realNow;
  }
}

/** A server with a fake clock, a key, and receivers that are closed (before the server) when the test ends. */
async function scenario(ctx: TestContext, env: Record<string, string> = {}, dispatcher?: DispatcherOptions, webhookTimeouts?: ServerOptions['webhookTimeouts']) {
  const clock = fakeClock();
  const t = await startTestServer({
    clock,
    env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32', LINKQR_WEBHOOK_RETRY_SCHEDULE: SCHEDULE, ...env },
    dispatcher,
    webhookTimeouts,
  });
  const key = await t.key();
  const closers: (() => Promise<void>)[] = [];
  ctx.after(async () => {
    // Receivers first: a hanging one would otherwise hold the dispatcher's shutdown.
    for (const close of closers) await close();
    await t.close();
  });
  const s = {
    t,
    clock,
    key,
    async receiver(respond: (hook: ReceivedWebhook, n: number) => Answer = () => ({ status: 200 })) {
      const r = await startReceiver(respond);
      closers.push(r.close);
      return r;
    },
    /** Closes a receiver of the test's own before the server, like those above. */
    closeFirst(close: () => Promise<void>) {
      closers.push(close);
    },
    async endpoint(url: string, events: string[], extra: Record<string, unknown> = {}) {
      const res = await t.request('POST', '/api/v1/webhooks', { key, body: { url, events, ...extra } });
      assert.equal(res.status, 201, res.text);
      return res.json as { id: string; secret: string };
    },
    async link(body: Record<string, unknown> = { url: 'https://example.com/landing' }) {
      const res = await t.request('POST', '/api/v1/links', { key, body });
      assert.equal(res.status, 201, res.text);
      return res.json;
    },
    async endpointState(id: string) {
      return (await t.request('GET', `/api/v1/webhooks/${id}`, { key })).json;
    },
    /** Deliveries of an endpoint, oldest first, with their attempts. */
    async deliveries(endpointId: string): Promise<any[]> {
      const res = await t.request('GET', `/api/v1/webhooks/${endpointId}/deliveries?limit=100`, { key });
      assert.equal(res.status, 200, res.text);
      return res.json.data.reverse();
    },
    /** Waits until the endpoint has `n` deliveries and each has made `attempts` attempts. */
    async attempted(endpointId: string, n: number, attempts = 1, timeoutMs?: number) {
      return eventually(async () => {
        const ds = await s.deliveries(endpointId);
        return ds.length === n && ds.every((d) => d.attemptCount === attempts) && ds;
      }, timeoutMs);
    },
    /** Wakes the dispatcher and waits until no delivery of an enabled endpoint is due any more. */
    async drain() {
      t.server.dispatcher.wake();
      await eventually(async () => {
        const due = (await t.store.db.row<{ n: number }>(
          `select count(*) as n from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
           where d.status = 'pending' and e.enabled = 1 and d.next_attempt_at <= ?`,
          clock.now(),
        ))!;
        return due.n === 0;
      });
    },
    /** Deliveries of an endpoint that are leased right now (an attempt in flight). */
    leased: async (endpointId: string) =>
      (await t.store.db.row<{ n: number }>('select count(*) as n from webhook_deliveries where endpoint_id = ? and lease_until is not null', endpointId))!.n,
  };
  return s;
}
type Scenario = Awaited<ReturnType<typeof scenario>>;

/**
 * An endpoint on its own receiver that gets a webhook.test on demand: once it has arrived, the
 * dispatcher has run a claim after everything the test did before, so what was due then is leased
 * or done. Lets a test show that something did *not* happen without sleeping.
 */
async function sentinel(s: Scenario) {
  const r = await s.receiver();
  const endpoint = await s.endpoint(`${r.url}/sentinel`, ['webhook.test']);
  return async () => {
    const before = r.received.length;
    const res = await s.t.request('POST', `/api/v1/webhooks/${endpoint.id}/test`, { key: s.key });
    assert.equal(res.status, 202, res.text);
    await r.waitFor(before + 1);
  };
}

interface InFlightCount {
  now: number;
  max: number;
}

/**
 * A receiver that holds every request until the test calls `answerAll()` (and answers at once
 * from then on), counting requests in flight (here and in each of `groups`): a test sees the
 * most attempts the dispatcher keeps in flight at once, however fast or slow the machine is.
 */
async function startHoldingReceiver(...groups: InFlightCount[]) {
  const stats = { now: 0, max: 0, received: 0 };
  let held: http.ServerResponse[] | undefined = [];
  const answer = (res: http.ServerResponse) => {
    for (const count of [stats, ...groups]) count.now--;
    res.writeHead(200).end();
  };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      stats.received++;
      for (const count of [stats, ...groups]) count.max = Math.max(count.max, ++count.now);
      if (held) held.push(res);
      else answer(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    get held() {
      return held?.length ?? 0;
    },
    /** Answers the request held longest. */
    answerOne() {
      const res = held?.shift();
      if (res) answer(res);
    },
    answerAll() {
      const waiting = held ?? [];
      held = undefined;
      waiting.forEach(answer);
    },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/**
 * A receiver that answers 200 at once until `hold()`, then holds every request until the test
 * answers it (`answerOne(status)`): the dispatcher sees a quick endpoint, then a backlog.
 */
async function startSwitchingReceiver() {
  let holding = false;
  const held: http.ServerResponse[] = [];
  let received = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      if (holding) held.push(res);
      else res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get received() {
      return received;
    },
    get held() {
      return held.filter((res) => !res.destroyed).length;
    },
    hold() {
      holding = true;
    },
    /** Answers the request held longest. */
    answerOne(status: number) {
      held.shift()?.writeHead(status).end();
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('webhook dispatcher', { concurrency: true }, () => {
  test('a receiver that never answers is cut off after 15 s and the timeout is recorded', async (ctx) => {
    // The sender's timers move by hand: the shipped 15 s pass without waiting for them, and a
    // busy machine cannot stretch them.
    const timers = manualTimers();
    const s = await scenario(ctx, {}, undefined, { timers });
    const r = await s.receiver(() => 'hang');
    const endpoint = await s.endpoint(`${r.url}/hang`, ['webhook.test']);
    assert.equal((await s.t.request('POST', `/api/v1/webhooks/${endpoint.id}/test`, { key: s.key })).status, 202);
    await r.waitFor(1);
    timers.advance(15_000);
    const [d] = await s.attempted(endpoint.id, 1, 1);
    assert.deepEqual([d.status, d.lastStatusCode, d.lastError], ['pending', null, 'timeout']);
    const [a] = d.attempts;
    assert.deepEqual([a.outcome, a.statusCode, a.errorClass], ['failure', null, 'timeout']);
    assert.equal(a.durationMs, 15_000, 'cut off by the 15 s timer, not before');
    assert.ok(Date.parse(d.nextAttemptAt) - s.clock.now() >= 0.8 * DELAYS[0]!, 'and retried later like any failure');
  });

  describe('deliveries', { concurrency: 1 }, () => {
    test('every event type arrives at each subscribed, enabled endpoint with the documented body, and verifies', async (ctx) => {
      const s = await scenario(ctx);
      const all = await s.receiver();
      const createdOnly = await s.receiver();
      const off = await s.receiver();
      const everything = await s.endpoint(`${all.url}/all`, ALL_EVENTS);
      const created = await s.endpoint(`${createdOnly.url}/created`, ['link.created']);
      const disabled = await s.endpoint(`${off.url}/off`, ALL_EVENTS, { enabled: false });

      /** Runs a change at a new fake time; waits until `everything` has the event it causes. */
      const at = async <T>(type: string, change: () => Promise<T>): Promise<{ value: T; time: number; hook: ReceivedWebhook }> => {
        s.clock.advance(60_000);
        const time = s.clock.now();
        const value = await change();
        return { value, time, hook: await all.waitForEvent(type) };
      };
      const linkCreated = await at('link.created', () => s.link({ url: 'https://example.com/launch', title: 'Launch', tags: ['spring'] }));
      const link = linkCreated.value;
      const linkUpdated = await at('link.updated', async () => {
        const res = await s.t.request('PATCH', `/api/v1/links/${link.id}`, { key: s.key, body: { title: 'Launch day' } });
        assert.equal(res.status, 200);
        return res.json;
      });
      const linkClicked = await at('link.clicked', async () => {
        const res = await s.t.request('GET', `/${link.slug}`, { headers: { 'user-agent': BROWSER_UA, referer: 'https://news.example/post' } });
        assert.equal(res.status, 302);
        await s.t.flushClicks();
        return (await s.t.request('GET', `/api/v1/links/${link.id}`, { key: s.key })).json;
      });
      const tested = await at('webhook.test', async () => {
        const res = await s.t.request('POST', `/api/v1/webhooks/${everything.id}/test`, { key: s.key });
        assert.equal(res.status, 202);
        return res.json;
      });
      const testBody = JSON.parse(tested.hook.body);
      assert.ok(typeof testBody.data.message === 'string' && testBody.data.message.length > 0, 'a human-readable message');
      const testMessage: string = testBody.data.message;
      const linkDeleted = await at('link.deleted', async () => {
        const before = (await s.t.request('GET', `/api/v1/links/${link.id}`, { key: s.key })).json;
        assert.equal((await s.t.request('DELETE', `/api/v1/links/${link.id}`, { key: s.key })).status, 204);
        return before;
      });

      const expected: Record<string, { time: number; data: unknown }> = {
        'link.created': { time: linkCreated.time, data: link },
        'link.updated': { time: linkUpdated.time, data: linkUpdated.value },
        'link.clicked': {
          time: linkClicked.time,
          data: {
            link: linkClicked.value,
            // The raw user agent only when the instance keeps them (off by default); its classes always.
            click: {
              at: iso(linkClicked.time),
              bot: false,
              qr: false,
              referrer: 'https://news.example/post',
              referrerHost: 'news.example',
              device: 'desktop',
              browser: 'Chrome',
              os: 'Windows',
              country: null,
              userAgent: null,
            },
          },
        },
        'webhook.test': { time: tested.time, data: { endpointId: everything.id, message: testMessage } },
        'link.deleted': { time: linkDeleted.time, data: linkDeleted.value },
      };
      assert.equal(linkClicked.value.clicks, 1, 'the clicked link is shown with its click counted');

      const log = (await s.t.request('GET', '/api/v1/events', { key: s.key })).json.data as any[];
      const stored = await s.deliveries(everything.id);
      // One of each, whatever the order they came in; a repeated request (at-least-once) counts once.
      assert.deepEqual(all.events().map((hook) => JSON.parse(hook.body).type).sort(), Object.keys(expected).sort());
      for (const hook of all.events()) {
        const body = JSON.parse(hook.body);
        const want = expected[body.type];
        assert.ok(want, `unexpected ${body.type}`);
        assert.deepEqual(Object.keys(body), ['type', 'timestamp', 'data'], body.type);
        assert.equal(body.timestamp, iso(want.time), `${body.type}: the time of the change`);
        assert.deepEqual(body.data, want.data, body.type);
        // Headers (Standard Webhooks), and the signature checked by an independent implementation.
        assert.equal(hook.headers['content-type'], 'application/json');
        assert.match(String(hook.headers['user-agent']), /^LinkQR\/\S+/);
        assert.equal(hook.headers['webhook-timestamp'], String(Math.floor(want.time / 1000)), `${body.type}: the attempt's time`);
        assert.match(String(hook.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]{43}=$/);
        assert.deepEqual(verify(everything.secret, hook, want.time), body);
        assert.throws(() => verify(created.secret, hook, want.time), WebhookVerificationError, "another endpoint's secret does not verify");
        // webhook-id is the event id; the bytes are the ones stored in the outbox.
        const event = log.find((e) => e.id === hook.headers['webhook-id']);
        assert.ok(event, `${body.type}: webhook-id is an event of the log`);
        assert.deepEqual({ ...body, id: event.id }, event);
        assert.equal(stored.find((d) => d.eventId === event.id)?.body, hook.body, `${body.type}: sent as stored`);
      }
      assert.equal(tested.value.eventId, all.received.find((h) => JSON.parse(h.body).type === 'webhook.test')!.headers['webhook-id']);

      // The link.created-only endpoint got that event (same id, same bytes) and none of the others.
      assert.equal(createdOnly.events().length, 1);
      const [only] = createdOnly.events();
      const original = all.received.find((h) => JSON.parse(h.body).type === 'link.created')!;
      assert.equal(only!.headers['webhook-id'], original.headers['webhook-id']);
      assert.equal(only!.body, original.body);
      assert.ok(verify(created.secret, only!, linkCreated.time));
      assert.deepEqual((await s.deliveries(created.id)).map((d) => d.eventType), ['link.created']);
      // The disabled endpoint got nothing and has no deliveries waiting.
      assert.equal(off.received.length, 0);
      assert.deepEqual(await s.deliveries(disabled.id), []);
      await eventually(async () => (await s.deliveries(everything.id)).every((d) => d.status === 'succeeded'));
    });

    test('commits wake the dispatcher: a delivery leaves right after the change, not at the next poll', async (ctx) => {
      // No poll during the test: every delivery that arrives was sent because its commit woke the dispatcher.
      const s = await scenario(ctx, {}, { pollMs: 3_600_000 });
      const r = await s.receiver();
      await s.endpoint(`${r.url}/fast`, ['link.created']);
      for (let i = 0; i < 7; i++) {
        await s.link({ url: `https://example.com/fast/${i}` });
        await r.waitFor(i + 1);
      }
      assert.equal(r.events().length, 7);
    });

    test('signatures during a rotation: both secrets verify in the grace period, then only the new one', async (ctx) => {
      const s = await scenario(ctx);
      const r = await s.receiver();
      const endpoint = await s.endpoint(`${r.url}/rotating`, ['webhook.test']);
      const sendTest = async () => {
        const n = r.received.length;
        assert.equal((await s.t.request('POST', `/api/v1/webhooks/${endpoint.id}/test`, { key: s.key })).status, 202);
        await r.waitFor(n + 1);
        return r.received[n]!;
      };
      const rotate = async (graceSeconds: number) => {
        const res = await s.t.request('POST', `/api/v1/webhooks/${endpoint.id}/rotate-secret`, { key: s.key, body: { graceSeconds } });
        assert.equal(res.status, 200, res.text);
        return res.json.secret as string;
      };
      const signatures = (hook: ReceivedWebhook) => String(hook.headers['webhook-signature']).split(' ');

      const before = await sendTest();
      assert.equal(signatures(before).length, 1);
      assert.ok(verify(endpoint.secret, before, s.clock.now()));

      const second = await rotate(3600);
      s.clock.advance(3_599_000);
      const during = await sendTest();
      assert.equal(signatures(during).length, 2, 'two signatures, separated by a space');
      for (const sig of signatures(during)) assert.match(sig, /^v1,[A-Za-z0-9+/]{43}=$/);
      assert.ok(verify(second, during, s.clock.now()), 'the new secret verifies');
      assert.ok(verify(endpoint.secret, during, s.clock.now()), 'the old secret still verifies');
      // Each signature on its own: one per secret, not two copies of the same.
      for (const [secret, sig] of [[second, signatures(during)[0]!], [endpoint.secret, signatures(during)[1]!]] as const) {
        assert.ok(verify(secret, { ...during, headers: { ...during.headers, 'webhook-signature': sig } }, s.clock.now()));
      }

      s.clock.advance(2_000);
      const afterGrace = await sendTest();
      assert.equal(signatures(afterGrace).length, 1);
      assert.ok(verify(second, afterGrace, s.clock.now()));
      assert.throws(() => verify(endpoint.secret, afterGrace, s.clock.now()), WebhookVerificationError, 'the old secret is retired');

      const third = await rotate(0);
      const immediate = await sendTest();
      assert.equal(signatures(immediate).length, 1, 'graceSeconds 0: no overlap');
      assert.ok(verify(third, immediate, s.clock.now()));
      assert.throws(() => verify(second, immediate, s.clock.now()), WebhookVerificationError);
    });

    test('failures are retried on the schedule with ±20% jitter, then the delivery fails; a redelivery succeeds with the same webhook-id', async (ctx) => {
      const s = await scenario(ctx);
      let status = 500;
      const r = await s.receiver(() => ({ status, body: 'E'.repeat(30_000) }));
      const endpoint = await s.endpoint(`${r.url}/flaky`, ['link.created']);
      const checkpoint = await sentinel(s);
      const N = 12;
      const links = [];
      for (let i = 0; i < N; i++) links.push(await s.link({ url: `https://example.com/flaky/${i}` }));
      const start = s.clock.now();
      const rounds: number[] = [start];

      for (let attempt = 1; attempt <= DELAYS.length + 1; attempt++) {
        await r.waitFor(N * attempt);
        const ds = await s.attempted(endpoint.id, N, attempt);
        const at = rounds.at(-1)!;
        for (const d of ds) {
          assert.equal(d.attempts.length, attempt);
          const last = d.attempts.at(-1);
          assert.deepEqual([last.at, last.outcome, last.statusCode, last.errorClass], [iso(at), 'failure', 500, 'http_error']);
          assert.equal(last.responseExcerpt, 'E'.repeat(20_000), 'the first 20 KB of the answer are kept');
          assert.equal(d.lastStatusCode, 500);
        }
        const state = await s.endpointState(endpoint.id);
        assert.deepEqual([state.enabled, state.failingSince, state.lastSuccessAt], [true, iso(start), null]);
        if (attempt > DELAYS.length) {
          for (const d of ds) assert.deepEqual([d.status, d.nextAttemptAt], ['failed', null], 'after the last retry');
          break;
        }
        const delay = DELAYS[attempt - 1]!;
        const next = ds.map((d) => Date.parse(d.nextAttemptAt));
        for (const n of next) {
          assert.ok(n - at >= 0.8 * delay && n - at <= 1.2 * delay, `retry ${attempt} after ${n - at} ms, schedule says ${delay} ms ±20%`);
        }
        assert.ok(new Set(next).size > 1, 'jittered: receivers that failed together do not retry together');
        // The link changes meanwhile; its link.created retries still carry the bytes first stored.
        await s.t.request('PATCH', `/api/v1/links/${links[0].id}`, { key: s.key, body: { title: `changed ${attempt}` } });
        // Just before the first retry is due nothing is sent…
        s.clock.set(Math.min(...next) - 1);
        await checkpoint();
        assert.equal(r.received.length, N * attempt);
        assert.equal(await s.leased(endpoint.id), 0);
        // …and once the last one is due, all are.
        s.clock.set(Math.max(...next));
        rounds.push(s.clock.now());
        s.t.server.dispatcher.wake();
      }

      // Every attempt of an event: same webhook-id, same bytes, its own timestamp, and it verifies.
      const byId = new Map<string, ReceivedWebhook[]>();
      for (const h of r.received) byId.set(String(h.headers['webhook-id']), [...(byId.get(String(h.headers['webhook-id'])) ?? []), h]);
      assert.equal(byId.size, N);
      for (const copies of byId.values()) {
        assert.equal(copies.length, rounds.length);
        assert.ok(copies.every((c) => c.body === copies[0]!.body));
        copies.forEach((c, i) => {
          assert.equal(c.headers['webhook-timestamp'], String(Math.floor(rounds[i]! / 1000)));
          assert.equal(verify(endpoint.secret, c, rounds[i]!).type, 'link.created');
        });
        assert.equal(JSON.parse(copies[0]!.body).data.title, null);
      }

      // Nothing more happens on its own…
      s.clock.advance(30 * DAY);
      await checkpoint();
      assert.equal(r.received.length, N * rounds.length);
      // …until a person asks for a redelivery: a new delivery of the same event.
      status = 200;
      const failed = (await s.deliveries(endpoint.id))[0];
      const res = await s.t.request('POST', `/api/v1/webhooks/deliveries/${failed.id}/redeliver`, { key: s.key });
      assert.equal(res.status, 202, res.text);
      await r.waitFor(N * rounds.length + 1);
      const redelivered = r.received.at(-1)!;
      assert.equal(redelivered.headers['webhook-id'], failed.eventId);
      assert.equal(redelivered.body, failed.body);
      assert.ok(verify(endpoint.secret, redelivered, s.clock.now()));
      const ds = await eventually(async () => {
        const list = await s.deliveries(endpoint.id);
        return list.at(-1)?.status === 'succeeded' && list;
      });
      assert.deepEqual([ds.at(-1).redeliveryOf, ds.at(-1).attemptCount, ds[0].status], [failed.id, 1, 'failed']);
      const state = await s.endpointState(endpoint.id);
      assert.deepEqual([state.failingSince, state.lastSuccessAt, state.enabled], [null, iso(s.clock.now()), true]);
    });

    test('429 and 503 honour Retry-After (seconds or a date), clamped to 1 s … 1 day; without a usable one the schedule applies', async (ctx) => {
      const s = await scenario(ctx);
      const start = s.clock.now();
      const cases: Array<{ name: string; status: number; retryAfter?: string; delay: [number, number] }> = [
        { name: 'Retry-After: 120', status: 429, retryAfter: '120', delay: [120_000, 120_000] },
        { name: 'Retry-After: 0, raised to 1 s', status: 503, retryAfter: '0', delay: [1_000, 1_000] },
        { name: 'Retry-After: a year, capped at a day', status: 429, retryAfter: String(365 * 86_400), delay: [DAY, DAY] },
        { name: 'Retry-After as an HTTP date', status: 503, retryAfter: new Date(start + 600_000).toUTCString(), delay: [600_000, 600_000] },
        { name: 'no Retry-After', status: 429, delay: [8_000, 12_000] },
        { name: 'an unreadable Retry-After', status: 503, retryAfter: 'in a while', delay: [8_000, 12_000] },
      ];
      const caseOf = (hook: ReceivedWebhook) => Number(/\/case\/(\d+)$/.exec(JSON.parse(hook.body).data.url)![1]);
      const attemptsOf = new Map<number, number>();
      const r = await s.receiver((hook) => {
        const i = caseOf(hook);
        attemptsOf.set(i, (attemptsOf.get(i) ?? 0) + 1);
        const c = cases[i]!;
        if (attemptsOf.get(i)! > 1) return { status: 200 };
        const headers: Record<string, string> = c.retryAfter === undefined ? {} : { 'retry-after': c.retryAfter };
        return { status: c.status, headers };
      });
      const endpoint = await s.endpoint(`${r.url}/busy`, ['link.created']);
      for (let i = 0; i < cases.length; i++) await s.link({ url: `https://example.com/case/${i}` });
      const ds = await s.attempted(endpoint.id, cases.length);
      ds.forEach((d, i) => {
        const c = cases[i]!;
        assert.equal(JSON.parse(d.body).data.url, `https://example.com/case/${i}`);
        assert.deepEqual([d.status, d.attempts[0].outcome, d.attempts[0].statusCode], ['pending', 'throttled', c.status], c.name);
        const delay = Date.parse(d.nextAttemptAt) - start;
        assert.ok(delay >= c.delay[0] && delay <= c.delay[1], `${c.name}: retry after ${delay} ms, expected ${c.delay}`);
      });
      // Two minutes later: the 1 s, 120 s and schedule cases are retried; the 10 min and 1 day ones wait.
      s.clock.advance(120_000);
      await s.drain();
      await r.waitFor(cases.length + 4);
      assert.deepEqual([...attemptsOf.entries()].filter(([, n]) => n > 1).map(([i]) => i).sort(), [0, 1, 4, 5]);
      s.clock.advance(DAY);
      await s.drain();
      await r.waitFor(cases.length * 2);
      await eventually(async () => (await s.deliveries(endpoint.id)).every((d) => d.status === 'succeeded'));
    });

    test('redirects are not followed; other answers and connection errors are recorded as failures', async (ctx) => {
      const s = await scenario(ctx);
      const target = await s.receiver();
      const closed = await startReceiver();
      await closed.close();
      const cases: Array<{ name: string; answer: Answer | null; outcome: string; statusCode: number | null; errorClass: string | null; excerpt?: string }> = [
        { name: '301', answer: { status: 301, headers: { location: `${target.url}/moved` } }, outcome: 'failure', statusCode: 301, errorClass: 'redirect' },
        { name: '302', answer: { status: 302, headers: { location: `${target.url}/moved` } }, outcome: 'failure', statusCode: 302, errorClass: 'redirect' },
        { name: '307', answer: { status: 307, headers: { location: `${target.url}/moved` } }, outcome: 'failure', statusCode: 307, errorClass: 'redirect' },
        { name: '308', answer: { status: 308, headers: { location: `${target.url}/moved` } }, outcome: 'failure', statusCode: 308, errorClass: 'redirect' },
        { name: '404', answer: { status: 404, body: 'no such hook' }, outcome: 'failure', statusCode: 404, errorClass: 'http_error', excerpt: 'no such hook' },
        { name: '400', answer: { status: 400 }, outcome: 'failure', statusCode: 400, errorClass: 'http_error' },
        { name: 'connection dropped', answer: 'destroy', outcome: 'failure', statusCode: null, errorClass: 'connection_reset' },
        { name: 'nothing listening', answer: null, outcome: 'failure', statusCode: null, errorClass: 'connection_refused' },
        { name: '204', answer: { status: 204 }, outcome: 'success', statusCode: 204, errorClass: null },
        { name: '202 with a 50 KB body', answer: { status: 202, body: 'ok'.repeat(25_000) }, outcome: 'success', statusCode: 202, errorClass: null, excerpt: 'ok'.repeat(10_000) },
      ];
      const endpoints = [];
      for (const c of cases) {
        const url = c.answer === null ? `${closed.url}/hooks` : `${(await s.receiver(() => c.answer!)).url}/hooks`;
        endpoints.push(await s.endpoint(url, ['webhook.test']));
      }
      for (const e of endpoints) assert.equal((await s.t.request('POST', `/api/v1/webhooks/${e.id}/test`, { key: s.key })).status, 202);
      for (const [i, c] of cases.entries()) {
        const [d] = await s.attempted(endpoints[i]!.id, 1);
        const [a] = d.attempts;
        assert.deepEqual([a.outcome, a.statusCode, a.errorClass], [c.outcome, c.statusCode, c.errorClass], c.name);
        assert.equal(d.status, c.outcome === 'success' ? 'succeeded' : 'pending', c.name);
        if (c.excerpt !== undefined) assert.equal(a.responseExcerpt, c.excerpt, c.name);
        if (c.outcome === 'failure') assert.ok(typeof a.errorDetail === 'string' && a.errorDetail.length > 0, c.name);
      }
      assert.equal(target.received.length, 0, 'no redirect was followed');
    });

    describe('deliveries held ahead for an endpoint that answers quickly', () => {
      /** An endpoint that answered once, then 30 changes held at the receiver: 8 sent, more held ahead. */
      const heldAhead = async (ctx: TestContext) => {
        // Any answer counts as quick here, and what is held waits as long as it takes, however slow
        // the machine running the test.
        const s = await scenario(ctx, {}, { quickAnswerMs: 60_000, holdAheadMs: 60_000 });
        const r = await startSwitchingReceiver();
        s.closeFirst(r.close);
        const endpoint = await s.endpoint(`${r.url}/hooks`, ['link.created']);
        await s.link();
        await s.attempted(endpoint.id, 1);
        r.hold();
        for (let i = 0; i < 30; i++) await s.link({ url: `https://example.com/backlog/${i}` });
        // The changes come one by one, each topping up what is held ahead (at most 16 in all).
        await eventually(async () => r.held === 8 && (await s.leased(endpoint.id)) >= 12);
        assert.equal(s.t.server.dispatcher.attemptsInFlightTo(endpoint.id), 8);
        assert.ok((await s.leased(endpoint.id)) <= 16);
        return { s, r, endpoint };
      };

      test('more are leased than the 8 sent, 16 at most; stopping gives back those not sent', async (ctx) => {
        const { s, r, endpoint } = await heldAhead(ctx);
        const stopped = s.t.server.dispatcher.stop(0);
        await eventually(async () => (await s.leased(endpoint.id)) === 8);
        await stopped;
        assert.equal(r.received, 1 + 8, 'nothing more was sent');
        const pending = (await s.deliveries(endpoint.id)).filter((d) => d.status === 'pending');
        assert.equal(pending.length, 30);
      });

      test('a 410 disables the endpoint and gives back what it held: none of those is sent or failed', async (ctx) => {
        const { s, r, endpoint } = await heldAhead(ctx);
        r.answerOne(410);
        await eventually(async () => (await s.endpointState(endpoint.id)).enabled === false && (await s.leased(endpoint.id)) === 0);
        // The other 7 attempts in flight were cut off (no outcome), and the 8 held ahead never went out.
        assert.equal(r.received, 1 + 8);
        const ds = await s.deliveries(endpoint.id);
        assert.deepEqual(
          [ds.filter((d) => d.status === 'succeeded').length, ds.filter((d) => d.status === 'failed').length],
          [1, 1],
        );
        const pending = ds.filter((d) => d.status === 'pending');
        assert.equal(pending.length, 29);
        assert.ok(pending.every((d) => d.attemptCount === 0), 'the pending ones wait for the endpoint to be enabled, untried');
      });
    });

    test('410 disables the endpoint with a reason; its pending deliveries wait, it gets no new ones, and enabling it resumes them', async (ctx) => {
      const s = await scenario(ctx);
      let answer = (hook: ReceivedWebhook): Answer => ({ status: JSON.parse(hook.body).data.url.endsWith('/gone') ? 410 : 500 });
      const r = await s.receiver((hook) => answer(hook));
      const endpoint = await s.endpoint(`${r.url}/hooks`, ['link.created']);
      const checkpoint = await sentinel(s);
      await s.link({ url: 'https://example.com/first' });
      await s.link({ url: 'https://example.com/second' });
      await s.attempted(endpoint.id, 2);
      await s.link({ url: 'https://example.com/gone' });
      const ds = await s.attempted(endpoint.id, 3);
      assert.deepEqual(ds.map((d) => [d.status, d.attempts[0].outcome, d.lastStatusCode]), [
        ['pending', 'failure', 500],
        ['pending', 'failure', 500],
        ['failed', 'gone', 410],
      ]);
      const state = await s.endpointState(endpoint.id);
      assert.equal(state.enabled, false);
      assert.match(state.disabledReason, /410/);

      // The two pending retries come due, but the endpoint is disabled: they are not sent.
      s.clock.advance(DAY);
      await checkpoint();
      assert.equal(r.received.length, 3);
      assert.equal(await s.leased(endpoint.id), 0);
      assert.deepEqual((await s.deliveries(endpoint.id)).map((d) => d.attemptCount), [1, 1, 1]);
      // Changes made while it is disabled are not queued for it.
      await s.link({ url: 'https://example.com/while-disabled' });
      await checkpoint();
      assert.equal((await s.deliveries(endpoint.id)).length, 3);

      // Enabled again (the receiver is back): the waiting deliveries go out at once, with no clock move.
      answer = () => ({ status: 200 });
      const enabled = await s.t.request('PATCH', `/api/v1/webhooks/${endpoint.id}`, { key: s.key, body: { enabled: true } });
      assert.deepEqual([enabled.json.enabled, enabled.json.disabledReason], [true, null]);
      await r.waitFor(5);
      const after = await eventually(async () => {
        const list = await s.deliveries(endpoint.id);
        return list.filter((d) => d.status === 'succeeded').length === 2 && list;
      });
      assert.deepEqual(after.map((d) => [d.status, d.attemptCount]), [['succeeded', 2], ['succeeded', 2], ['failed', 1]]);
      assert.deepEqual(r.received.slice(3).map((h) => JSON.parse(h.body).data.url).sort(), ['https://example.com/first', 'https://example.com/second']);
      await checkpoint();
      assert.equal(r.received.length, 5, 'the change made while disabled is not delivered later');
      assert.equal((await s.endpointState(endpoint.id)).lastSuccessAt, iso(s.clock.now()));
    });

    test('an endpoint failing for 5 days without a success is disabled with the reason; a success restarts the count', async (ctx) => {
      const s = await scenario(ctx);
      let healthy = false;
      const r = await s.receiver(() => ({ status: healthy ? 200 : 500 }));
      const endpoint = await s.endpoint(`${r.url}/hooks`, ['link.created']);
      const checkpoint = await sentinel(s);
      const t0 = s.clock.now();
      const change = async (atMs: number) => {
        s.clock.set(atMs);
        const n = r.received.length;
        await s.link({ url: `https://example.com/at/${atMs}` });
        await r.waitFor(n + 1);
        await s.drain();
        return s.endpointState(endpoint.id);
      };
      assert.equal((await change(t0)).failingSince, iso(t0));
      assert.equal((await change(t0 + 4 * DAY)).enabled, true, '4 days');
      healthy = true;
      const recovered = await change(t0 + 4 * DAY + 3_600_000);
      assert.deepEqual([recovered.failingSince, recovered.lastSuccessAt], [null, iso(t0 + 4 * DAY + 3_600_000)]);
      healthy = false;
      const since = t0 + 5 * DAY;
      assert.equal((await change(since)).failingSince, iso(since));
      // Saving the endpoint with enabled: true (as a form does) while it is enabled is no fresh start.
      const saved = await s.t.request('PATCH', `/api/v1/webhooks/${endpoint.id}`, { key: s.key, body: { description: 'edited', enabled: true } });
      assert.equal(saved.status, 200, saved.text);
      assert.equal(saved.json.failingSince, iso(since), 'the failure streak goes on');
      assert.equal((await change(since + 5 * DAY - 1_000)).enabled, true, 'just under 5 days since the success');
      const disabled = await change(since + 5 * DAY);
      assert.equal(disabled.enabled, false);
      assert.match(disabled.disabledReason, /5 days/);
      assert.ok(disabled.disabledReason.includes(iso(since)), disabled.disabledReason);
      // Nothing more is sent to it.
      const n = r.received.length;
      s.clock.advance(DAY);
      await s.link({ url: 'https://example.com/after' });
      await checkpoint();
      assert.equal(r.received.length, n);
      assert.equal(await s.leased(endpoint.id), 0);
    });

    test('concurrency is bounded: at most 8 attempts per endpoint, 16 per workspace and 64 in all', async (ctx) => {
      // Held attempts never time out: the sender's timers do not move.
      const s = await scenario(ctx, {}, undefined, { timers: manualTimers() });
      const keys = new Map([['Acme', s.key]]);
      const keyOf = async (workspace: string) => keys.get(workspace) ?? keys.set(workspace, await s.t.key({ workspace })).get(workspace)!;
      const addEndpoint = async (workspace: string, ...groups: InFlightCount[]) => {
        const receiver = await startHoldingReceiver(...groups);
        ctx.after(receiver.close);
        const res = await s.t.request('POST', '/api/v1/webhooks', { key: await keyOf(workspace), body: { url: `${receiver.url}/hooks`, events: ['link.created'] } });
        assert.equal(res.status, 201, res.text);
        return receiver;
      };
      /**
       * Holds every request until `inFlight` reaches `bound` with every attempt the dispatcher
       * has started arrived (one beyond the bound would hold it up until the test fails); then
       * three times answers one and waits for the bound to be reached again (the refill must not
       * go beyond it either); then lets the receivers answer everything.
       */
      const saturate = async (rs: Awaited<ReturnType<typeof addEndpoint>>[], inFlight: InFlightCount, bound: number) => {
        const saturated = () => inFlight.now === bound && s.t.server.dispatcher.attemptsInFlight === bound;
        await eventually(saturated);
        for (let i = 0; i < 3; i++) {
          rs.find((r) => r.held > 0)!.answerOne();
          await eventually(saturated);
        }
        for (const r of rs) r.answerAll();
      };
      const burst = async (workspace: string, n: number) => {
        const key = await keyOf(workspace);
        await Promise.all(
          Array.from({ length: n }, async (_, i) => {
            const res = await s.t.request('POST', '/api/v1/links', { key, body: { url: `https://example.com/burst/${i}` } });
            assert.equal(res.status, 201, res.text);
          }),
        );
      };
      // One endpoint, 20 deliveries due at once.
      const acme: InFlightCount = { now: 0, max: 0 };
      const receivers = [await addEndpoint('Acme', acme)];
      await burst('Acme', 20);
      await saturate(receivers, acme, 8);
      await eventually(() => receivers[0]!.stats.received === 20);
      assert.equal(receivers[0]!.stats.max, 8, 'one endpoint gets 8 attempts at a time, no more');
      // Three endpoints of one workspace, 12 deliveries each: 24 could go at once, 16 do.
      acme.max = 0;
      for (let i = 0; i < 2; i++) receivers.push(await addEndpoint('Acme', acme));
      receivers[0]!.stats.max = 0;
      await burst('Acme', 12);
      await saturate(receivers.slice(1), acme, 16);
      await eventually(() => receivers.every((r, i) => r.stats.received === (i === 0 ? 32 : 12)));
      for (const r of receivers) assert.ok(r.stats.max <= 8, `one endpoint had ${r.stats.max} attempts in flight`);
      assert.equal(acme.max, 16, 'one workspace gets 16 attempts at a time, no more');
      // Five workspaces of three endpoints, 6 deliveries each: 90 could go at once, 80 within the
      // workspace bound, 64 do.
      const all: InFlightCount = { now: 0, max: 0 };
      const workspaces = ['W1', 'W2', 'W3', 'W4', 'W5'].map((name) => ({ name, count: { now: 0, max: 0 }, receivers: [] as typeof receivers }));
      for (const w of workspaces) for (let i = 0; i < 3; i++) w.receivers.push(await addEndpoint(w.name, w.count, all));
      await Promise.all(workspaces.map((w) => burst(w.name, 6)));
      await saturate(workspaces.flatMap((w) => w.receivers), all, 64);
      await eventually(() => workspaces.every((w) => w.receivers.every((r) => r.stats.received === 6)));
      for (const w of workspaces) assert.ok(w.count.max <= 16, `${w.name} had ${w.count.max} attempts in flight`);
      assert.equal(all.max, 64, 'the overall bound is used, and holds');
    });

    test('an endpoint with a large backlog that hangs does not hold up other endpoints', async (ctx) => {
      // The sender's timers never move: the hanging attempts stay in flight however long this takes.
      const s = await scenario(ctx, {}, undefined, { timers: manualTimers() });
      const stuck = await s.receiver(() => 'hang');
      const healthy = await s.receiver();
      const slow = await s.endpoint(`${stuck.url}/hooks`, ['link.created']);
      await s.endpoint(`${healthy.url}/hooks`, ['link.updated']);
      // More due deliveries for the hanging endpoint than one claim looks at (1,000).
      const links: any[] = [];
      for (let batch = 0; batch < 41; batch++) {
        links.push(...(await Promise.all(Array.from({ length: 25 }, (_, i) => s.link({ url: `https://example.com/backlog/${batch}/${i}` })))));
      }
      await stuck.waitFor(8);
      s.clock.advance(1);
      const res = await s.t.request('PATCH', `/api/v1/links/${links[0].id}`, { key: s.key, body: { title: 'urgent' } });
      assert.equal(res.status, 200);
      await healthy.waitFor(1);
      assert.equal(JSON.parse(healthy.received[0]!.body).type, 'link.updated');
      assert.equal(stuck.received.length, 8, 'the hanging endpoint stays at its bound');
      // Deleting it drops its backlog, so closing the test does not send it all.
      assert.equal((await s.t.request('DELETE', `/api/v1/webhooks/${slow.id}`, { key: s.key })).status, 204);
    });

    test('a change that fails leaves no event and no delivery', async (ctx) => {
      const s = await scenario(ctx);
      const r = await s.receiver();
      const endpoint = await s.endpoint(`${r.url}/hooks`, ALL_EVENTS);
      const counts = async () =>
        (await s.t.store.db.row<{ events: number; deliveries: number; links: number }>(
          'select (select count(*) from events) as events, (select count(*) from webhook_deliveries) as deliveries, (select count(*) from links) as links',
        ))!;
      const taken = await s.link({ url: 'https://example.com/taken', slug: 'taken' });
      const other = await s.link({ url: 'https://example.com/other', slug: 'other' });
      await r.waitFor(2);
      const before = await counts();
      assert.deepEqual(before, { events: 2, deliveries: 2, links: 2 });
      const failures: Array<[string, string, string, unknown, number]> = [
        ['create with a slug that is taken', 'POST', '/api/v1/links', { url: 'https://example.com/again', slug: 'taken' }, 409],
        ['rename to a slug that is taken', 'PATCH', `/api/v1/links/${other.id}`, { slug: 'taken' }, 409],
        ['create with an invalid field', 'POST', '/api/v1/links', { url: 'ftp://example.com/x' }, 400],
        ['delete a link that does not exist', 'DELETE', '/api/v1/links/lnk_0000000000000000000A', undefined, 404],
      ];
      for (const [name, method, path, body, status] of failures) {
        const res = await s.t.request(method, path, { key: s.key, body });
        assert.equal(res.status, status, `${name}: ${res.text}`);
        assert.deepEqual(await counts(), before, name);
      }
      // Concurrent creates of one slug: one commits with its event, the others leave nothing.
      const racing = await Promise.all(
        [1, 2, 3, 4].map((i) => s.t.request('POST', '/api/v1/links', { key: s.key, body: { url: `https://example.com/race/${i}`, slug: 'raced' } })),
      );
      assert.deepEqual(racing.map((res) => res.status).sort(), [201, 409, 409, 409]);
      assert.deepEqual(await counts(), { events: 3, deliveries: 3, links: 3 });
      await r.waitFor(3);
      await s.drain();
      // Each committed change once; the order of deliveries in flight together is not promised.
      assert.deepEqual(r.received.map((h) => JSON.parse(h.body).data.slug).sort(), ['other', 'raced', 'taken']);
      assert.equal((await s.deliveries(endpoint.id)).length, 3);
      assert.equal(taken.slug, 'taken');
    });
  });
});
