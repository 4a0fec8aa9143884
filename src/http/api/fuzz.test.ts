/**
 * Throws generated bad input at every /api/v1 operation of the OpenAPI document: wrong types,
 * huge strings, unicode, nulls, arrays for objects, invalid cursors and ids, SQL-looking text,
 * broken JSON and headers. Every answer must be below 500 and, as every response in the tests,
 * keep the contract (so every refusal is problem+json with a documented code).
 *   npm test: FUZZ_CASES (default 12) cases per operation, seed FUZZ_SEED (default 1).
 *   npm run fuzz: 300 cases per operation with a random seed (printed, to replay a failure).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALL_SCOPES, startTestServer, type TestServer } from '../../testing/harness.js';
import { startReceiver } from '../../testing/receiver.js';
import { OPERATIONS, type Operation } from './openapi/operations.js';
import { apiContract } from '../../testing/contract.js';

const CASES = Number(process.env.FUZZ_CASES ?? 12);
const SEED = Number(process.env.FUZZ_SEED ?? 1);

function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NASTY_STRINGS = [
  '',
  ' ',
  "' OR 1=1 --",
  '"; DROP TABLE links; --',
  '%00',
  '\u0000',
  '\ud800',
  '😀'.repeat(50),
  'ẞ\u202e\u200b',
  'a'.repeat(5_000),
  'https://',
  'javascript:alert(1)',
  'http://127.0.0.1:1/',
  '../../etc/passwd',
  '{"a":1}',
  '__proto__',
  'null',
  '-1',
  '1e309',
  '0x10',
  'lnk_00000000000000000000',
  '2026-02-30',
  '9'.repeat(40),
];
const NASTY_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 1e308, -0, [], [1, 'a'], {}, { nested: { deeper: [null] } }, ...NASTY_STRINGS];

/** A valid-looking body for the operation, so mutations of one field reach deep validation. */
function baseBody(op: Operation, receiverUrl: string): Record<string, unknown> | undefined {
  switch (op.body) {
    case 'CreateLinkRequest':
      return { url: 'https://example.com/fuzz', title: 'fuzz', tags: ['a'], maxClicks: 10, redirectCode: 302 };
    case 'UpdateLinkRequest':
      return { title: 'changed', status: 'active' };
    case 'CreateWebhookRequest':
      return { url: `${receiverUrl}/fuzz`, events: ['link.created'] };
    case 'UpdateWebhookRequest':
      return { description: 'changed' };
    case 'RotateSecretRequest':
      return { graceSeconds: 60 };
    default:
      return undefined;
  }
}

/** A path segment; a lone surrogate cannot be percent-encoded, so it becomes invalid UTF-8 bytes. */
function pathSegment(text: string): string {
  try {
    return encodeURIComponent(text) || '%20';
  } catch {
    return '%ED%A0%80%FF';
  }
}

interface Case {
  path: string;
  headers: Record<string, string>;
  rawBody?: string;
  label: string;
}

function generate(op: Operation, ids: Record<string, string>, receiverUrl: string, random: () => number): Case {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const label: string[] = [];
  // The id: usually a real one (so the query and body reach validation), sometimes garbage.
  let id = op.path.includes('/webhooks/deliveries') ? ids.delivery! : op.path.startsWith('/webhooks') ? ids.webhook! : ids.link!;
  if (op.idParam && random() < 0.3) {
    id = pathSegment(String(pick(NASTY_STRINGS)));
    label.push(`id=${id.slice(0, 30)}`);
  }
  const path = op.path.replace('{id}', id);
  const query = new URLSearchParams();
  const queryNames = op.query ? Object.keys(apiContract().doc.paths[op.path][op.method].parameters.filter((p: any) => p.in === 'query').reduce((o: any, p: any) => ({ ...o, [p.name]: 1 }), {})) : [];
  const rounds = 1 + Math.floor(random() * 3);
  for (let i = 0; i < rounds; i++) {
    const r = random();
    if (r < 0.5 && queryNames.length > 0) {
      const name = pick(queryNames);
      const value = String(pick(NASTY_VALUES) ?? 'null');
      query.append(name, value);
      if (random() < 0.2) query.append(name, value); // arrays: ?limit=1&limit=1
    } else if (r < 0.6) {
      query.append(pick(['unknown', 'limit[]', '__proto__[x]', 'after', 'a'.repeat(300)]), pick(NASTY_STRINGS));
    }
  }
  const headers: Record<string, string> = {};
  let rawBody: string | undefined;
  if (op.method !== 'get' && op.method !== 'delete') {
    const base = baseBody(op, receiverUrl);
    const r = random();
    if (r < 0.1) rawBody = pick(['{', '{"url":', 'null', '[]', '"text"', '42', '{"a":1}{', '\u0000', '{"url":"\ud800"}', '['.repeat(5000)]);
    else if (r < 0.2) rawBody = JSON.stringify(pick(NASTY_VALUES));
    else if (base) {
      const body: Record<string, unknown> = { ...base };
      for (const field of Object.keys(body)) if (random() < 0.4) body[field] = pick(NASTY_VALUES);
      if (random() < 0.2) body[pick(['extra', '__proto__', 'constructor', 'id', 'clicks'])] = pick(NASTY_VALUES);
      rawBody = JSON.stringify(body);
    }
    if (rawBody !== undefined) {
      headers['content-type'] = random() < 0.1 ? pick(['text/plain', 'application/json; charset=latin1', 'application/x-www-form-urlencoded', '']) : 'application/json';
      label.push(`body=${rawBody.slice(0, 60)}`);
    }
    if (op.method === 'post' && random() < 0.3) headers['idempotency-key'] = pick(['', ' ', 'k'.repeat(300), 'ok-key', '\u00e9']);
  }
  const qs = query.toString();
  if (qs) label.push(`?${qs.slice(0, 80)}`);
  return { path: `/api/v1${path}${qs ? `?${qs}` : ''}`, headers, rawBody, label: label.join(' ') };
}

describe(`fuzz: bad input at every API operation (${CASES} cases each, seed ${SEED})`, () => {
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let key: string;
  const ids: Record<string, string> = {};
  before(async () => {
    receiver = await startReceiver();
    t = await startTestServer({ env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', LINKQR_API_RATE_LIMIT: '0' } });
    key = await t.key({ scopes: ALL_SCOPES });
    ids.link = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/target' } })).json.id;
    const hook = (await t.request('POST', '/api/v1/webhooks', { key, body: { url: `${receiver.url}/hook`, events: ['webhook.test'] } })).json;
    ids.webhook = hook.id;
    ids.delivery = (await t.request('POST', `/api/v1/webhooks/${hook.id}/test`, { key })).json.deliveryId;
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  for (const [index, op] of OPERATIONS.entries()) {
    test(`${op.method.toUpperCase()} ${op.path}`, async () => {
      const random = prng(SEED * 1000 + index);
      for (let i = 0; i < CASES; i++) {
        const c = generate(op, ids, receiver.url, random);
        const res = await t.request(op.method.toUpperCase(), c.path, { key, headers: c.headers, rawBody: c.rawBody });
        assert.ok(res.status < 500, `${op.method.toUpperCase()} ${c.path.slice(0, 200)} ${c.label} → ${res.status} ${res.text.slice(0, 300)}`);
        if (res.status >= 400) assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, c.label);
      }
    });
  }
});
