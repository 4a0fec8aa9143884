import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listAudit } from '../audit/audit.js';
import { eventually, rawHttp, startTestServer, type TestServer } from '../testing/harness.js';
import { startReceiver } from '../testing/receiver.js';
import { findWorkspaceByName } from '../workspaces/workspaces.repo.js';

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
const ANDROID = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36';
const DESKTOP = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
// Addresses the shipped IP database places in Germany (Deutsche Telekom) and the United States (Google).
const GERMANY = '194.25.2.129';
const USA = '8.8.8.8';

const headersOf = (agent: string, client?: string): Record<string, string> => ({ 'user-agent': agent, ...(client ? { 'x-forwarded-for': client } : {}) });

/** A visit as a browser behind the trusted proxy makes it. */
const visit = (t: TestServer, path: string, agent: string, client?: string) => rawHttp(t.url, 'GET', path, headersOf(agent, client));

/** The password form as a browser posts it. */
const submit = (t: TestServer, path: string, agent: string, client: string | undefined, body: string) =>
  fetch(`${t.url}${path}`, { method: 'POST', body, redirect: 'manual', headers: { ...headersOf(agent, client), 'content-type': 'application/x-www-form-urlencoded' } });

describe('targets: destinations by device and country', () => {
  let t: TestServer;
  let key: string;
  before(async () => {
    t = await startTestServer({ env: { LINKQR_TRUST_PROXY: 'loopback', LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' } });
    key = await t.key();
  });
  after(() => t.close());

  test('the first matching rule wins; a visitor no rule matches goes to the link URL', async () => {
    const targets = [
      { device: 'ios', url: 'https://apps.apple.com/app/id1' },
      { device: 'android', url: 'https://play.google.com/store/apps/details?id=x' },
      { country: 'de', url: 'https://example.de/' },
      { device: 'desktop', country: 'US', url: 'https://example.com/us-desktop' },
    ];
    const created = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/default', slug: 'box', targets } });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.json.targets[2], { country: 'DE', url: 'https://example.de/' }, 'country codes are kept in upper case');

    assert.equal((await visit(t, '/box', IPHONE, GERMANY)).headers.location, 'https://apps.apple.com/app/id1', 'device before country: first match');
    assert.equal((await visit(t, '/box', ANDROID)).headers.location, 'https://play.google.com/store/apps/details?id=x');
    assert.equal((await visit(t, '/box', DESKTOP, GERMANY)).headers.location, 'https://example.de/');
    assert.equal((await visit(t, '/box', DESKTOP, USA)).headers.location, 'https://example.com/us-desktop');
    assert.equal((await visit(t, '/box', DESKTOP)).headers.location, 'https://example.com/default', 'an address of unknown country');
    assert.equal((await visit(t, '/box?utm_source=box', ANDROID)).headers.location, 'https://play.google.com/store/apps/details?id=x&utm_source=box', 'forwarding applies to targets');

    // Each click keeps the country it came from.
    await t.flushClicks();
    const clicks = (await t.request('GET', `/api/v1/links/${created.json.id}/clicks`, { key })).json.data as { country: string | null }[];
    const byCountry = (code: string | null) => clicks.filter((c) => c.country === code).length;
    assert.deepEqual([byCountry('DE'), byCountry('US'), byCountry(null)], [2, 1, 3]);

    const cleared = await t.request('PATCH', `/api/v1/links/${created.json.id}`, { key, body: { targets: null } });
    assert.deepEqual(cleared.json.targets, []);
    assert.equal((await visit(t, '/box', IPHONE)).headers.location, 'https://example.com/default', 'the cache forgot the rules');
    const entry = (await listAudit(t.store.db, (await findWorkspaceByName(t.store.db, 'Acme'))!.id, 1))[0]!;
    assert.deepEqual(Object.keys(entry.summary), ['targets']);
  });

  test('link.clicked carries the country of the click', async () => {
    const receiver = await startReceiver();
    try {
      await t.request('POST', '/api/v1/webhooks', { key, body: { url: `${receiver.url}/hooks`, events: ['link.clicked'] } });
      await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/hooked', slug: 'hooked' } });
      await visit(t, '/hooked', DESKTOP, GERMANY);
      await t.flushClicks();
      // Clicks of the other test's link may still have been waiting in the buffer: this link's.
      const payloads = () => receiver.received.map((r) => JSON.parse(r.body) as { type: string; data: { link: { slug: string }; click: { country: string | null } } });
      const hooked = await eventually(() => payloads().find((p) => p.data.link.slug === 'hooked'));
      assert.equal(hooked.type, 'link.clicked');
      assert.equal(hooked.data.click.country, 'DE');
    } finally {
      await receiver.close();
    }
  });

  test('refusals name the rule and the field', async () => {
    const refused = async (targets: unknown) => {
      const res = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/', targets } });
      assert.equal(res.status, 400, JSON.stringify(targets));
      return res.json.errors as { field: string; message: string }[];
    };
    assert.deepEqual(await refused([{ url: 'https://example.com/all' }]), [{ field: 'targets.0.device', message: 'must name a device, a country or both' }]);
    assert.equal((await refused([{ country: 'Germany', url: 'https://example.de/' }]))[0]!.field, 'targets.0.country');
    assert.equal((await refused([{ device: 'windows', url: 'https://example.com/' }]))[0]!.field, 'targets.0.device');
    assert.equal((await refused([{ device: 'ios', url: 'ftp://example.com/' }]))[0]!.field, 'targets.0.url');
    assert.equal((await refused(Array.from({ length: 21 }, () => ({ device: 'ios', url: 'https://example.com/' }))))[0]!.field, 'targets');
  });
});

describe('protected links: a password before the redirect', () => {
  let t: TestServer;
  let key: string;
  before(async () => {
    t = await startTestServer({ env: { LINKQR_TRUST_PROXY: 'loopback' } });
    key = await t.key();
  });
  after(() => t.close());

  test('the page asks, a wrong password is refused, the right one redirects (303) and only then counts a click', async () => {
    const created = await t.request('POST', '/api/v1/links', {
      key,
      body: { url: 'https://example.com/secret', slug: 'vault', password: 'open sesame', redirectCode: 308, forwardQuery: true },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.passwordProtected, true);
    assert.ok(!('password' in created.json), 'never returned');
    assert.doesNotMatch(created.text, /argon2/);

    const page = await visit(t, '/vault?utm_source=mail', DESKTOP);
    assert.equal(page.status, 200);
    assert.equal(page.headers.location, undefined);
    assert.equal(page.headers['cache-control'], 'no-store');
    const html = page.body.toString();
    assert.match(html, /<form class="password-form" method="post" action="\/vault\?utm_source=mail">/);
    assert.match(html, /type="password"/);
    assert.doesNotMatch(html, /<script/, 'no JavaScript needed');
    assert.match(String(page.headers['content-security-policy']), /form-action 'self' https: http:/);

    const wrong = await submit(t, '/vault?utm_source=mail', DESKTOP, undefined, 'password=nope');
    assert.equal(wrong.status, 403);
    assert.match(await wrong.text(), /That password is not right/);

    const right = await submit(t, '/vault?utm_source=mail', DESKTOP, undefined, `password=${encodeURIComponent('open sesame')}`);
    assert.equal(right.status, 303, 'never 307/308: the browser would post the password on to the destination');
    assert.equal(right.headers.get('location'), 'https://example.com/secret?utm_source=mail');

    await t.flushClicks();
    const link = (await t.request('GET', `/api/v1/links/${created.json.id}`, { key })).json;
    assert.equal(link.clicks, 1, 'the page views and the wrong password counted nothing');
  });

  test('wrong passwords are throttled per link and address; another address is not held up', async () => {
    await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/t', slug: 'throttled', password: 'correct horse' } });
    for (let i = 0; i < 10; i++) assert.equal((await submit(t, '/throttled', DESKTOP, '203.0.113.7', 'password=guess')).status, 403);
    const held = await submit(t, '/throttled', DESKTOP, '203.0.113.7', 'password=correct+horse');
    assert.equal(held.status, 429, 'even the right password waits');
    assert.ok(Number(held.headers.get('retry-after')) > 0);
    assert.match(await held.text(), /Too many wrong passwords/);
    assert.equal((await submit(t, '/throttled', DESKTOP, '203.0.113.8', 'password=correct+horse')).status, 303);

    // IPv6: one subscriber's /64 is one address; the next /64 is another.
    for (let i = 0; i < 10; i++) assert.equal((await submit(t, '/throttled', DESKTOP, `2001:db8:1:2::${i + 1}`, 'password=guess')).status, 403);
    assert.equal((await submit(t, '/throttled', DESKTOP, '2001:db8:1:2:ffff::99', 'password=correct+horse')).status, 429);
    assert.equal((await submit(t, '/throttled', DESKTOP, '2001:db8:1:3::1', 'password=correct+horse')).status, 303);
  });

  test('removing the password redirects at once; a POST to a link without one is 405', async () => {
    const created = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/open', slug: 'opened', password: 'temporary' } })).json;
    assert.equal((await visit(t, '/opened', DESKTOP)).status, 200);
    const patched = await t.request('PATCH', `/api/v1/links/${created.id}`, { key, body: { password: null } });
    assert.equal(patched.json.passwordProtected, false);
    assert.equal((await visit(t, '/opened', DESKTOP)).headers.location, 'https://example.com/open');
    const post = await submit(t, '/opened', DESKTOP, undefined, 'password=x');
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD, OPTIONS', 'what this link answers: POST is for protected ones');
    const entry = (await listAudit(t.store.db, (await findWorkspaceByName(t.store.db, 'Acme'))!.id, 1))[0]!;
    assert.deepEqual(entry.summary, { passwordProtected: { from: true, to: false } });
  });

  test('a disabled protected link is gone without asking; a short password is refused', async () => {
    const created = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/off', slug: 'off', password: 'secret!!' } })).json;
    await t.request('PATCH', `/api/v1/links/${created.id}`, { key, body: { status: 'disabled' } });
    assert.equal((await visit(t, '/off', DESKTOP)).status, 410);
    const short = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/', password: 'abcdefg' } });
    assert.deepEqual(short.json.errors, [{ field: 'password', message: 'must be at least 8 characters' }]);
  });
});
