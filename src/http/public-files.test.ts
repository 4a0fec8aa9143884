import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AdminClient } from '../testing/admin-client.js';
import { rawHttp, ROOT, startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { createUser } from '../users/users.service.js';

const PASSWORD = 'correct horse battery';
const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'public, no-cache';

/** Every /public URL a page links to (stylesheets, scripts, icons). */
const publicUrls = (html: string) => [...html.matchAll(/(?:href|src)="(\/public\/[^"]*)"/g)].map((m) => m[1]!.replaceAll('&amp;', '&'));

describe('/public files: versioned URLs, immutable; revalidation otherwise', () => {
  let t: TestServer;
  let browser: AdminClient;

  before(async () => {
    t = await startTestServer();
    await createUser(t.store, TEST_OPERATOR, { email: 'owner@example.com', password: PASSWORD, workspace: 'Acme' });
    browser = await new AdminClient(t.url).signIn('owner@example.com', PASSWORD);
  });
  after(() => t.close());

  test('every page links its /public files by content (?v=<SHA-256 of the bytes>), served immutable for a year', async () => {
    const pages = [
      (await browser.get('/admin/links')).text,
      (await t.request('GET', '/admin/login')).text,
      (await t.request('GET', '/docs/api')).text,
      (await t.request('GET', '/no-such-slug')).text,
      (await t.request('GET', '/no/such/page')).text,
    ];
    const urls = new Set(pages.flatMap(publicUrls));
    for (const expected of ['admin.css', 'admin.js', 'vendor/htmx.min.js', 'favicon.svg', 'status.css', 'docs.css']) {
      assert.ok([...urls].some((u) => u.startsWith(`/public/${expected}?v=`)), `a page links /public/${expected}: ${[...urls].join(' ')}`);
    }
    for (const url of urls) {
      const [path, query] = url.split('?');
      const bytes = readFileSync(join(ROOT, path!.slice(1)));
      const version = new URLSearchParams(query).get('v');
      assert.equal(version, createHash('sha256').update(bytes).digest('base64url').slice(0, 16), `${url}: versioned by content`);
      const res = await rawHttp(t.url, 'GET', url, { 'accept-encoding': 'identity' });
      assert.equal(res.status, 200, url);
      assert.equal(res.headers['cache-control'], IMMUTABLE, url);
      assert.equal(res.headers.etag, `"${version}"`, `${url}: a strong ETag`);
      assert.deepEqual(res.body, bytes, url);
    }
  });

  test('an unversioned or outdated URL revalidates: a strong ETag, no-cache, 304 when unchanged', async () => {
    for (const path of ['/public/admin.css', '/public/admin.css?v=outdated', '/public/favicon.svg']) {
      const res = await rawHttp(t.url, 'GET', path, { 'accept-encoding': 'identity' });
      assert.equal(res.status, 200, path);
      assert.equal(res.headers['cache-control'], REVALIDATE, path);
      const etag = res.headers.etag!;
      assert.match(etag, /^"[\w-]{16}"$/, path);

      for (const tag of [etag, `W/${etag}`, `"other", ${etag}`]) {
        const again = await rawHttp(t.url, 'GET', path, { 'if-none-match': tag });
        assert.equal(again.status, 304, `${path} If-None-Match: ${tag}`);
        assert.equal(again.body.length, 0);
        assert.equal(again.headers.etag, etag);
        assert.equal(again.headers['cache-control'], REVALIDATE);
      }
      assert.equal((await rawHttp(t.url, 'GET', path, { 'if-none-match': '"changed"' })).status, 200, path);
    }
  });

  test('no page links a /public file without its version', async () => {
    const pages = [(await browser.get('/admin/links')).text, (await t.request('GET', '/admin/login')).text, (await t.request('GET', '/docs/api')).text, (await t.request('GET', '/no-such-slug')).text];
    const bare = pages.flatMap(publicUrls).filter((u) => !/\?v=[\w-]{16}$/.test(u));
    assert.deepEqual(bare, []);
  });
});
