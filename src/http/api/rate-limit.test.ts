import assert from 'node:assert/strict';
import { formatKey, generateKeyParts, generateSecret, parseKey } from '../../keys/key-format.js';
import { setAllowedNetworks } from '../../keys/keys.service.js';
import { after, before, describe, test } from 'node:test';
import { countLinks } from '../../links/links.repo.js';
import { fakeClock, type HttpResult, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';
import { setWorkspacePlan, upsertPlan } from '../../workspaces/plans.js';
import { findWorkspaceByName } from '../../workspaces/workspaces.repo.js';
import { addressGroup, RateLimiter } from '../middleware/rate-limit.js';

const BAD_KEY = 'Bearer lqr_000000000000_00000000000000000000000000000000_000000';

/** The three RateLimit headers as numbers, or null when the answer has none. */
function quotaOf(res: HttpResult): { limit: number; remaining: number; reset: number } | null {
  const [limit, remaining, reset] = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'].map((h) => res.headers.get(h));
  if (limit === null && remaining === null && reset === null) return null;
  for (const value of [limit, remaining, reset]) assert.match(value ?? '', /^\d+$/, `RateLimit headers are integers ≥ 0: ${limit} ${remaining} ${reset}`);
  return { limit: Number(limit), remaining: Number(remaining), reset: Number(reset) };
}

function assertRateLimited(res: HttpResult, retryAfter: number, detail: RegExp[]) {
  assert.equal(res.status, 429, `expected 429, got ${res.status} ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(res.json.code, 'rate_limited');
  assert.equal(res.json.status, 429);
  assert.equal(res.headers.get('retry-after'), String(retryAfter));
  assert.equal(quotaOf(res)?.remaining, 0);
  for (const d of detail) assert.match(res.json.detail, d);
}

describe('API rate limit per key', () => {
  const clock = fakeClock();
  let t: TestServer;
  let keys = 0;
  /** A key of its own for each scenario, so their quotas do not mix. */
  const freshKey = (workspace = 'Acme') => t.key({ workspace, name: `key ${++keys}` });
  const me = (key: string) => t.request('GET', '/api/v1/me', { key });

  before(async () => {
    t = await startTestServer({ clock, env: { LINKQR_API_RATE_LIMIT: '5' } });
  });
  after(() => t.close());

  test('every answer carries the headers, counting down, errors included; past the limit 429', async () => {
    const key = await freshKey();
    // 5 a minute: one request's share drains in 12 s, so Reset grows by 12 with each.
    const steps: [string, string, unknown, number, number, number][] = [
      ['GET', '/api/v1/me', undefined, 200, 4, 12],
      ['GET', '/api/v1/links/lnk_00000000000000000000', undefined, 404, 3, 24],
      ['POST', '/api/v1/links', { url: 'not a url' }, 400, 2, 36],
      ['GET', '/api/v1/no-such-route', undefined, 404, 1, 48],
      ['GET', '/api/v1/links', undefined, 200, 0, 60],
    ];
    for (const [method, path, body, status, remaining, reset] of steps) {
      const res = await t.request(method, path, { key, body });
      assert.equal(res.status, status, `${method} ${path}: ${res.text}`);
      assert.deepEqual(quotaOf(res), { limit: 5, remaining, reset }, `${method} ${path}`);
      assert.equal(res.headers.get('retry-after'), null);
    }
    const refused = await me(key);
    assertRateLimited(refused, 12, [/5 requests a minute/, /instance setting LINKQR_API_RATE_LIMIT/, /Retry in 12 s/]);
    assert.equal(quotaOf(refused)?.reset, 60);
  });

  test('a refused write does nothing', async () => {
    const key = await freshKey('Writers');
    const workspaceId = (await findWorkspaceByName(t.store.db, 'Writers'))!.id;
    for (let i = 0; i < 5; i++) assert.equal((await t.request('POST', '/api/v1/links', { key, body: { url: `https://example.com/${i}` } })).status, 201);
    assertRateLimited(await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/6' } }), 12, []);
    assert.equal(await countLinks(t.store.db, workspaceId), 5);
  });

  test('the quota comes back with time: one request per 12 s, all of it after a minute', async () => {
    const key = await freshKey();
    for (let i = 0; i < 5; i++) assert.equal((await me(key)).status, 200);
    clock.advance(11_999);
    assertRateLimited(await me(key), 1, []);
    clock.advance(1);
    const one = await me(key);
    assert.equal(one.status, 200);
    assert.equal(quotaOf(one)?.remaining, 0);
    assertRateLimited(await me(key), 12, []);
    clock.advance(60_000);
    assert.deepEqual(quotaOf(await me(key)), { limit: 5, remaining: 4, reset: 12 });
  });

  test('each key has its own quota', async () => {
    const spent = await freshKey();
    const other = await freshKey();
    for (let i = 0; i < 5; i++) await me(spent);
    assertRateLimited(await me(spent), 12, []);
    const res = await me(other);
    assert.equal(res.status, 200);
    assert.deepEqual(quotaOf(res), { limit: 5, remaining: 4, reset: 12 });
  });

  test("a plan's apiRequestsPerMinute overrides the instance setting; plan changes apply to the next request", async () => {
    const key = await freshKey('Metered');
    const workspaceId = (await findWorkspaceByName(t.store.db, 'Metered'))!.id;
    const setLimit = (perMinute: number | null) =>
      upsertPlan(t.store.db, TEST_OPERATOR, 'metered', { features: {}, limits: { apiRequestsPerMinute: perMinute } }, clock.now());
    await setLimit(3);
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, workspaceId, 'metered', clock.now());

    assert.deepEqual(quotaOf(await me(key)), { limit: 3, remaining: 2, reset: 20 });
    await me(key);
    await me(key);
    assertRateLimited(await me(key), 20, [/3 requests a minute/, /apiRequestsPerMinute limit of the "metered" plan/]);

    // 0 on a plan is unlimited, as it is for the instance setting: no quota, no headers.
    await setLimit(0);
    for (let i = 0; i < 20; i++) {
      const res = await me(key);
      assert.equal(res.status, 200);
      assert.equal(quotaOf(res), null);
    }

    // No limit on the plan: the instance's.
    await setLimit(null);
    assert.equal(quotaOf(await me(key))?.limit, 5);
  });

  test('a key refused before the limiter (plan without the API) counts against the address, not the key', async () => {
    const key = await freshKey('No API');
    await upsertPlan(t.store.db, TEST_OPERATOR, 'no-api', { features: { api: false }, limits: {} }, clock.now());
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, (await findWorkspaceByName(t.store.db, 'No API'))!.id, 'no-api', clock.now());
    const res = await me(key);
    assert.equal(res.json.code, 'plan_feature_disabled');
    assert.equal(quotaOf(res)?.limit, 60, 'the address quota');
  });
});

