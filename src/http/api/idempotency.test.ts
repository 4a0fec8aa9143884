import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { fakeClock, type HttpResult, startTestServer, type TestServer } from '../../testing/harness.js';
import { startReceiver } from '../../testing/receiver.js';
import { refuseWrites } from '../../testing/refuse-writes.js';

/** Idempotency-Key on API POSTs (SPEC §4); the choices are listed in src/http/middleware/idempotency.ts. */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2031, 2, 1, 9, 0, 0);

function assertProblem(res: HttpResult, status: number, code: string) {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json\b/);
  assert.equal(res.json.code, code, res.text);
  assert.equal(typeof res.json.detail, 'string');
  return res.json;
}

const replayed = (res: HttpResult) => res.headers.get('idempotent-replayed');

/**
 * Sends `count` copies of one POST so that they reach the server together, as duplicates from a
 * client retrying in a hurry do: each connection first gets all but the last byte of the body,
 * then every last byte is written in the same tick.
 */
async function simultaneousPosts(url: string, headers: Record<string, string>, body: string, count: number): Promise<HttpResult[]> {
  const sent = await Promise.all(
    Array.from({ length: count }, () => {
      const req = http.request(url, {
        method: 'POST',
        agent: false,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(body.length) },
      });
      const answer = new Promise<HttpResult>((resolve, reject) => {
        req.on('error', reject);
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            const answerHeaders = new Headers();
            for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') answerHeaders.set(name, value);
            resolve({ status: res.statusCode!, headers: answerHeaders, text, json: JSON.parse(text) });
          });
        });
      });
      return new Promise<{ req: http.ClientRequest; answer: Promise<HttpResult> }>((resolve) => req.write(body.slice(0, -1), () => resolve({ req, answer })));
    }),
  );
  // Let the server read every partial body before the last bytes go.
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (const { req } of sent) req.end(body.slice(-1));
  return Promise.all(sent.map((s) => s.answer));
}

