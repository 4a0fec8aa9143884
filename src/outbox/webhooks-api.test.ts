import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Scope } from '../keys/scopes.js';
import { eventually, fakeClock, type HttpResult, startTestServer, type TestServer } from '../testing/harness.js';
import { startReceiver } from '../testing/receiver.js';

/** The /api/v1/webhooks and /api/v1/events routes (SPEC §4, §5): shapes, validation, scopes, isolation, plans, SSRF at save. */

const ENDPOINT_FIELDS = [
  'createdAt', 'description', 'disabledReason', 'enabled', 'events', 'failingSince', 'id', 'lastSuccessAt',
  'needsSecretRotation', 'previousSecretExpiresAt', 'updatedAt', 'url',
];
const DELIVERY_FIELDS = [
  'attemptCount', 'attempts', 'body', 'createdAt', 'endpointId', 'eventId', 'eventType', 'id', 'lastError', 'lastStatusCode',
  'nextAttemptAt', 'redeliveryOf', 'status', 'updatedAt',
];
const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DAY_MS = 86_400_000;

function assertProblem(res: HttpResult, status: number, code: string, fields?: string[]) {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json\b/);
  assert.equal(res.json.status, status);
  assert.equal(res.json.code, code, res.text);
  assert.equal(typeof res.json.detail, 'string');
  if (fields) {
    assert.ok(Array.isArray(res.json.errors), res.text);
    for (const e of res.json.errors) assert.ok(typeof e.message === 'string' && e.message.length > 0, res.text);
    assert.deepEqual([...new Set(res.json.errors.map((e: { field: string }) => e.field))].sort(), [...fields].sort(), res.text);
  }
  return res.json;
}

/** Puts a workspace on a new plan (instance admins edit plans rows; there is no API for it). */
async function setPlan(t: TestServer, workspace: string, plan: { features?: Record<string, boolean>; limits?: Record<string, number> }) {
  const db = t.store.db;
  const id = `pln_test_${workspace.toLowerCase()}_${Math.random().toString(36).slice(2, 8)}`;
  const features = { api: true, webhooks: true, qr: true, analytics: true, ...plan.features };
  await db.exec(
    'insert into plans (id, name, features, limits, created_at, updated_at) values (?, ?, ?, ?, 0, 0)',
    id, id, JSON.stringify(features), JSON.stringify(plan.limits ?? {}),
  );
  await db.exec('update workspaces set plan_id = ? where name = ?', id, workspace);
}