describe('API rate limit per client address (answers without a valid key)', () => {
  const clock = fakeClock();
  let t: TestServer;
  let key: string;
  /** The address is the one X-Forwarded-For names: LINKQR_TRUST_PROXY trusts the loopback test client. */
  const from = (address: string, authorization = BAD_KEY, path = '/api/v1/me') =>
    t.request('GET', path, { headers: { 'x-forwarded-for': address, authorization } });

  /** argon2 checks of key secrets so far, by result, from the server's metrics. */
  const argon2Checks = async () => {
    const text = (await t.request('GET', '/metrics')).text;
    const count = (result: string) => Number(new RegExp(`^linkqr_api_key_verifications_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    return { valid: count('valid'), invalid: count('invalid') };
  };

  before(async () => {
    t = await startTestServer({ clock, env: { LINKQR_TRUST_PROXY: 'loopback', LINKQR_API_RATE_LIMIT: '1000' } });
    key = await t.key();
  });
  after(() => t.close());

  test('failed authentications count against the address; past 60 it is refused before any key is checked', async () => {
    for (let i = 1; i <= 60; i++) {
      const res = await from('203.0.113.7');
      assert.equal(res.status, 401);
      assert.equal(quotaOf(res)?.limit, 60);
      assert.equal(quotaOf(res)?.remaining, 60 - i);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
    // 60 a minute: one more every second.
    assertRateLimited(await from('203.0.113.7'), 1, [/without a valid API key/, /60 a minute/]);
    // Even a good key, sent from there: the address is refused before keys are checked.
    assertRateLimited(await from('203.0.113.7', `Bearer ${key}`), 1, []);

    // Other addresses are unaffected.
    assert.equal((await from('203.0.113.8', `Bearer ${key}`)).status, 200);
    assert.equal(quotaOf(await from('203.0.113.8'))?.remaining, 59);

    clock.advance(1_000);
    const again = await from('203.0.113.7');
    assert.equal(again.status, 401);
    assert.equal(quotaOf(again)?.remaining, 0);
  });

  test('guesses sent all at once each use up the quota before their keys are checked', async () => {
    // A real key id with made-up secrets: each costs an argon2 check, so the requests overlap.
    const id = parseKey(key);
    assert.ok(id.ok);
    const checked = await argon2Checks();
    const guesses = Array.from({ length: 90 }, () => from('203.0.113.50', `Bearer ${formatKey({ id: id.id, secret: generateSecret() })}`));
    const statuses = (await Promise.all(guesses)).map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 401).length, 60, 'sixty keys checked');
    assert.equal(statuses.filter((s) => s === 429).length, 30, 'the rest refused unchecked');
    assert.deepEqual(await argon2Checks(), { ...checked, invalid: checked.invalid + 60 }, 'argon2 ran for the sixty admitted, for none of the thirty refused');
  });

  test('wrong secrets for an existing key id cost the prober’s address, before argon2: past 60 no argon2 runs, and the owner keeps the key', async () => {
    const owner = await t.key({ workspace: 'Probed', name: 'probed' });
    const id = parseKey(owner);
    assert.ok(id.ok);
    const wrongSecret = () => `Bearer ${formatKey({ id: id.id, secret: generateSecret() })}`;
    const checked = await argon2Checks();
    for (let i = 1; i <= 60; i++) {
      const res = await from('203.0.113.70', wrongSecret());
      assert.equal(res.json.code, 'invalid_api_key', `probe ${i}`);
      assert.equal(quotaOf(res)?.remaining, 60 - i, `probe ${i} took one of the address's 60`);
    }
    assert.deepEqual(await argon2Checks(), { ...checked, invalid: checked.invalid + 60 }, 'one argon2 check per admitted probe');
    for (let i = 0; i < 40; i++) assertRateLimited(await from('203.0.113.70', wrongSecret()), 1, [/without a valid API key/]);
    // An unknown id is treated the same: the address is refused before any key is looked up.
    assertRateLimited(await from('203.0.113.70', `Bearer ${formatKey(generateKeyParts())}`), 1, []);
    assert.deepEqual(await argon2Checks(), { ...checked, invalid: checked.invalid + 60 }, 'no argon2 for the 41 refused');

    // The probes were charged to the address, not to the key: its owner gets in with its whole quota.
    const res = await from('198.51.100.70', `Bearer ${owner}`);
    assert.equal(res.status, 200);
    assert.equal(quotaOf(res)?.remaining, 999, 'the key’s own quota untouched by the probes');
    assert.deepEqual(await argon2Checks(), { valid: checked.valid + 1, invalid: checked.invalid + 60 });
  });

  test('a key used from outside its allowed networks spends the address quota, not its owner’s', async () => {
    const limited = await t.key({ workspace: 'Limited', name: 'limited' });
    const keyId = parseKey(limited);
    assert.ok(keyId.ok);
    await setAllowedNetworks(t.server.deps, TEST_OPERATOR, keyId.id, ['10.0.0.0/8']);
    for (let i = 0; i < 5; i++) assert.equal((await from('203.0.113.60', `Bearer ${limited}`)).json.code, 'ip_not_allowed');
    const owner = await from('10.1.2.3', `Bearer ${limited}`);
    assert.equal(owner.status, 200);
    assert.equal(quotaOf(owner)?.remaining, 999, 'the thief spent none of the key’s quota');
    assert.equal(quotaOf(await from('203.0.113.60'))?.remaining, 54, 'the thief’s refusals counted against its address');
  });

  test('requests with a valid key count against the key, not the address', async () => {
    for (let i = 0; i < 70; i++) {
      const res = await from('198.51.100.1', `Bearer ${key}`);
      assert.equal(res.status, 200);
      assert.equal(quotaOf(res)?.limit, 1000);
    }
    assert.deepEqual(quotaOf(await from('198.51.100.1')), { limit: 60, remaining: 59, reset: 1 });
  });

  test('the public OpenAPI document is counted per address', async () => {
    const first = await from('198.51.100.2', '', '/api/v1/openapi.json');
    assert.equal(first.status, 200);
    assert.deepEqual(quotaOf(first), { limit: 60, remaining: 59, reset: 1 });
    assert.equal(quotaOf(await from('198.51.100.2', '', '/api/v1/openapi.json'))?.remaining, 58);
  });

  test('IPv6 clients count per /64; IPv4-mapped addresses as IPv4', async () => {
    const remaining = async (address: string) => quotaOf(await from(address))?.remaining;
    assert.equal(await remaining('2001:db8:1:2::5'), 59);
    assert.equal(await remaining('2001:db8:1:2:ffff:ffff:ffff:6'), 58);
    assert.equal(await remaining('2001:db8:1:3::5'), 59);
    assert.equal(await remaining('192.0.2.44'), 59);
    assert.equal(await remaining('::ffff:192.0.2.44'), 58);
  });
});

