import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { apiContract } from '../testing/contract.js';
import { fakeClock, type HttpResult, startTestServer, type TestServer } from '../testing/harness.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** What a 405 must say: exactly the methods the path answers, OPTIONS included (it answers that too). */
const allowOf = (methods: string[]) => [...new Set([...methods, ...(methods.includes('GET') ? ['HEAD'] : []), 'OPTIONS'])].sort().join(', ');

function assertProblem405(res: HttpResult, allow: string, what: string) {
  assert.equal(res.status, 405, `${what}: ${res.status} ${res.text}`);
  assert.equal(res.headers.get('allow'), allow, what);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
  assert.equal(res.json.code, 'method_not_allowed', what);
  assert.equal(res.json.status, 405, what);
  assert.ok(res.json.detail.includes(allow), `${what}: the detail names the methods: ${res.json.detail}`);
}

function assertPage405(res: HttpResult, allow: string, what: string) {
  assert.equal(res.status, 405, `${what}: ${res.status} ${res.text.slice(0, 200)}`);
  assert.equal(res.headers.get('allow'), allow, what);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/, what);
  assert.match(res.text, /405/, what);
  assert.doesNotMatch(res.text, /Link not found/, `${what}: not the link-not-found page`);
  assert.equal(res.headers.get('location'), null, `${what}: not sent to sign in first`);
}

describe('405 Method Not Allowed and OPTIONS', () => {
  const clock = fakeClock();
  let t: TestServer;
  let key: string;
  let link: { id: string; slug: string };

  before(async () => {
    t = await startTestServer({ clock });
    key = await t.key();
    link = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/a' } })).json;
  });
  after(() => t.close());

  test('every /api/v1 path answers the methods it lacks with 405 method_not_allowed and Allow, before the key is checked', async () => {
    const paths = Object.entries(apiContract().doc.paths as Record<string, Record<string, unknown>>);
    assert.ok(paths.length >= 15);
    for (const [template, operations] of paths) {
      // Refusals without a key count against the address (60 a minute): a new minute per path.
      clock.advance(60_000);
      const path = `/api/v1${template.replaceAll('{id}', 'lnk_00000000000000000000')}`;
      const documented = Object.keys(operations).map((m) => m.toUpperCase());
      const allow = allowOf(documented);
      for (const method of METHODS.filter((m) => !documented.includes(m))) {
        assertProblem405(await t.request(method, path), allow, `${method} ${path} without a key`);
      }
    }
  });

  test('the examples of the review: PUT /api/v1/links and POST /api/v1/openapi.json', async () => {
    assertProblem405(await t.request('PUT', '/api/v1/links', { key }), 'GET, HEAD, OPTIONS, POST', 'PUT /api/v1/links');
    const contract = await t.request('POST', '/api/v1/openapi.json');
    assertProblem405(contract, 'GET, HEAD, OPTIONS', 'POST /api/v1/openapi.json');
    assert.equal(contract.headers.get('www-authenticate'), null, 'no key was asked for');
    assertProblem405(await t.request('PUT', `/api/v1/links/${link.id}`, { key }), 'DELETE, GET, HEAD, OPTIONS, PATCH', 'PUT /links/:id');
  });

  test('unknown API paths still answer 404, and the routes still answer their own methods', async () => {
    const unknown = await t.request('PUT', '/api/v1/no-such-route', { key });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.code, 'route_not_found');
    assert.equal((await t.request('GET', '/api/v1/links', { key })).status, 200);
    assert.equal((await t.request('DELETE', `/api/v1/links/${link.id}`, { key })).status, 204);
    assert.equal((await t.request('DELETE', `/api/v1/links/${link.id}`, { key })).status, 404);
  });

  test('OPTIONS on an API path answers 204 with Allow; a browser preflight is still refused', async () => {
    const options = await t.request('OPTIONS', '/api/v1/links');
    assert.equal(options.status, 204, options.text);
    assert.equal(options.headers.get('allow'), 'GET, HEAD, OPTIONS, POST');
    assert.equal(options.text, '');
    const preflight = await t.request('OPTIONS', '/api/v1/links', {
      headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'sec-fetch-site': 'cross-site' },
    });
    assert.equal(preflight.status, 403);
    assert.equal(preflight.json.code, 'browser_origin_refused');
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
  });

  test('pages, files, health and metrics answer another method with a 405 page and Allow', async () => {
    const cases: [string, string, string][] = [
      ['POST', '/healthz', 'GET, HEAD, OPTIONS'],
      ['PUT', '/readyz', 'GET, HEAD, OPTIONS'],
      ['DELETE', '/metrics', 'GET, HEAD, OPTIONS'],
      ['POST', '/', 'GET, HEAD, OPTIONS'],
      ['POST', '/docs/api', 'GET, HEAD, OPTIONS'],
      ['POST', '/public/admin.css', 'GET, HEAD, OPTIONS'],
      ['DELETE', '/setup', 'GET, HEAD, OPTIONS, POST'],
      ['PUT', '/admin/login', 'GET, HEAD, OPTIONS, POST'],
      // Behind the session check: the 405 comes first, signed in or not.
      ['PUT', '/admin/links', 'GET, HEAD, OPTIONS, POST'],
      ['DELETE', '/admin/links/lnk_00000000000000000000', 'GET, HEAD, OPTIONS, POST'],
      ['PATCH', '/admin/audit', 'GET, HEAD, OPTIONS'],
    ];
    for (const [method, path, allow] of cases) assertPage405(await t.request(method, path), allow, `${method} ${path}`);
  });

  test('/<slug> answers GET and HEAD, and POST for a protected link\'s password: other methods get 405 whether the link exists or not', async () => {
    const live = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/b' } })).json;
    for (const path of [`/${live.slug}`, '/no-such-slug', `/${live.slug}?qr=1`]) {
      for (const method of ['PUT', 'PATCH', 'DELETE']) assertPage405(await t.request(method, path), 'GET, HEAD, OPTIONS, POST', `${method} ${path}`);
    }
    // POST is a password form: a link without a password does not answer it; an unknown slug is not found.
    assertPage405(await t.request('POST', `/${live.slug}`), 'GET, HEAD, OPTIONS', `POST /${live.slug}`);
    assert.equal((await t.request('POST', '/no-such-slug')).status, 404);
    const options = await t.request('OPTIONS', `/${live.slug}`);
    assert.equal(options.status, 204);
    assert.equal(options.headers.get('allow'), 'GET, HEAD, OPTIONS, POST');
    assert.equal((await t.request('GET', `/${live.slug}`)).status, 302);
    await t.flushClicks();
    const clicks = (await t.store.db.row<{ n: number }>('select count(*) n from clicks where link_id = ?', live.id))!;
    assert.equal(clicks.n, 1, 'only the GET was a click');
  });

  test('OPTIONS on a page answers 204 with Allow; unknown paths stay 404', async () => {
    for (const [path, allow] of [
      ['/healthz', 'GET, HEAD, OPTIONS'],
      ['/admin/login', 'GET, HEAD, OPTIONS, POST'],
    ]) {
      const res = await t.request('OPTIONS', path!);
      assert.equal(res.status, 204, `${path}: ${res.status}`);
      assert.equal(res.headers.get('allow'), allow);
    }
    for (const [method, path] of [
      ['POST', '/no/such/page'],
      ['OPTIONS', '/no/such/page'],
      ['POST', '/public'],
      ['PUT', '/admin/no-such-page'],
    ]) {
      const res = await t.request(method!, path!);
      assert.notEqual(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get('allow'), null, `${method} ${path}`);
    }
  });
});
