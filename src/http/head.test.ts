import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { AdminClient } from '../testing/admin-client.js';
import { rawHttp, startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { createUser } from '../users/users.service.js';

const PASSWORD = 'correct horse battery';

/** Headers that differ between any two requests: the connection's, the clock's, the request's own. */
const PER_REQUEST = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'x-request-id', 'ratelimit-remaining', 'ratelimit-reset', 'set-cookie']);
const cookieOf = (browser: AdminClient) => ({ cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ') });
const comparable = (headers: IncomingHttpHeaders) => Object.fromEntries(Object.entries(headers).filter(([name]) => !PER_REQUEST.has(name)));

describe('HEAD answers as GET would', () => {
  let t: TestServer;
  let auth: Record<string, string>;
  let admin: Record<string, string>;
  let loner: Record<string, string>;
  let link: { id: string; slug: string };

  before(async () => {
    t = await startTestServer();
    auth = { authorization: `Bearer ${await t.key()}` };
    link = (await t.request('POST', '/api/v1/links', { key: auth.authorization!.slice(7), body: { url: 'https://example.com/head', title: 'Head' } })).json;
    await createUser(t.store, TEST_OPERATOR, { email: 'owner@example.com', password: PASSWORD, workspace: 'Acme' });
    const browser = await new AdminClient(t.url).signIn('owner@example.com', PASSWORD);
    admin = cookieOf(browser);
    // The second user belongs to no workspace: every admin page says so.
    await createUser(t.store, TEST_OPERATOR, { email: 'loner@example.com', password: PASSWORD });
    loner = cookieOf(await new AdminClient(t.url).signIn('loner@example.com', PASSWORD));
  });
  after(() => t.close());

  /** Every kind of response the server gives to GET: JSON, images, pages, files, redirects, refusals. */
  const targets = (): [string, Record<string, string>][] => [
    ['/healthz', {}],
    ['/readyz', {}],
    ['/', {}],
    ['/api/v1/openapi.json', {}],
    ['/api/v1/me', auth],
    ['/api/v1/links', auth],
    [`/api/v1/links/${link.id}`, auth],
    [`/api/v1/links/${link.id}/qr`, auth],
    [`/api/v1/links/${link.id}/qr?format=png&size=128`, auth],
    [`/api/v1/links/${link.id}/stats`, auth],
    [`/api/v1/links/${link.id}/clicks`, auth],
    ['/api/v1/webhooks', auth],
    ['/api/v1/events', auth],
    ['/api/v1/links', {}],
    ['/api/v1/no-such-route', auth],
    ['/public/admin.css', {}],
    ['/public/vendor/htmx.min.js', {}],
    ['/public/favicon.svg', {}],
    ['/docs/api', {}],
    ['/admin/login', {}],
    ['/admin/links', {}],
    ['/admin/links', admin],
    [`/admin/links/${link.id}`, admin],
    [`/admin/links/${link.id}/qr?format=png`, admin],
    ['/admin/api', admin],
    ['/admin/links', loner],
    ['/setup', {}],
    [`/${link.slug}`, {}],
    ['/no-such-slug', {}],
    ['/no/such/page', {}],
  ];

  for (const encoding of ['identity', 'gzip', 'br']) {
    test(`HEAD sends the status and headers GET sends, Content-Length included (Accept-Encoding: ${encoding})`, async () => {
      for (const [path, headers] of targets()) {
        const sent = { ...headers, 'accept-encoding': encoding };
        // Clicks of the redirects, and the keys' use and request log of the API requests, are
        // written now, not between the GET and the HEAD of a page that shows them (/admin/api).
        await t.flushClicks();
        await t.server.deps.keyUsage.flush();
        await t.server.deps.apiRequests.flush();
        const get = await rawHttp(t.url, 'GET', path, sent);
        const head = await rawHttp(t.url, 'HEAD', path, sent);
        assert.equal(head.status, get.status, path);
        assert.equal(head.body.length, 0, `${path}: HEAD has no body`);
        assert.deepEqual(comparable(head.headers), comparable(get.headers), `${path}: HEAD and GET headers differ`);
        if (get.headers['content-encoding'] === undefined) {
          // Identity: the length of the body GET sent, on both.
          assert.equal(get.headers['content-length'], String(get.body.length), `${path}: GET Content-Length`);
        } else {
          // Compressed: sent as it is made, with no length, by GET and HEAD alike (RFC 9110 §8.6).
          assert.equal(get.headers['content-length'], undefined, path);
        }
      }
    });
  }

  test('HEAD /links/{id}/qr carries the Content-Length of the image (the review\'s example)', async () => {
    for (const format of ['svg', 'png']) {
      const path = `/api/v1/links/${link.id}/qr?format=${format}`;
      const get = await rawHttp(t.url, 'GET', path, { ...auth, 'accept-encoding': 'identity' });
      const head = await rawHttp(t.url, 'HEAD', path, { ...auth, 'accept-encoding': 'identity' });
      assert.equal(head.headers['content-length'], String(get.body.length), format);
    }
  });

  test('HEAD /metrics carries a Content-Length (the text changes with every request, so not compared with GET)', async () => {
    const head = await rawHttp(t.url, 'HEAD', '/metrics', { 'accept-encoding': 'identity' });
    assert.equal(head.status, 200);
    assert.ok(Number(head.headers['content-length']) > 1000, String(head.headers['content-length']));
  });
});
