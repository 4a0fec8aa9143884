import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdminClient } from '../testing/admin-client.js';
import { apiContract } from '../testing/contract.js';
import { fakeClock, rawHttp, startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { createUser } from '../users/users.service.js';

const PASSWORD = 'correct horse battery';
const BASE = 'https://example.com/'; // 20 characters
/** 2,000 CJK characters: 2,020 characters as typed, 18,020 once percent-encoded (9 each). */
const CJK = `${BASE}${'漢'.repeat(2000)}`;
/** 2,048 characters once encoded: "é" is %C3%A9, 6 characters. */
const AT_LIMIT = `${BASE}${'é'.repeat(338)}`;
const OVER_LIMIT = `${BASE}${'é'.repeat(339)}`;
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0';

describe('Location length: bounded after percent-encoding', () => {
  const clock = fakeClock();
  let t: TestServer;
  let key: string;

  before(async () => {
    t = await startTestServer({ clock });
    key = await t.key();
  });
  after(() => t.close());

  const create = (body: Record<string, unknown>) => t.request('POST', '/api/v1/links', { key, body });

  function assertRefused(res: Awaited<ReturnType<typeof create>>, field: string) {
    assert.equal(res.status, 400, res.text.slice(0, 300));
    assert.equal(res.json.code, 'validation_failed');
    const error = res.json.errors.find((e: { field: string }) => e.field === field);
    assert.ok(error, `an error for ${field}: ${JSON.stringify(res.json.errors)}`);
    assert.match(error.message, /2048 characters once percent-encoded/);
  }

  test('a destination whose percent-encoded form is over 2,048 characters is refused, naming the limit', async () => {
    assertRefused(await create({ url: CJK }), 'url');
    assertRefused(await create({ url: OVER_LIMIT }), 'url');
    assertRefused(await create({ url: `${BASE}a`, expiresAt: new Date(clock.now() + 3_600_000).toISOString(), expiredUrl: CJK }), 'expiredUrl');
    const ok = await create({ url: `${BASE}a` });
    assertRefused(await t.request('PATCH', `/api/v1/links/${ok.json.id}`, { key, body: { url: CJK } }), 'url');
    assertRefused(await t.request('PATCH', `/api/v1/links/${ok.json.id}`, { key, body: { expiredUrl: OVER_LIMIT } }), 'expiredUrl');
  });

  test('2,048 characters once encoded is allowed, and redirects with that Location', async () => {
    const res = await create({ url: AT_LIMIT });
    assert.equal(res.status, 201, res.text.slice(0, 300));
    const location = new URL(AT_LIMIT).href;
    assert.equal(location.length, 2048);
    const visit = await rawHttp(t.url, 'GET', `/${res.json.slug}`, { 'user-agent': BROWSER });
    assert.equal(visit.status, 302);
    assert.equal(visit.headers.location, location);
    const ascii = await create({ url: `${BASE}${'a'.repeat(2048 - BASE.length)}` });
    assert.equal(ascii.status, 201);
  });

  test('the OpenAPI document states the limit on url and expiredUrl', () => {
    const schema = apiContract().doc.components.schemas.CreateLinkRequest;
    for (const field of ['url', 'expiredUrl']) {
      assert.match(JSON.stringify(schema.properties[field]), /2048 characters once percent-encoded/, field);
    }
  });

  test('the admin form says so beside the field', async () => {
    await createUser(t.store, TEST_OPERATOR, { email: 'owner@example.com', password: PASSWORD, workspace: 'Acme' });
    const browser = await new AdminClient(t.url).signIn('owner@example.com', PASSWORD);
    const res = await browser.post('/admin/links', { url: CJK, slug: '', title: '', tags: '', expiresAt: '', expiredUrl: '', maxClicks: '', redirectCode: '302' }, { 'hx-request': 'true' });
    assert.equal(res.status, 422);
    const message = /<p class="error" id="new-url-error">([^<]*)<\/p>/.exec(res.text)?.[1];
    assert.match(message ?? '', /2048 characters once percent-encoded/);
  });

  test('a link saved before the limit does not redirect with an oversized Location, and says why in the log', async () => {
    const link = (await create({ url: `${BASE}short` })).json;
    const expiring = (await create({ url: `${BASE}soon`, expiresAt: new Date(clock.now() + 1_000).toISOString(), expiredUrl: `${BASE}later` })).json;
    // As an older version (or a hand edit) may have stored them.
    await t.store.db.exec('update links set url = ? where id = ?', CJK, link.id);
    await t.store.db.exec('update links set expired_url = ? where id = ?', CJK, expiring.id);
    t.server.deps.linkChanged('', link.slug);
    t.server.deps.linkChanged('', expiring.slug);
    clock.advance(2_000);

    for (const slug of [link.slug, expiring.slug]) {
      const res = await rawHttp(t.url, 'GET', `/${slug}`, { 'user-agent': BROWSER });
      assert.equal(res.status, 500, slug);
      assert.equal(res.headers.location, undefined, slug);
      assert.match(res.headers['content-type'] ?? '', /^text\/html/);
    }
    await t.flushClicks();
    const clicks = (await t.store.db.row<{ n: number }>('select count(*) n from clicks where link_id in (?, ?)', link.id, expiring.id))!;
    assert.equal(clicks.n, 0, 'no click is recorded for a redirect that was not sent');
    const logged = t.logs.filter((l) => l.includes('Location') && l.includes(link.id));
    assert.equal(logged.length, 1, 'one log line names the link');
    assert.match(logged[0]!, /"length":18020/);
  });
});