describe('webhooks API', () => {
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const clock = fakeClock(Date.now());
  let admin: string;
  let hookUrl: string;

  const create = async (body: Record<string, unknown>, key = admin) => {
    const res = await t.request('POST', '/api/v1/webhooks', { key, body });
    assert.equal(res.status, 201, res.text);
    return res.json;
  };
  const createLink = async (key = admin, body: Record<string, unknown> = { url: 'https://example.com/landing' }) => {
    const res = await t.request('POST', '/api/v1/links', { key, body });
    assert.equal(res.status, 201, res.text);
    return res.json;
  };
  const deliveriesOf = async (endpointId: string, query = '', key = admin) => {
    const res = await t.request('GET', `/api/v1/webhooks/${endpointId}/deliveries${query}`, { key });
    assert.equal(res.status, 200, res.text);
    return res.json as { data: any[]; nextCursor: string | null };
  };

  before(async () => {
    receiver = await startReceiver();
    hookUrl = `${receiver.url}/hooks`;
    t = await startTestServer({ clock, env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' } });
    admin = await t.key({ workspace: 'Acme' });
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  test('create returns the endpoint and its secret, once; get, list and update never show the secret', async () => {
    const res = await t.request('POST', '/api/v1/webhooks', {
      key: admin,
      body: { url: hookUrl, events: ['link.created', 'link.deleted', 'link.created'], description: '  CRM sync  ' },
    });
    assert.equal(res.status, 201, res.text);
    const created = res.json;
    assert.deepEqual(Object.keys(created).sort(), [...ENDPOINT_FIELDS, 'secret'].sort());
    assert.match(created.id, /^whk_[0-9A-Za-z]{20}$/);
    assert.equal(res.headers.get('location'), `/api/v1/webhooks/${created.id}`);
    assert.match(created.secret, SECRET);
    assert.equal(Buffer.from(created.secret.slice('whsec_'.length), 'base64').length, 32, 'whsec_ + base64 of 32 random bytes');
    assert.deepEqual(
      { url: created.url, events: created.events, description: created.description, enabled: created.enabled },
      { url: hookUrl, events: ['link.created', 'link.deleted'], description: 'CRM sync', enabled: true },
      'events are deduplicated and the description trimmed',
    );
    assert.deepEqual(
      [created.disabledReason, created.previousSecretExpiresAt, created.failingSince, created.lastSuccessAt],
      [null, null, null, null],
    );
    assert.equal(created.createdAt, new Date(clock.now()).toISOString());
    assert.equal(created.updatedAt, created.createdAt);

    const other = await create({ url: hookUrl, events: ['webhook.test'], enabled: false });
    assert.notEqual(other.secret, created.secret, 'every endpoint has its own secret');
    assert.equal(other.enabled, false);

    const { secret, ...withoutSecret } = created;
    const got = await t.request('GET', `/api/v1/webhooks/${created.id}`, { key: admin });
    assert.equal(got.status, 200);
    assert.deepEqual(got.json, withoutSecret);
    const listed = await t.request('GET', '/api/v1/webhooks', { key: admin });
    assert.deepEqual(listed.json.data.find((e: { id: string }) => e.id === created.id), withoutSecret);
    const patched = await t.request('PATCH', `/api/v1/webhooks/${created.id}`, { key: admin, body: { description: 'renamed' } });
    assert.equal(patched.status, 200);
    assert.ok(!('secret' in patched.json));

    // The secret appears in no other answer: not even in the deliveries and the event log.
    assertProblem(await t.request('POST', `/api/v1/webhooks/${other.id}/test`, { key: admin }), 409, 'webhook_disabled');
    const link = await createLink();
    await eventually(async () => (await deliveriesOf(created.id)).data[0]?.status === 'succeeded');
    const answers = await Promise.all([
      t.request('GET', `/api/v1/webhooks/${created.id}`, { key: admin }),
      t.request('GET', '/api/v1/webhooks', { key: admin }),
      t.request('GET', `/api/v1/webhooks/${created.id}/deliveries`, { key: admin }),
      t.request('GET', '/api/v1/events', { key: admin }),
      t.request('GET', `/api/v1/links/${link.id}`, { key: admin }),
      t.request('GET', '/api/v1/me', { key: admin }),
    ]);
    for (const a of answers) {
      assert.equal(a.status, 200, a.text);
      assert.ok(!a.text.includes(secret) && !a.text.includes(other.secret), `no secret in ${a.text.slice(0, 200)}`);
      assert.ok(!a.text.includes('whsec_'), 'no secret at all');
    }
    // Endpoints are removed again so that later tests count only their own.
    for (const id of [created.id, other.id]) assert.equal((await t.request('DELETE', `/api/v1/webhooks/${id}`, { key: admin })).status, 204);
  });

  test('update changes url, events, description and enabled, one field at a time', async () => {
    const endpoint = await create({ url: hookUrl, events: ['link.created'] });
    const patch = async (body: Record<string, unknown>) => {
      clock.advance(1_000);
      const res = await t.request('PATCH', `/api/v1/webhooks/${endpoint.id}`, { key: admin, body });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.updatedAt, new Date(clock.now()).toISOString());
      assert.equal(res.json.createdAt, endpoint.createdAt);
      assert.deepEqual((await t.request('GET', `/api/v1/webhooks/${endpoint.id}`, { key: admin })).json, res.json);
      return res.json;
    };
    assert.equal((await patch({ url: `${receiver.url}/v2` })).url, `${receiver.url}/v2`);
    assert.deepEqual((await patch({ events: ['link.updated', 'link.clicked'] })).events, ['link.updated', 'link.clicked']);
    const described = await patch({ description: 'Analytics' });
    assert.deepEqual([described.description, described.url, described.events], ['Analytics', `${receiver.url}/v2`, ['link.updated', 'link.clicked']]);
    assert.equal((await patch({ enabled: false })).enabled, false);
    assert.equal((await patch({ description: '' })).description, '');

    // When LinkQR disabled it (410, 5 days of failures), enabling by hand clears the reason and the streak.
    await t.store.db.exec(
      `update webhook_endpoints set disabled_reason = 'The receiver answered 410 Gone', failing_since = ? where id = ?`,
      clock.now() - DAY_MS,
      endpoint.id,
    );
    const disabled = (await t.request('GET', `/api/v1/webhooks/${endpoint.id}`, { key: admin })).json;
    assert.equal(disabled.disabledReason, 'The receiver answered 410 Gone');
    assert.equal(disabled.failingSince, new Date(clock.now() - DAY_MS).toISOString());
    const enabled = await patch({ enabled: true });
    assert.deepEqual([enabled.enabled, enabled.disabledReason, enabled.failingSince], [true, null, null]);
    assert.equal((await t.request('DELETE', `/api/v1/webhooks/${endpoint.id}`, { key: admin })).status, 204);
  });

  test('delete answers 204 and removes the endpoint with its deliveries', async () => {
    const endpoint = await create({ url: hookUrl, events: ['webhook.test'] });
    const queued = await t.request('POST', `/api/v1/webhooks/${endpoint.id}/test`, { key: admin });
    assert.equal(queued.status, 202, queued.text);
    const deleted = await t.request('DELETE', `/api/v1/webhooks/${endpoint.id}`, { key: admin });
    assert.equal(deleted.status, 204);
    assert.equal(deleted.text, '');
    for (const [method, path] of [
      ['GET', `/api/v1/webhooks/${endpoint.id}`],
      ['DELETE', `/api/v1/webhooks/${endpoint.id}`],
      ['GET', `/api/v1/webhooks/${endpoint.id}/deliveries`],
      ['POST', `/api/v1/webhooks/deliveries/${queued.json.deliveryId}/redeliver`],
    ] as const) {
      assertProblem(await t.request(method, path, { key: admin }), 404, 'not_found');
    }
    const left = (await t.store.db.row<{ n: number }>('select count(*) as n from webhook_deliveries where endpoint_id = ?', endpoint.id))!;
    assert.equal(left.n, 0);
    // The event itself stays in the log.
    const events = (await t.request('GET', '/api/v1/events?type=webhook.test', { key: admin })).json.data;
    assert.ok(events.some((e: { id: string }) => e.id === queued.json.eventId));
  });

  test('list pages through the endpoints with limit, after and nextCursor', async () => {
    const key = await t.key({ workspace: 'Paging' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create({ url: `${hookUrl}/${i}`, events: ['webhook.test'] }, key)).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: HttpResult = await t.request('GET', `/api/v1/webhooks?limit=2${cursor ? `&after=${cursor}` : ''}`, { key });
      assert.equal(res.status, 200, res.text);
      assert.ok(res.json.data.length <= 2);
      for (const e of res.json.data) assert.deepEqual(Object.keys(e).sort(), ENDPOINT_FIELDS);
      seen.push(...res.json.data.map((e: { id: string }) => e.id));
      cursor = res.json.nextCursor;
      pages++;
    } while (cursor);
    assert.deepEqual(seen, ids, 'oldest first, each once');
    assert.equal(pages, 3);
    const all = await t.request('GET', '/api/v1/webhooks', { key });
    assert.deepEqual([all.json.data.length, all.json.nextCursor], [5, null]);
  });

  test('a test event is queued to that endpoint only, and arrives', async () => {
    const endpoint = await create({ url: `${hookUrl}/test-only`, events: ['link.deleted'] });
    const bystander = await create({ url: `${hookUrl}/bystander`, events: ['webhook.test'] });
    const before = receiver.received.length;
    const res = await t.request('POST', `/api/v1/webhooks/${endpoint.id}/test`, { key: admin });
    assert.equal(res.status, 202, res.text);
    assert.deepEqual(Object.keys(res.json).sort(), ['deliveryId', 'eventId']);
    assert.match(res.json.eventId, /^evt_[0-9A-Za-z]{20}$/);
    assert.match(res.json.deliveryId, /^dlv_[0-9A-Za-z]{20}$/);
    await receiver.waitFor(before + 1);
    const delivered = await eventually(async () => {
      const d = (await deliveriesOf(endpoint.id)).data[0];
      return d?.status === 'succeeded' && d;
    });
    assert.deepEqual([delivered.id, delivered.eventId, delivered.eventType], [res.json.deliveryId, res.json.eventId, 'webhook.test']);
    assert.equal(receiver.received.length, before + 1, 'the endpoint subscribed to webhook.test gets nothing');
    assert.equal(receiver.received.at(-1)!.headers['webhook-id'], res.json.eventId);
    assert.deepEqual((await deliveriesOf(bystander.id)).data, []);

    // A disabled endpoint cannot be tested.
    await t.request('PATCH', `/api/v1/webhooks/${endpoint.id}`, { key: admin, body: { enabled: false } });
    assertProblem(await t.request('POST', `/api/v1/webhooks/${endpoint.id}/test`, { key: admin }), 409, 'webhook_disabled');
    for (const id of [endpoint.id, bystander.id]) await t.request('DELETE', `/api/v1/webhooks/${id}`, { key: admin });
  });

  test('rotate-secret returns a new secret; the old one keeps a grace period (default 1 day, 0 for none)', async () => {
    const endpoint = await create({ url: hookUrl, events: ['webhook.test'] });
    const rotate = (body?: unknown) => t.request('POST', `/api/v1/webhooks/${endpoint.id}/rotate-secret`, { key: admin, body });
    const cases: Array<[string, unknown, number | null]> = [
      ['no body: one day', undefined, DAY_MS],
      ['an empty object: one day', {}, DAY_MS],
      ['one hour', { graceSeconds: 3600 }, 3_600_000],
      ['the maximum, 7 days', { graceSeconds: 604_800 }, 7 * DAY_MS],
      ['zero: the old secret stops at once', { graceSeconds: 0 }, null],
    ];
    const secrets = new Set<string>([endpoint.secret]);
    for (const [name, body, graceMs] of cases) {
      clock.advance(1_000);
      const res = await rotate(body);
      assert.equal(res.status, 200, `${name}: ${res.text}`);
      assert.deepEqual(Object.keys(res.json).sort(), [...ENDPOINT_FIELDS, 'secret'].sort(), name);
      assert.match(res.json.secret, SECRET, name);
      assert.ok(!secrets.has(res.json.secret), `${name}: a new secret each time`);
      secrets.add(res.json.secret);
      assert.equal(res.json.previousSecretExpiresAt, graceMs === null ? null : new Date(clock.now() + graceMs).toISOString(), name);
      const got = await t.request('GET', `/api/v1/webhooks/${endpoint.id}`, { key: admin });
      assert.ok(!('secret' in got.json) && !got.text.includes(res.json.secret), `${name}: shown once`);
    }
    await t.request('DELETE', `/api/v1/webhooks/${endpoint.id}`, { key: admin });
  });

  test('deliveries list newest first with their attempts, filter by status, and page; redeliver queues a new delivery of the same event', async () => {
    const endpoint = await create({ url: `${hookUrl}/deliveries`, events: ['link.created'] });
    const links = [];
    for (let i = 0; i < 3; i++) {
      clock.advance(1_000);
      links.push(await createLink(admin, { url: `https://example.com/d/${i}` }));
    }
    const page = await eventually(async () => {
      const p = await deliveriesOf(endpoint.id);
      return p.data.length === 3 && p.data.every((d) => d.status === 'succeeded') && p;
    });
    assert.equal(page.nextCursor, null);
    assert.deepEqual(
      page.data.map((d) => JSON.parse(d.body).data.id),
      links.map((l) => l.id).reverse(),
      'newest first',
    );
    for (const d of page.data) {
      assert.deepEqual(Object.keys(d).sort(), DELIVERY_FIELDS);
      assert.match(d.id, /^dlv_[0-9A-Za-z]{20}$/);
      assert.deepEqual(
        [d.endpointId, d.eventType, d.status, d.attemptCount, d.nextAttemptAt, d.lastStatusCode, d.lastError, d.redeliveryOf],
        [endpoint.id, 'link.created', 'succeeded', 1, null, 200, null, null],
      );
      assert.equal(d.attempts.length, 1);
      const [a] = d.attempts;
      assert.deepEqual(Object.keys(a).sort(), ['at', 'durationMs', 'errorClass', 'errorDetail', 'outcome', 'responseExcerpt', 'statusCode']);
      assert.deepEqual([a.outcome, a.statusCode, a.errorClass, a.errorDetail], ['success', 200, null, null]);
      assert.match(a.at, ISO_UTC);
      assert.ok(Number.isInteger(a.durationMs) && a.durationMs >= 0);
      // The body is what the receiver got, byte for byte.
      assert.ok(receiver.received.some((r) => r.headers['webhook-id'] === d.eventId && r.body === d.body));
    }

    const first = await deliveriesOf(endpoint.id, '?limit=2');
    assert.deepEqual(first.data.map((d) => d.id), page.data.slice(0, 2).map((d) => d.id));
    assert.equal(first.nextCursor, page.data[1].id);
    const second = await deliveriesOf(endpoint.id, `?limit=2&after=${first.nextCursor}`);
    assert.deepEqual([second.data.map((d) => d.id), second.nextCursor], [[page.data[2].id], null]);
    assert.equal((await deliveriesOf(endpoint.id, '?status=succeeded')).data.length, 3);
    assert.deepEqual((await deliveriesOf(endpoint.id, '?status=failed')).data, []);
    assert.deepEqual((await deliveriesOf(endpoint.id, '?status=pending')).data, []);

    const original = page.data[2];
    clock.advance(1_000);
    const redelivered = await t.request('POST', `/api/v1/webhooks/deliveries/${original.id}/redeliver`, { key: admin });
    assert.equal(redelivered.status, 202, redelivered.text);
    assert.deepEqual(Object.keys(redelivered.json).sort(), DELIVERY_FIELDS);
    assert.notEqual(redelivered.json.id, original.id);
    assert.deepEqual(
      [redelivered.json.eventId, redelivered.json.redeliveryOf, redelivered.json.status, redelivered.json.attemptCount, redelivered.json.body],
      [original.eventId, original.id, 'pending', 0, original.body],
    );
    const done = await eventually(async () => {
      const d = (await deliveriesOf(endpoint.id)).data[0];
      return d?.id === redelivered.json.id && d.status === 'succeeded' && d;
    });
    assert.equal(done.attempts.length, 1);
    const copies = receiver.received.filter((r) => r.headers['webhook-id'] === original.eventId);
    assert.equal(copies.length, 2, 'the same webhook-id twice: the receiver can dedupe');
    assert.equal(copies[0]!.body, copies[1]!.body);
    await t.request('DELETE', `/api/v1/webhooks/${endpoint.id}`, { key: admin });
  });

  test('the event log pages oldest first with after/nextCursor, filters by type, and carries the webhook payloads', async () => {
    const key = await t.key({ workspace: 'Eventful' });
    const otherKey = await t.key({ workspace: 'Elsewhere' });
    await createLink(otherKey);
    const expected: { type: string; id: string }[] = [];
    for (let i = 0; i < 4; i++) {
      clock.advance(1_000);
      expected.push({ type: 'link.created', id: (await createLink(key, { url: `https://example.com/e/${i}` })).id });
    }
    clock.advance(1_000);
    const patched = await t.request('PATCH', `/api/v1/links/${expected[0]!.id}`, { key, body: { title: 'Renamed' } });
    assert.equal(patched.status, 200);
    expected.push({ type: 'link.updated', id: expected[0]!.id });
    clock.advance(1_000);
    assert.equal((await t.request('DELETE', `/api/v1/links/${expected[1]!.id}`, { key })).status, 204);
    expected.push({ type: 'link.deleted', id: expected[1]!.id });

    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const res: HttpResult = await t.request('GET', `/api/v1/events?limit=4${cursor ? `&after=${cursor}` : ''}`, { key });
      assert.equal(res.status, 200, res.text);
      seen.push(...res.json.data);
      cursor = res.json.nextCursor;
      if (cursor) assert.equal(cursor, res.json.data.at(-1).id);
    } while (cursor);
    assert.deepEqual(seen.map((e) => [e.type, e.data.id]), expected.map((e) => [e.type, e.id]), 'every change, in order, this workspace only');
    for (const e of seen) {
      assert.deepEqual(Object.keys(e), ['id', 'type', 'timestamp', 'data']);
      assert.match(e.id, /^evt_[0-9A-Za-z]{20}$/);
      assert.match(e.timestamp, ISO_UTC);
    }
    assert.deepEqual([...seen.map((e) => e.id)].sort(), seen.map((e) => e.id), 'ids ascend');
    assert.deepEqual(seen[4].data, patched.json, 'link.updated carries the Link JSON after the change');

    // A consumer that saw the third event asks for what came after.
    const rest = await t.request('GET', `/api/v1/events?after=${seen[2].id}`, { key });
    assert.deepEqual(rest.json.data, seen.slice(3));
    assert.equal(rest.json.nextCursor, null);
    const last = await t.request('GET', `/api/v1/events?after=${seen.at(-1).id}`, { key });
    assert.deepEqual(last.json, { data: [], nextCursor: null });

    const deletedOnly = await t.request('GET', '/api/v1/events?type=link.deleted', { key });
    assert.deepEqual(deletedOnly.json.data, [seen[5]]);
    const createdPage = await t.request('GET', '/api/v1/events?type=link.created&limit=3', { key });
    assert.deepEqual(createdPage.json.data, seen.slice(0, 3));
    assert.equal(createdPage.json.nextCursor, seen[2].id);
    const createdRest = await t.request('GET', `/api/v1/events?type=link.created&after=${createdPage.json.nextCursor}`, { key });
    assert.deepEqual(createdRest.json, { data: [seen[3]], nextCursor: null });
  });

  test('invalid input answers 400 validation_failed naming each field', async () => {
    const endpoint = await create({ url: hookUrl, events: ['webhook.test'] });
    const id = endpoint.id;
    const ok = { url: hookUrl, events: ['link.created'] };
    const cases: Array<[string, string, string, unknown, string[]]> = [
      ['no fields', 'POST', '/api/v1/webhooks', {}, ['url', 'events']],
      ['an empty url', 'POST', '/api/v1/webhooks', { ...ok, url: '' }, ['url']],
      ['a url that is not a URL', 'POST', '/api/v1/webhooks', { ...ok, url: 'not a url' }, ['url']],
      ['a url over 2048 characters', 'POST', '/api/v1/webhooks', { ...ok, url: `${hookUrl}/${'a'.repeat(2048)}` }, ['url']],
      ['a url that is a number', 'POST', '/api/v1/webhooks', { ...ok, url: 42 }, ['url']],
      ['no events', 'POST', '/api/v1/webhooks', { ...ok, events: [] }, ['events']],
      ['events as a string', 'POST', '/api/v1/webhooks', { ...ok, events: 'link.created' }, ['events']],
      ['an unknown event type', 'POST', '/api/v1/webhooks', { ...ok, events: ['link.created', 'link.exploded'] }, ['events.1']],
      ['a description over 500 characters', 'POST', '/api/v1/webhooks', { ...ok, description: 'd'.repeat(501) }, ['description']],
      ['enabled as a string', 'POST', '/api/v1/webhooks', { ...ok, enabled: 'yes' }, ['enabled']],
      ['a secret chosen by the caller', 'POST', '/api/v1/webhooks', { ...ok, secret: 'whsec_bWluZQ==' }, ['secret']],
      ['an array body', 'POST', '/api/v1/webhooks', [ok], ['body']],
      ['an empty patch', 'PATCH', `/api/v1/webhooks/${id}`, {}, ['body']],
      ['a patch with no events', 'PATCH', `/api/v1/webhooks/${id}`, { events: [] }, ['events']],
      ['a patch with an unknown field', 'PATCH', `/api/v1/webhooks/${id}`, { disabledReason: null }, ['disabledReason']],
      ['a patch to a bad URL', 'PATCH', `/api/v1/webhooks/${id}`, { url: 'nope' }, ['url']],
      ['a negative grace period', 'POST', `/api/v1/webhooks/${id}/rotate-secret`, { graceSeconds: -1 }, ['graceSeconds']],
      ['a grace period over 7 days', 'POST', `/api/v1/webhooks/${id}/rotate-secret`, { graceSeconds: 604_801 }, ['graceSeconds']],
      ['a fractional grace period', 'POST', `/api/v1/webhooks/${id}/rotate-secret`, { graceSeconds: 1.5 }, ['graceSeconds']],
      ['a grace period as a string', 'POST', `/api/v1/webhooks/${id}/rotate-secret`, { graceSeconds: '60' }, ['graceSeconds']],
      ['limit 0', 'GET', '/api/v1/webhooks?limit=0', undefined, ['limit']],
      ['limit 101', 'GET', '/api/v1/webhooks?limit=101', undefined, ['limit']],
      ['a made-up cursor', 'GET', '/api/v1/webhooks?after=page2', undefined, ['after']],
      ['an unknown query parameter', 'GET', '/api/v1/webhooks?enabled=true', undefined, ['enabled']],
      ['an unknown delivery status', 'GET', `/api/v1/webhooks/${id}/deliveries?status=done`, undefined, ['status']],
      ['an endpoint id as a deliveries cursor', 'GET', `/api/v1/webhooks/${id}/deliveries?after=${id}`, undefined, ['after']],
      ['an unknown event type filter', 'GET', '/api/v1/events?type=link.exploded', undefined, ['type']],
      ['an event limit of 1000', 'GET', '/api/v1/events?limit=1000', undefined, ['limit']],
      ['a link id as an event cursor', 'GET', '/api/v1/events?after=lnk_0000000000000000000A', undefined, ['after']],
    ];
    for (const [name, method, path, body, fields] of cases) {
      const res = await t.request(method, path, { key: admin, body });
      assertProblem(res, 400, 'validation_failed', fields);
      assert.ok(res.json.errors.every((e: { message: string }) => !e.message.includes('whsec_')), name);
    }
    assertProblem(await t.request('POST', '/api/v1/webhooks', { key: admin, rawBody: '{"url":', headers: { 'content-type': 'application/json' } }), 400, 'malformed_json');
    // Nothing changed.
    assert.deepEqual((await t.request('GET', `/api/v1/webhooks/${id}`, { key: admin })).json, (({ secret, ...e }) => e)(endpoint));
    assert.equal((await t.request('GET', '/api/v1/webhooks', { key: admin })).json.data.length, 1);
    await t.request('DELETE', `/api/v1/webhooks/${id}`, { key: admin });
  });

  test('ids that cannot exist answer 404 on every id-taking route', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/webhooks/nope'],
      ['PATCH', '/api/v1/webhooks/whk_0000000000000000000A'],
      ['DELETE', '/api/v1/webhooks/lnk_0000000000000000000A'],
      ['POST', '/api/v1/webhooks/whk_0000000000000000000A/test'],
      ['POST', '/api/v1/webhooks/whk_%27%20or%201=1/rotate-secret'],
      ['GET', '/api/v1/webhooks/whk_0000000000000000000A/deliveries'],
      ['POST', '/api/v1/webhooks/deliveries/dlv_0000000000000000000A/redeliver'],
      ['POST', '/api/v1/webhooks/deliveries/whk_0000000000000000000A/redeliver'],
    ] as const) {
      const body = method === 'PATCH' ? { description: 'x' } : undefined;
      assertProblem(await t.request(method, path, { key: admin, body }), 404, 'not_found');
    }
  });

  describe('scopes, workspaces and plans', () => {
    let endpoint: { id: string };
    let deliveryId: string;
    /** Every route, with what it needs; `id`/`delivery` are filled in per case. */
    const routes = (id: string, delivery: string) =>
      [
        { method: 'GET', path: '/api/v1/webhooks', scope: 'read' },
        { method: 'POST', path: '/api/v1/webhooks', scope: 'write', body: { url: hookUrl, events: ['webhook.test'] } },
        { method: 'GET', path: `/api/v1/webhooks/${id}`, scope: 'read', id: true },
        { method: 'PATCH', path: `/api/v1/webhooks/${id}`, scope: 'write', id: true, body: { description: 'changed' } },
        { method: 'DELETE', path: `/api/v1/webhooks/${id}`, scope: 'write', id: true },
        { method: 'POST', path: `/api/v1/webhooks/${id}/test`, scope: 'write', id: true },
        { method: 'POST', path: `/api/v1/webhooks/${id}/rotate-secret`, scope: 'write', id: true, body: { graceSeconds: 60 } },
        { method: 'GET', path: `/api/v1/webhooks/${id}/deliveries`, scope: 'read', id: true },
        { method: 'POST', path: `/api/v1/webhooks/deliveries/${delivery}/redeliver`, scope: 'write', id: true },
        { method: 'GET', path: '/api/v1/events', scope: 'read' },
      ] as { method: string; path: string; scope: 'read' | 'write'; id?: boolean; body?: unknown }[];

    /** The endpoint as stored, to show a refused request changed nothing. */
    const snapshot = async () => ({
      endpoint: await t.store.db.row('select * from webhook_endpoints where id = ?', endpoint.id),
      endpoints: (await t.store.db.row<{ n: number }>('select count(*) as n from webhook_endpoints'))!.n,
      deliveries: (await t.store.db.row<{ n: number }>('select count(*) as n from webhook_deliveries'))!.n,
      events: (await t.store.db.row<{ n: number }>('select count(*) as n from events'))!.n,
    });

    before(async () => {
      endpoint = await create({ url: `${hookUrl}/scoped`, events: ['webhook.test'] });
      const queued = await t.request('POST', `/api/v1/webhooks/${endpoint.id}/test`, { key: admin });
      deliveryId = queued.json.deliveryId;
      await eventually(async () => (await deliveriesOf(endpoint.id)).data[0]?.status === 'succeeded');
    });

    test('a key without the scope gets 403 insufficient_scope and changes nothing', async () => {
      const keys: Array<[string, Scope[], Set<string>]> = [
        ['webhooks:read only', ['webhooks:read'], new Set(['read'])],
        ['webhooks:write only', ['webhooks:write'], new Set(['write'])],
        ['links and analytics scopes only', ['links:read', 'links:write', 'analytics:read'], new Set()],
      ];
      for (const [name, scopes, allowed] of keys) {
        const key = await t.key({ workspace: 'Acme', scopes, name });
        for (const r of routes(endpoint.id, deliveryId)) {
          if (allowed.has(r.scope)) continue;
          const before = await snapshot();
          const res = await t.request(r.method, r.path, { key, body: r.body });
          const problem = assertProblem(res, 403, 'insufficient_scope');
          assert.match(problem.detail, new RegExp(`webhooks:${r.scope}`), `${name}: ${r.method} ${r.path}`);
          assert.deepEqual(await snapshot(), before, `${name}: ${r.method} ${r.path} changed nothing`);
        }
      }
      // And the scope that is there is enough.
      const reader = await t.key({ workspace: 'Acme', scopes: ['webhooks:read'] });
      for (const r of routes(endpoint.id, deliveryId).filter((r) => r.scope === 'read')) {
        assert.equal((await t.request(r.method, r.path, { key: reader })).status, 200, `${r.method} ${r.path}`);
      }
      const writer = await t.key({ workspace: 'Acme', scopes: ['webhooks:write'] });
      const patched = await t.request('PATCH', `/api/v1/webhooks/${endpoint.id}`, { key: writer, body: { description: 'by the writer' } });
      assert.equal(patched.status, 200, patched.text);
    });

    test("another workspace's ids answer 404 on every id-taking route, and its lists leave them out", async () => {
      const stranger = await t.key({ workspace: 'Globex' });
      const own = await create({ url: `${hookUrl}/globex`, events: ['webhook.test'] }, stranger);
      for (const r of routes(endpoint.id, deliveryId).filter((r) => r.id)) {
        const before = await snapshot();
        assertProblem(await t.request(r.method, r.path, { key: stranger, body: r.body }), 404, 'not_found');
        assert.deepEqual(await snapshot(), before, `${r.method} ${r.path} changed nothing`);
      }
      const list = await t.request('GET', '/api/v1/webhooks', { key: stranger });
      assert.deepEqual(list.json.data.map((e: { id: string }) => e.id), [own.id]);
      const events = await t.request('GET', '/api/v1/events', { key: stranger });
      assert.deepEqual(events.json, { data: [], nextCursor: null }, "Globex made no changes; Acme's events are not its business");
      // Acme's cursor is a valid id, but it pages Globex's log only.
      const acmeEvent = (await t.request('GET', '/api/v1/events', { key: admin })).json.data[0].id;
      assert.deepEqual((await t.request('GET', `/api/v1/events?after=${acmeEvent}`, { key: stranger })).json.data, []);
    });

    test('with the webhooks feature off in the plan, every route answers 403 plan_feature_disabled', async () => {
      const key = await t.key({ workspace: 'Initech' });
      const own = await create({ url: `${hookUrl}/initech`, events: ['webhook.test'] }, key);
      const queued = await t.request('POST', `/api/v1/webhooks/${own.id}/test`, { key });
      assert.equal(queued.status, 202);
      await setPlan(t, 'Initech', { features: { webhooks: false } });
      for (const r of routes(own.id, queued.json.deliveryId)) {
        const res = await t.request(r.method, r.path, { key, body: r.body });
        const problem = assertProblem(res, 403, 'plan_feature_disabled');
        assert.match(problem.detail, /webhooks/, `${r.method} ${r.path}`);
      }
      // The rest of the API still works, and Acme (another plan) is unaffected.
      assert.equal((await t.request('GET', '/api/v1/links', { key })).status, 200);
      assert.equal((await t.request('GET', '/api/v1/webhooks', { key: admin })).status, 200);
      await setPlan(t, 'Initech', {});
      assert.equal((await t.request('GET', `/api/v1/webhooks/${own.id}`, { key })).status, 200, 'back on: the endpoint is still there');
    });

    test('the plan limit on endpoints answers 403 plan_limit_reached; deleting one makes room', async () => {
      const key = await t.key({ workspace: 'Hooli' });
      await setPlan(t, 'Hooli', { limits: { webhookEndpoints: 2 } });
      const a = await create({ url: `${hookUrl}/a`, events: ['webhook.test'] }, key);
      await create({ url: `${hookUrl}/b`, events: ['webhook.test'], enabled: false }, key);
      const refused = await t.request('POST', '/api/v1/webhooks', { key, body: { url: `${hookUrl}/c`, events: ['webhook.test'] } });
      const problem = assertProblem(refused, 403, 'plan_limit_reached');
      assert.match(problem.detail, /2/);
      assert.equal((await t.request('GET', '/api/v1/webhooks', { key })).json.data.length, 2, 'disabled endpoints count too');
      // Acme has no such limit.
      const free = await create({ url: `${hookUrl}/acme`, events: ['webhook.test'] });
      await t.request('DELETE', `/api/v1/webhooks/${free.id}`, { key: admin });

      assert.equal((await t.request('DELETE', `/api/v1/webhooks/${a.id}`, { key })).status, 204);
      await create({ url: `${hookUrl}/c`, events: ['webhook.test'] }, key);
      // Concurrent creates cannot both take the last slot.
      await setPlan(t, 'Hooli', { limits: { webhookEndpoints: 3 } });
      const racing = await Promise.all(
        [1, 2, 3].map((i) => t.request('POST', '/api/v1/webhooks', { key, body: { url: `${hookUrl}/race/${i}`, events: ['webhook.test'] } })),
      );
      assert.deepEqual(racing.map((r) => r.status).sort(), [201, 403, 403]);
      assert.equal((await t.request('GET', '/api/v1/webhooks', { key })).json.data.length, 3);
    });
  });
});