describe('Idempotency-Key', () => {
  let t: TestServer;
  let key: string;
  const clock = fakeClock(NOW);

  /** A POST with an Idempotency-Key (none when `idempotencyKey` is undefined). */
  const post = (path: string, body: unknown, idempotencyKey: string | undefined, as = key) =>
    t.request('POST', path, { key: as, body, headers: idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey } });
  const createLink = (body: unknown, idempotencyKey: string | undefined, as = key) => post('/api/v1/links', body, idempotencyKey, as);
  const linkIds = async (as = key) => {
    const res = await t.request('GET', '/api/v1/links?limit=100', { key: as });
    assert.equal(res.status, 200, res.text);
    return (res.json.data as { id: string }[]).map((l) => l.id).sort();
  };
  const countRecords = async () => (await t.store.db.row<{ n: number }>('select count(*) as n from idempotency_records'))!.n;

  beforeEach(async () => {
    clock.set(NOW);
    t = await startTestServer({ clock, env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' } });
    key = await t.key({ workspace: 'Acme' });
  });
  afterEach(() => t.close());

  test('the same key and body: the first answer again, marked as a replay; the link is created once', async () => {
    const idem = randomUUID();
    const body = { url: 'https://example.com/once', tags: ['a', 'b'] };
    const first = await createLink(body, idem);
    assert.equal(first.status, 201, first.text);
    assert.equal(replayed(first), null, 'the first answer is not a replay');

    clock.advance(HOUR);
    const again = await createLink(body, idem);
    assert.equal(again.status, 201);
    assert.equal(again.text, first.text);
    assert.equal(again.headers.get('location'), `/api/v1/links/${first.json.id}`);
    assert.match(again.headers.get('content-type') ?? '', /^application\/json\b/);
    assert.equal(replayed(again), 'true');
    assert.deepEqual(await linkIds(), [first.json.id]);
  });

  test('an answer that cannot be stored after the change committed is still the true answer (not a 503 "nothing was changed")', async () => {
    // The disk fails between the route's commit and the record of its answer.
    await refuseWrites(t.store.db, 'refuse_answers', 'update', 'idempotency_records', 'disk gone');
    const res = await createLink({ url: 'https://example.com/stored-or-not' }, randomUUID());
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(await linkIds(), [res.json.id], 'the link the answer names exists');
    assert.ok(t.logs.some((l) => l.includes('could not be stored; it was sent anyway')));
  });

  test('the same key with another body, path or method-specific route: 409 idempotency_key_reused', async () => {
    const idem = randomUUID();
    assert.equal((await createLink({ url: 'https://example.com/a' }, idem)).status, 201);

    const p = assertProblem(await createLink({ url: 'https://example.com/b' }, idem), 409, 'idempotency_key_reused');
    assert.match(p.detail, /new key/);
    assertProblem(await post('/api/v1/links?x=1', { url: 'https://example.com/a' }, idem), 409, 'idempotency_key_reused');
    assertProblem(await post('/api/v1/webhooks', { url: 'https://example.com/a' }, idem), 409, 'idempotency_key_reused');
    assert.equal((await linkIds()).length, 1);
    assert.equal(replayed(await createLink({ url: 'https://example.com/a' }, idem)), 'true', 'the first request still replays');
  });

  test('the order of keys and whitespace do not make another request; array order does', async () => {
    const idem = randomUUID();
    const first = await createLink({ url: 'https://example.com/order', title: 'T', tags: ['x', 'y'] }, idem);
    assert.equal(first.status, 201, first.text);
    const reordered = await t.request('POST', '/api/v1/links', {
      key,
      rawBody: '{ "tags": ["x", "y"],\n  "title": "T", "url": "https://example.com/order" }',
      headers: { 'content-type': 'application/json', 'idempotency-key': idem },
    });
    assert.equal(reordered.status, 201, reordered.text);
    assert.equal(replayed(reordered), 'true');
    assert.equal(reordered.text, first.text);
    assertProblem(await createLink({ url: 'https://example.com/order', title: 'T', tags: ['y', 'x'] }, idem), 409, 'idempotency_key_reused');
  });

  test('keys belong to one API key: another key may use the same string', async () => {
    const idem = randomUUID();
    const other = await t.key({ workspace: 'Acme', name: 'second key' });
    const body = { url: 'https://example.com/shared' };
    const mine = await createLink(body, idem);
    const theirs = await createLink(body, idem, other);
    assert.equal(theirs.status, 201);
    assert.equal(replayed(theirs), null);
    assert.notEqual(theirs.json.id, mine.json.id);
    assert.equal((await createLink(body, idem, other)).json.id, theirs.json.id);
    assert.equal((await createLink(body, idem)).json.id, mine.json.id);
    assert.equal((await linkIds()).length, 2);
  });

  test('20 concurrent duplicates create exactly one link and all get the same answer', async () => {
    const idem = randomUUID();
    const body = { url: 'https://example.com/burst' };
    const answers = await simultaneousPosts(`${t.url}/api/v1/links`, { authorization: `Bearer ${key}`, 'idempotency-key': idem }, JSON.stringify(body), 20);
    assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([201]));
    assert.equal(new Set(answers.map((a) => a.text)).size, 1, 'one body for all');
    assert.equal(new Set(answers.map((a) => a.headers.get('location'))).size, 1);
    assert.equal(answers.filter((a) => replayed(a) === 'true').length, 19);
    assert.deepEqual(await linkIds(), [answers[0]!.json.id]);
  });

  test('two different requests at once with one key: one runs, the other gets 409', async () => {
    const idem = randomUUID();
    const answers = await Promise.all([createLink({ url: 'https://example.com/one' }, idem), createLink({ url: 'https://example.com/two' }, idem)]);
    assert.deepEqual(answers.map((a) => a.status).sort(), [201, 409]);
    assertProblem(answers.find((a) => a.status === 409)!, 409, 'idempotency_key_reused');
    assert.equal((await linkIds()).length, 1);
  });

  test('a 4xx answer is kept: a validation error replays as the same 400', async () => {
    const idem = randomUUID();
    const first = await createLink({ url: 'not a url' }, idem);
    assertProblem(first, 400, 'validation_failed');
    const again = await createLink({ url: 'not a url' }, idem);
    assert.equal(again.status, 400);
    assert.equal(again.text, first.text);
    assert.match(again.headers.get('content-type') ?? '', /^application\/problem\+json\b/);
    assert.equal(replayed(again), 'true');
    assertProblem(await createLink({ url: 'https://example.com/fixed' }, idem), 409, 'idempotency_key_reused');
    assert.deepEqual(await linkIds(), []);
  });

  test('a 5xx answer is not kept: a retry with the key runs again', async () => {
    const idem = randomUUID();
    const body = { url: 'https://example.com/flaky' };
    const restore = await refuseWrites(t.store.db, 'links_unavailable', 'insert', 'links', 'disk trouble');
    assertProblem(await createLink(body, idem), 500, 'internal_error');
    assert.equal(await countRecords(), 0, 'the reservation is dropped');
    await restore();

    const retry = await createLink(body, idem);
    assert.equal(retry.status, 201, retry.text);
    assert.equal(replayed(retry), null);
    assert.deepEqual(await linkIds(), [retry.json.id]);
  });

  test('without the header, or on another method, there is no idempotency', async () => {
    const body = { url: 'https://example.com/twice' };
    const a = await createLink(body, undefined);
    const b = await createLink(body, undefined);
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    assert.notEqual(a.json.id, b.json.id);
    assert.equal(await countRecords(), 0);

    const patch = (title: string) =>
      t.request('PATCH', `/api/v1/links/${a.json.id}`, { key, body: { title }, headers: { 'idempotency-key': '' } });
    assert.equal((await patch('one')).json.title, 'one', 'a PATCH ignores the header, even a malformed one');
    assert.equal((await patch('two')).json.title, 'two');
  });

  test('a malformed key: 400 invalid_idempotency_key, and nothing is created', async () => {
    for (const bad of ['', 'k'.repeat(256), 'caf\u00e9', 'tab\there']) {
      assertProblem(await createLink({ url: 'https://example.com/bad' }, bad), 400, 'invalid_idempotency_key');
    }
    assert.deepEqual(await linkIds(), []);
    const longest = 'k'.repeat(255);
    assert.equal((await createLink({ url: 'https://example.com/ok' }, longest)).status, 201);
    assert.equal(replayed(await createLink({ url: 'https://example.com/ok' }, longest)), 'true');
    assert.equal((await createLink({ url: 'https://example.com/ok2' }, ' !~')).status, 201, 'any printable ASCII');
  });

  test('a body nested thousands of levels deep is fingerprinted, not a 500', async () => {
    const idem = randomUUID();
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const send = () =>
      t.request('POST', '/api/v1/links', { key, rawBody: deep, headers: { 'content-type': 'application/json', 'idempotency-key': idem } });
    assertProblem(await send(), 400, 'validation_failed');
    assert.equal(replayed(await send()), 'true');
  });

  test('a key is kept 24 hours: then it is fresh again', async () => {
    const idem = randomUUID();
    const body = { url: 'https://example.com/daily' };
    const first = await createLink(body, idem);
    clock.advance(DAY);
    assert.equal((await createLink(body, idem)).json.id, first.json.id, 'exactly 24 h old: still replayed');
    clock.advance(1);
    const fresh = await createLink(body, idem);
    assert.equal(fresh.status, 201);
    assert.equal(replayed(fresh), null);
    assert.notEqual(fresh.json.id, first.json.id);
    assert.equal((await createLink(body, idem)).json.id, fresh.json.id, 'the new answer is the one replayed now');
    assert.equal((await createLink({ url: 'https://example.com/other' }, idem)).status, 409);
  });

  test('a request still running in another process: 409 in progress; after 60 s it is taken to have crashed', async () => {
    const idem = randomUUID();
    const body = { url: 'https://example.com/elsewhere' };
    const first = await createLink(body, idem);
    // What another server on the same database leaves while its request runs: a fresh reservation.
    await t.store.db.exec(
      `update idempotency_records set status = 0, headers = '{}', body = '', created_at = ? where idempotency_key = ?`,
      clock.now(),
      idem,
    );

    const busy = await createLink(body, idem);
    assertProblem(busy, 409, 'idempotency_key_in_progress');
    assert.equal(busy.headers.get('retry-after'), '1');
    assertProblem(await createLink({ url: 'https://example.com/changed' }, idem), 409, 'idempotency_key_reused');

    clock.advance(60_000);
    assertProblem(await createLink(body, idem), 409, 'idempotency_key_in_progress');
    clock.advance(1);
    const takenOver = await createLink(body, idem);
    assert.equal(takenOver.status, 201);
    assert.equal(replayed(takenOver), null);
    assert.notEqual(takenOver.json.id, first.json.id, 'the route ran again');
    assert.equal((await createLink(body, idem)).json.id, takenOver.json.id);
  });

  test('other POST routes: creating a webhook endpoint and sending a test event', async () => {
    const receiver = await startReceiver();
    try {
      const createIdem = randomUUID();
      const body = { url: `${receiver.url}/hooks`, events: ['webhook.test'] };
      const created = await post('/api/v1/webhooks', body, createIdem);
      assert.equal(created.status, 201, created.text);
      const again = await post('/api/v1/webhooks', body, createIdem);
      assert.equal(again.status, 201);
      assert.equal(again.text, created.text, 'the same endpoint, with the same secret');
      assert.equal(again.headers.get('location'), `/api/v1/webhooks/${created.json.id}`);
      assert.equal(replayed(again), 'true');
      const list = await t.request('GET', '/api/v1/webhooks', { key });
      assert.deepEqual(list.json.data.map((e: { id: string }) => e.id), [created.json.id]);

      const testIdem = randomUUID();
      const path = `/api/v1/webhooks/${created.json.id}/test`;
      const sent = await post(path, undefined, testIdem);
      assert.equal(sent.status, 202, sent.text);
      const resent = await post(path, undefined, testIdem);
      assert.equal(resent.status, 202);
      assert.equal(resent.json.deliveryId, sent.json.deliveryId);
      assert.equal(replayed(resent), 'true');
      assertProblem(await post(path, {}, testIdem), 409, 'idempotency_key_reused');
      const deliveries = await t.request('GET', `/api/v1/webhooks/${created.json.id}/deliveries`, { key });
      assert.deepEqual(deliveries.json.data.map((d: { id: string }) => d.id), [sent.json.deliveryId]);
    } finally {
      await receiver.close();
    }
  });

  test('the retention job deletes records older than 24 hours', async () => {
    await createLink({ url: 'https://example.com/old-1' }, 'old-1');
    await createLink({ url: 'not a url' }, 'old-2');
    clock.advance(12 * HOUR);
    await createLink({ url: 'https://example.com/recent' }, 'recent');
    clock.advance(12 * HOUR);

    const exactly = await t.server.scheduler.run('retention');
    assert.equal(exactly.status === 'ok' && exactly.result.idempotencyRecords, 0, 'exactly 24 h old: kept');
    clock.advance(1);
    const outcome = await t.server.scheduler.run('retention');
    assert.equal(outcome.status === 'ok' && outcome.result.idempotencyRecords, 2);
    assert.deepEqual(
      (await t.store.db.rows<{ idempotency_key: string }>('select idempotency_key from idempotency_records')).map((r) => r.idempotency_key),
      ['recent'],
    );
    assert.equal(replayed(await createLink({ url: 'https://example.com/recent' }, 'recent')), 'true');
  });
});
