import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { fakeClock, rawHttp, startTestServer, type TestServer } from '../testing/harness.js';

const SECURITY_HEADERS = ['content-security-policy', 'x-content-type-options', 'x-frame-options', 'referrer-policy'];
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0';
const securityOf = (headers: IncomingHttpHeaders) => Object.fromEntries(SECURITY_HEADERS.map((h) => [h, headers[h]]));

describe('status pages carry the security headers of every other page', () => {
  const clock = fakeClock();
  let t: TestServer;
  let key: string;
  let reference: Record<string, unknown>;

  before(async () => {
    t = await startTestServer({ clock });
    key = await t.key();
    reference = securityOf((await rawHttp(t.url, 'GET', '/admin/login')).headers);
    assert.match(String(reference['content-security-policy']), /default-src 'self'/);
  });
  after(() => t.close());

  const create = async (body: Record<string, unknown>) => (await t.request('POST', '/api/v1/links', { key, body })).json as { id: string; slug: string };

  test('the home page says what this server is and links to the admin and the API reference', async () => {
    const res = await rawHttp(t.url, 'GET', '/');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.deepEqual(securityOf(res.headers), reference);
    const html = res.body.toString();
    assert.match(html, /This server runs LinkQR/);
    assert.match(html, /<a href="\/admin">/);
    assert.match(html, /<a href="\/docs\/api">/);
  });

  test('the 404 and 410 pages of the redirect path (GET and HEAD)', async () => {
    const disabled = await create({ url: 'https://example.com/off' });
    await t.request('PATCH', `/api/v1/links/${disabled.id}`, { key, body: { status: 'disabled' } });
    const expired = await create({ url: 'https://example.com/soon', expiresAt: new Date(clock.now() + 1_000).toISOString() });
    const exhausted = await create({ url: 'https://example.com/once', maxClicks: 1 });
    assert.equal((await rawHttp(t.url, 'GET', `/${exhausted.slug}`, { 'user-agent': BROWSER })).status, 302);
    clock.advance(2_000);

    for (const [path, status] of [
      ['/no-such-slug', 404],
      [`/${disabled.slug}`, 410],
      [`/${expired.slug}`, 410],
      [`/${exhausted.slug}`, 410],
    ] as const) {
      for (const method of ['GET', 'HEAD']) {
        const res = await rawHttp(t.url, method, path, { 'user-agent': BROWSER });
        assert.equal(res.status, status, `${method} ${path}`);
        assert.deepEqual(securityOf(res.headers), reference, `${method} ${path}`);
        assert.equal(res.headers['cache-control'], 'private, max-age=0', 'the redirect path\'s own caching is kept');
      }
    }
  });

  test('the pages Express answers with: 404 and 405', async () => {
    for (const [method, path, status] of [
      ['GET', '/no/such/page', 404],
      ['POST', '/healthz', 405],
      ['PUT', '/no-such-slug', 405],
    ] as const) {
      const res = await rawHttp(t.url, method, path);
      assert.equal(res.status, status, `${method} ${path}`);
      assert.deepEqual(securityOf(res.headers), reference, `${method} ${path}`);
    }
  });

  test('redirects carry none of them: the destination sees the referrer the browser\'s own policy gives', async () => {
    const link = await create({ url: 'https://example.com/to' });
    const res = await rawHttp(t.url, 'GET', `/${link.slug}`, { 'user-agent': BROWSER });
    assert.equal(res.status, 302);
    for (const header of SECURITY_HEADERS) assert.equal(res.headers[header], undefined, header);
  });
});