describe('LINKQR_API_RATE_LIMIT=0', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ env: { LINKQR_API_RATE_LIMIT: '0' } });
  });
  after(() => t.close());

  test('keys are unlimited: no 429 and no RateLimit headers', async () => {
    const key = await t.key();
    for (let i = 0; i < 1_500; i++) {
      const res = await t.request('GET', '/api/v1/me', { key });
      assert.equal(res.status, 200, `request ${i + 1}`);
      assert.equal(quotaOf(res), null);
    }
  });

  test('the per-address limit of failed authentications still applies', async () => {
    const res = await t.request('GET', '/api/v1/me', { headers: { authorization: BAD_KEY } });
    assert.equal(res.status, 401);
    assert.equal(quotaOf(res)?.limit, 60);
  });
});

describe('RateLimiter (GCRA in whole numbers)', () => {
  test('7 a minute: 7 at once, then one every 8571.43 ms, no sooner', () => {
    const limiter = new RateLimiter();
    for (let i = 6; i >= 0; i--) assert.equal(limiter.take('k', 7, 0).remaining, i);
    const refused = limiter.take('k', 7, 0);
    assert.deepEqual(refused, { admitted: false, limit: 7, remaining: 0, resetSeconds: 60, retryAfterSeconds: 9 });
    assert.equal(limiter.take('k', 7, 8_571).admitted, false);
    assert.equal(limiter.take('k', 7, 8_572).admitted, true);
    assert.equal(limiter.take('k', 7, 8_572).admitted, false);
  });

  test('peek counts nothing', () => {
    const limiter = new RateLimiter();
    for (let i = 0; i < 3; i++) assert.equal(limiter.peek('k', 2, 0).remaining, 1);
    limiter.take('k', 2, 0);
    limiter.take('k', 2, 0);
    assert.equal(limiter.peek('k', 2, 0).admitted, false);
  });

  test('a lowered limit leaves a busy key at most full, draining at the new rate', () => {
    const limiter = new RateLimiter();
    for (let i = 0; i < 100; i++) limiter.take('k', 100, 0);
    assert.deepEqual(limiter.peek('k', 5, 0), { admitted: false, limit: 5, remaining: 0, resetSeconds: 60, retryAfterSeconds: 12 });
    assert.equal(limiter.take('k', 5, 60_000).remaining, 4);
  });

  test('keys idle for a minute are forgotten', () => {
    const limiter = new RateLimiter();
    limiter.take('a', 10, 0);
    limiter.take('b', 10, 30_000);
    limiter.take('c', 10, 59_999);
    assert.equal(limiter.size, 3);
    limiter.take('c', 10, 60_000);
    assert.equal(limiter.size, 2);
    limiter.take('c', 10, 90_000);
    assert.equal(limiter.size, 1);
  });

  test('beyond maxEntries the least recently used are forgotten', () => {
    const limiter = new RateLimiter(3);
    for (const k of ['a', 'b', 'c']) limiter.take(k, 1, 0);
    limiter.take('a', 1, 1); // refused: a refusal does not make "a" recently used
    limiter.take('d', 1, 1);
    assert.equal(limiter.size, 3);
    assert.equal(limiter.take('a', 1, 2).admitted, true, '"a" was forgotten and starts afresh');
    assert.equal(limiter.take('c', 1, 2).admitted, false, '"c" is still remembered');
  });

  const groups: [string, string][] = [
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2::5', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
  ];
  for (const [ip, group] of groups) {
    test(`${ip} is counted as ${group}`, () => {
      assert.equal(addressGroup(ip), group);
    });
  }
});
