import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { AdminClient } from '../../testing/admin-client.js';
import { rawHttp, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';
import { createUser } from '../../users/users.service.js';

const PASSWORD = 'correct horse battery';
const DECODERS = { gzip: gunzipSync, br: brotliDecompressSync };

describe('response compression', () => {
  let t: TestServer;
  let auth: Record<string, string>;
  let admin: Record<string, string>;
  let link: { id: string; slug: string };

  before(async () => {
    t = await startTestServer();
    const key = await t.key();
    auth = { authorization: `Bearer ${key}` };
    for (let i = 0; i < 10; i++) {
      link = (await t.request('POST', '/api/v1/links', { key, body: { url: `https://example.com/page/${i}`, title: `Page ${i}` } })).json;
    }
    await createUser(t.store, TEST_OPERATOR, { email: 'owner@example.com', password: PASSWORD, workspace: 'Acme' });
    const browser = await new AdminClient(t.url).signIn('owner@example.com', PASSWORD);
    admin = { cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
  });
  after(() => t.close());

  const identityOf = async (path: string, headers: Record<string, string>) => {
    const res = await rawHttp(t.url, 'GET', path, { ...headers, 'accept-encoding': 'identity' });
    assert.equal(res.status, 200, `${path}: ${res.body.toString().slice(0, 200)}`);
    assert.equal(res.headers['content-encoding'], undefined, `${path}: identity was asked for`);
    assert.equal(res.headers['content-length'], String(res.body.length));
    return res;
  };

  test('JSON, HTML, CSS, JS and SVG of 1 KB and more go gzip or br as accepted, and decode to the very bytes of the identity answer', async () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      ['/api/v1/openapi.json', {}, /^application\/json/],
      ['/api/v1/links', auth, /^application\/json/],
      ['/docs/api', {}, /^text\/html/],
      ['/admin/links', admin, /^text\/html/],
      ['/public/admin.css', {}, /^text\/css/],
      ['/public/vendor/htmx.min.js', {}, /^text\/javascript/],
      [`/api/v1/links/${link.id}/qr?format=svg`, auth, /^image\/svg\+xml/],
    ];
    for (const [path, headers, type] of cases) {
      const identity = await identityOf(path, headers);
      assert.match(identity.headers['content-type'] ?? '', type, path);
      assert.ok(identity.body.length >= 1024, `${path} is ${identity.body.length} bytes: too small for this test`);
      for (const [encoding, decode] of Object.entries(DECODERS)) {
        const res = await rawHttp(t.url, 'GET', path, { ...headers, 'accept-encoding': encoding });
        assert.equal(res.status, 200, path);
        assert.equal(res.headers['content-encoding'], encoding, `${path} with ${encoding}`);
        assert.match(res.headers.vary ?? '', /accept-encoding/i, path);
        assert.equal(res.headers['content-length'], undefined, `${path}: no identity length on a compressed body`);
        assert.ok(res.body.length < identity.body.length, `${path}: ${res.body.length} ≥ ${identity.body.length}`);
        assert.deepEqual(decode(res.body), identity.body, `${path} with ${encoding} decodes to the identity body`);
      }
    }
  });

  test('the OpenAPI document (about 155 KB) goes out in about a tenth of that', async () => {
    const identity = await identityOf('/api/v1/openapi.json', {});
    const gzip = await rawHttp(t.url, 'GET', '/api/v1/openapi.json', { 'accept-encoding': 'gzip' });
    const br = await rawHttp(t.url, 'GET', '/api/v1/openapi.json', { 'accept-encoding': 'br' });
    assert.ok(gzip.body.length * 8 < identity.body.length, `gzip ${gzip.body.length} of ${identity.body.length}`);
    assert.ok(br.body.length * 8 < identity.body.length, `br ${br.body.length} of ${identity.body.length}`);
  });

  test('the encoding follows Accept-Encoding: br when both are accepted, none without it or for identity', async () => {
    const path = '/api/v1/openapi.json';
    assert.equal((await rawHttp(t.url, 'GET', path, { 'accept-encoding': 'gzip, deflate, br' })).headers['content-encoding'], 'br');
    assert.equal((await rawHttp(t.url, 'GET', path, { 'accept-encoding': 'gzip, br;q=0' })).headers['content-encoding'], 'gzip');
    for (const headers of [{}, { 'accept-encoding': 'identity' }, { 'accept-encoding': 'compress' }] as Record<string, string>[]) {
      const res = await rawHttp(t.url, 'GET', path, headers);
      assert.equal(res.headers['content-encoding'], undefined, JSON.stringify(headers));
      assert.equal(res.headers['content-length'], String(res.body.length));
    }
  });

  test('bodies under 1 KB, PNG images and redirects are sent as they are', async () => {
    const accept = { 'accept-encoding': 'gzip, br' };
    const small = await rawHttp(t.url, 'GET', `/api/v1/links/${link.id}`, { ...auth, ...accept });
    assert.equal(small.status, 200);
    assert.ok(small.body.length < 1024, `a link is ${small.body.length} bytes`);
    assert.equal(small.headers['content-encoding'], undefined, 'under 1 KB');
    assert.equal(small.headers['content-length'], String(small.body.length));

    const png = await rawHttp(t.url, 'GET', `/api/v1/links/${link.id}/qr?format=png&size=2048`, { ...auth, ...accept });
    assert.equal(png.headers['content-type'], 'image/png');
    // 2048 px: at 1024 px some codes deflate to just under 1 KB (1,015–1,083 bytes measured).
    assert.ok(png.body.length >= 1024, `the PNG is ${png.body.length} bytes`);
    assert.equal(png.headers['content-encoding'], undefined, 'PNG is compressed already');

    // Writes answer with one resource: not worth what wrapping every answer costs.
    const created = await fetch(`${t.url}/api/v1/links`, {
      method: 'POST',
      headers: { ...auth, ...accept, 'content-type': 'application/json' },
      body: JSON.stringify({ url: `https://example.com/${'a'.repeat(1500)}`, title: 'Long' }),
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('content-encoding'), null, 'the answer to a write');
    assert.ok((await created.arrayBuffer()).byteLength >= 1024);

    const redirect = await rawHttp(t.url, 'GET', `/${link.slug}`, accept);
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers['content-encoding'], undefined, 'the redirect fast path');

    // An Express redirect with a body over 1 KB (Express repeats the location in it).
    const next = `/admin/links?q=${'x'.repeat(1500)}`;
    const resumed = await rawHttp(t.url, 'GET', `/admin/login?next=${encodeURIComponent(next)}`, { ...admin, ...accept, accept: 'text/html' });
    assert.equal(resumed.status, 303);
    assert.equal(resumed.headers.location, next);
    assert.ok(resumed.body.length >= 1024, `the redirect body is ${resumed.body.length} bytes`);
    assert.equal(resumed.headers['content-encoding'], undefined, 'never a redirect');
  });

  test('a compressed answer carries the weak form of the ETag (another representation), which still revalidates', async () => {
    for (const [path, headers] of [
      ['/public/admin.css', {}],
      [`/api/v1/links/${link.id}/qr?format=svg`, auth],
    ] as [string, Record<string, string>][]) {
      const identity = await identityOf(path, headers);
      const strong = identity.headers.etag!;
      assert.match(strong, /^"/, `${path}: identity keeps the strong tag`);
      for (const encoding of ['gzip', 'br']) {
        const packed = await rawHttp(t.url, 'GET', path, { ...headers, 'accept-encoding': encoding });
        assert.equal(packed.headers['content-encoding'], encoding);
        assert.equal(packed.headers.etag, `W/${strong}`, `${path} ${encoding}`);
        const again = await rawHttp(t.url, 'GET', path, { ...headers, 'accept-encoding': encoding, 'if-none-match': packed.headers.etag! });
        assert.equal(again.status, 304, `${path} ${encoding}: revalidates with the tag it was given`);
      }
    }
  });
});