describe('webhook URLs are checked against SSRF when saved', () => {
  /** Each refused without LINKQR_WEBHOOK_ALLOWED_CIDRS; all but ftp:// allowed once the CIDRs below name them. */
  const URLS: Array<[string, string]> = [
    ['a private 10.x address', 'http://10.1.2.3/hooks'],
    ['a private 10.x address over https', 'https://10.1.2.3/hooks'],
    ['a loopback 127.x address', 'http://127.0.0.1:9/hooks'],
    ['another loopback address', 'https://127.8.9.10/hooks'],
    ['the cloud metadata address', 'http://169.254.169.254/latest/meta-data/'],
    ['IPv6 loopback', 'http://[::1]:9/hooks'],
    ['IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]:9/hooks'],
    ['a host name resolving to 127.0.0.1', 'http://localhost:9/hooks'],
    ['a host name resolving to 127.0.0.1, over https', 'https://localhost/hooks'],
  ];
  const ALLOWED_CIDRS = '10.0.0.0/8,127.0.0.0/8,169.254.169.254/32,::1/128';

  test('private, loopback, metadata and non-http URLs are refused with 400 on url', async () => {
    const t = await startTestServer();
    try {
      const key = await t.key();
      const refused: Array<[string, string]> = [
        ...URLS,
        ['an ftp:// URL', 'ftp://example.com/hooks'],
        ['a file:// URL', 'file:///etc/passwd'],
        ['plain http:// to a public address', 'http://93.184.215.14/hooks'],
        ['credentials in the URL', 'https://user:pw@93.184.215.14/hooks'],
        ['the unspecified address', 'https://0.0.0.0/hooks'],
      ];
      for (const [name, url] of refused) {
        const res = await t.request('POST', '/api/v1/webhooks', { key, body: { url, events: ['webhook.test'] } });
        const problem = assertProblem(res, 400, 'validation_failed', ['url']);
        assert.ok(problem.errors[0].message.length > 20, `${name}: the message says why (${problem.errors[0].message})`);
        if (url === 'https://localhost/hooks') assert.match(problem.errors[0].message, /localhost resolves to 127\.0\.0\.1/, 'checked on the resolved address');
      }
      assert.equal((await t.store.db.row<{ n: number }>('select count(*) as n from webhook_endpoints'))!.n, 0);

      // An update is checked the same way. (An https IP literal needs no DNS and is never sent to: webhook.test only.)
      const endpoint = await t.request('POST', '/api/v1/webhooks', { key, body: { url: 'https://93.184.215.14/hooks', events: ['webhook.test'] } });
      assert.equal(endpoint.status, 201, endpoint.text);
      for (const [, url] of [...URLS, ['ftp', 'ftp://example.com/hooks'] as [string, string]]) {
        assertProblem(await t.request('PATCH', `/api/v1/webhooks/${endpoint.json.id}`, { key, body: { url } }), 400, 'validation_failed', ['url']);
      }
      assert.equal((await t.request('GET', `/api/v1/webhooks/${endpoint.json.id}`, { key })).json.url, 'https://93.184.215.14/hooks');
    } finally {
      await t.close();
    }
  });

  test('an allowed CIDR opens exactly those addresses (http:// included); other schemes stay refused', async () => {
    const t = await startTestServer({ env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: ALLOWED_CIDRS } });
    try {
      const key = await t.key();
      // Subscribed to webhook.test only, which nothing sends here: these addresses are never dialled.
      for (const [name, url] of URLS) {
        const res = await t.request('POST', '/api/v1/webhooks', { key, body: { url, events: ['webhook.test'] } });
        assert.equal(res.status, 201, `${name}: ${res.text}`);
      }
      for (const [name, url] of [
        ['ftp', 'ftp://example.com/hooks'],
        ['a private address outside the CIDRs', 'http://192.168.1.10/hooks'],
        ['a link-local address other than the metadata one', 'http://169.254.1.1/hooks'],
      ]) {
        assertProblem(await t.request('POST', '/api/v1/webhooks', { key, body: { url, events: ['webhook.test'] } }), 400, 'validation_failed', ['url']);
        assert.ok(name);
      }
    } finally {
      await t.close();
    }
  });

  test('a broad CIDR does not open loopback or the metadata service', async () => {
    const t = await startTestServer({ env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '0.0.0.0/0' } });
    try {
      const key = await t.key();
      assert.equal((await t.request('POST', '/api/v1/webhooks', { key, body: { url: 'http://10.9.9.9/hooks', events: ['webhook.test'] } })).status, 201);
      for (const url of ['http://127.0.0.1:9/hooks', 'http://169.254.169.254/', 'http://localhost:9/hooks']) {
        assertProblem(await t.request('POST', '/api/v1/webhooks', { key, body: { url, events: ['webhook.test'] } }), 400, 'validation_failed', ['url']);
      }
    } finally {
      await t.close();
    }
  });
});
