import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { countLinks } from '../../links/links.repo.js';
import { type HttpResult, startTestServer, type TestServer } from '../../testing/harness.js';
import { findWorkspaceByName } from '../../workspaces/workspaces.repo.js';

/** The API never grants CORS: no Access-Control-Allow-* header on any answer. */
function assertNoCors(res: HttpResult) {
  const granted = [...res.headers.keys()].filter((h) => h.startsWith('access-control-'));
  assert.deepEqual(granted, [], `CORS headers on a ${res.status}`);
}

function assertRefused(res: HttpResult, origin?: string) {
  assert.equal(res.status, 403, `expected 403, got ${res.status} ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(res.json.code, 'browser_origin_refused');
  assert.match(res.json.detail, /API keys are secrets/);
  assert.match(res.json.detail, /Call the API from your server/);
  if (origin) assert.ok(res.json.detail.includes(`Origin: ${origin}`), res.json.detail);
  assert.equal(res.headers.get('www-authenticate'), null, 'refused before the key was looked at');
  assertNoCors(res);
}

describe('browser origins on the API', () => {
  let t: TestServer;
  let key: string;
  const links = async () => countLinks(t.store.db, (await findWorkspaceByName(t.store.db, 'Acme'))!.id);

  before(async () => {
    t = await startTestServer();
    key = await t.key();
  });
  after(() => t.close());

  const refused: [string, Record<string, string>][] = [
    ['Origin of another site', { origin: 'https://shop.example' }],
    ['Origin of another site, with Sec-Fetch-Site: cross-site', { origin: 'https://shop.example', 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: cross-site without Origin (an <img> or <script> GET)', { 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site (a sibling subdomain is another origin)', { 'sec-fetch-site': 'same-site' }],
    ['Origin: null (sandboxed frame, file: page)', { origin: 'null' }],
    ['our host on another port', { origin: 'http://127.0.0.1:1' }],
  ];
  for (const [name, headers] of refused) {
    test(`${name} → 403 browser_origin_refused, even with a valid key`, async () => {
      const before = await links();
      assertRefused(await t.request('GET', '/api/v1/me', { key, headers }), headers.origin);
      assertRefused(await t.request('POST', '/api/v1/links', { key, headers, body: { url: 'https://example.com/' } }), headers.origin);
      assert.equal(await links(), before, 'the refused POST created nothing');
    });
  }

  test('a CORS preflight is refused the same way and never reaches the key check', async () => {
    const res = await t.request('OPTIONS', '/api/v1/links', {
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
        'sec-fetch-mode': 'cors',
        'sec-fetch-site': 'cross-site',
      },
    });
    assertRefused(res, 'https://shop.example');
  });

  const allowed: [string, () => Record<string, string>][] = [
    ["LinkQR's own origin (LINKQR_BASE_URL)", () => ({ origin: t.url })],
    ['Sec-Fetch-Site: same-origin', () => ({ 'sec-fetch-site': 'same-origin' })],
    ['Sec-Fetch-Site: none (typed in the address bar)', () => ({ 'sec-fetch-site': 'none' })],
    ["Node's fetch (Sec-Fetch-Mode: cors, no Origin)", () => ({})],
  ];
  for (const [name, headers] of allowed) {
    test(`${name} is served`, async () => {
      const res = await t.request('GET', '/api/v1/me', { key, headers: headers() });
      assert.equal(res.status, 200, res.text);
      assertNoCors(res);
    });
  }

  test('no answer grants CORS: success, 401, 404, plain OPTIONS', async () => {
    for (const res of [
      await t.request('GET', '/api/v1/me', { key }),
      await t.request('GET', '/api/v1/me'),
      await t.request('GET', '/api/v1/no-such-route', { key }),
      await t.request('OPTIONS', '/api/v1/links', { key }),
      await t.request('GET', '/api/v1/openapi.json'),
    ]) {
      assertNoCors(res);
    }
  });

  test('a refusal carries the per-address RateLimit headers', async () => {
    const res = await t.request('GET', '/api/v1/me', { key, headers: { origin: 'https://shop.example' } });
    assert.equal(res.headers.get('ratelimit-limit'), '60');
  });
});

describe('browser origins with LINKQR_BASE_URL set', () => {
  let t: TestServer;
  let key: string;
  before(async () => {
    t = await startTestServer({ env: { LINKQR_BASE_URL: 'https://go.example.com/s' } });
    key = await t.key();
  });
  after(() => t.close());

  test('the origin of the base URL is ours; the address the server listens on is not', async () => {
    assert.equal((await t.request('GET', '/api/v1/me', { key, headers: { origin: 'https://go.example.com' } })).status, 200);
    assertRefused(await t.request('GET', '/api/v1/me', { key, headers: { origin: t.url } }), t.url);
    assertRefused(await t.request('GET', '/api/v1/me', { key, headers: { origin: 'http://go.example.com' } }), 'http://go.example.com');
  });
});
