import assert from 'node:assert/strict';
import type { Selectable } from 'kysely';
import type { ClickRow } from '../db/schema.js';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { manualTimers } from '../lib/timers.js';
import { fakeClock, type HttpResult, startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';

const BROWSERS = {
  chrome: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  firefox: 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
  safari: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  android: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
};
const BOTS = {
  slackbot: 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
  facebook: 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
  twitter: 'Twitterbot/1.0',
  discord: 'Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)',
  whatsapp: 'WhatsApp/2.23.20.0 A',
  telegram: 'TelegramBot (like TwitterBot)',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
};
const NO_STORE = 'private, max-age=0';

type StoredClick = Selectable<ClickRow>;

async function createLink(t: TestServer, key: string, body: Record<string, unknown>) {
  const res = await t.request('POST', '/api/v1/links', { key, body });
  assert.equal(res.status, 201, res.text);
  return res.json as { id: string; slug: string; url: string; forwardQuery: boolean };
}

async function patchLink(t: TestServer, key: string, id: string, body: Record<string, unknown>) {
  const res = await t.request('PATCH', `/api/v1/links/${id}`, { key, body });
  assert.equal(res.status, 200, res.text);
  return res.json;
}

/** A visit to a short link; a real browser's user agent unless told otherwise (fetch's own "node" is a bot). */
function visit(t: TestServer, path: string, opts: { method?: string; ua?: string; headers?: Record<string, string> } = {}) {
  return t.request(opts.method ?? 'GET', path, { headers: { 'user-agent': opts.ua ?? BROWSERS.chrome, ...opts.headers } });
}

/** A request with exactly these headers: fetch always adds a user agent, node:http adds none. */
function rawRequest(base: string, method: string, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
    const req = httpRequest(base + path, { method, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, location: res.headers.location }));
    });
    req.on('error', reject);
    req.end();
  });
}

function clickRows(t: TestServer, linkId: string): Promise<StoredClick[]> {
  return t.store.db.rows<StoredClick>('select * from clicks where link_id = ? order by id', linkId);
}

function assertRedirect(res: HttpResult, code: number, location: string) {
  assert.equal(res.status, code, res.text);
  assert.equal(res.headers.get('location'), location);
  assert.equal(res.headers.get('cache-control'), NO_STORE);
}

function assertPage(res: HttpResult, status: 404 | 410) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers.get('location'), null);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  if (res.text) assert.match(res.text, status === 404 ? /Link not found/ : /no longer available/);
}

const iso = (ms: number) => new Date(ms).toISOString();
const count = (results: { status: number }[], status: number) => results.filter((r) => r.status === status).length;

describe('redirects', () => {
  const clock = fakeClock();
  let t: TestServer;
  let key: string;
  before(async () => {
    t = await startTestServer({ clock });
    key = await t.key();
  });
  after(() => t.close());

  for (const code of [301, 302, 307, 308]) {
    test(`redirectCode ${code}: GET and HEAD answer ${code} to the url, marked private and uncacheable`, async () => {
      const link = await createLink(t, key, { url: `https://example.com/code-${code}?a=1&b=2`, redirectCode: code });
      for (const method of ['GET', 'HEAD']) {
        const res = await visit(t, `/${link.slug}`, { method });
        assertRedirect(res, code, link.url);
        assert.equal(res.text, '');
      }
    });
  }

  test('an unknown slug answers the 404 page; a link created on it afterwards redirects (misses are not cached)', async () => {
    for (const method of ['GET', 'HEAD']) assertPage(await visit(t, '/not-yet-there', { method }), 404);
    const link = await createLink(t, key, { url: 'https://example.com/late', slug: 'not-yet-there' });
    assertRedirect(await visit(t, '/not-yet-there'), 302, link.url);
  });

  test('a disabled link answers the 410 page until it is enabled again', async () => {
    const link = await createLink(t, key, { url: 'https://example.com/toggle' });
    assertRedirect(await visit(t, `/${link.slug}`), 302, link.url);

    await patchLink(t, key, link.id, { status: 'disabled' });
    for (const method of ['GET', 'HEAD']) assertPage(await visit(t, `/${link.slug}`, { method }), 410);
    assertPage(await visit(t, `/${link.slug}`, { ua: BOTS.googlebot }), 410);

    await patchLink(t, key, link.id, { status: 'active' });
    assertRedirect(await visit(t, `/${link.slug}`), 302, link.url);
  });

  test('an expired link redirects to its expiredUrl (302) when it has one, else answers the 410 page', async () => {
    const expiresAt = clock.now() + 3_600_000;
    const withFallback = await createLink(t, key, {
      url: 'https://example.com/offer',
      expiresAt: iso(expiresAt),
      expiredUrl: 'https://example.com/offer-ended',
      redirectCode: 301,
    });
    const without = await createLink(t, key, { url: 'https://example.com/offer-2', expiresAt: iso(expiresAt) });

    clock.set(expiresAt - 1);
    assertRedirect(await visit(t, `/${withFallback.slug}`), 301, withFallback.url);
    assertRedirect(await visit(t, `/${without.slug}`), 302, without.url);

    clock.set(expiresAt);
    for (const method of ['GET', 'HEAD']) {
      assertRedirect(await visit(t, `/${withFallback.slug}`, { method }), 302, 'https://example.com/offer-ended');
      assertPage(await visit(t, `/${without.slug}`, { method }), 410);
    }
  });

  test('maxClicks counts human clicks only: bots pass until the limit, then nobody does', async () => {
    const link = await createLink(t, key, { url: 'https://example.com/limited', maxClicks: 3 });
    const path = `/${link.slug}`;
    const bots = async () => {
      assertRedirect(await visit(t, path, { method: 'HEAD' }), 302, link.url);
      for (const ua of [BOTS.googlebot, BOTS.slackbot, BOTS.facebook, BOTS.twitter, BOTS.whatsapp]) {
        assertRedirect(await visit(t, path, { ua }), 302, link.url);
      }
    };

    await bots();
    assertRedirect(await visit(t, path), 302, link.url);
    await bots();
    assertRedirect(await visit(t, path, { ua: BROWSERS.firefox }), 302, link.url);
    await bots();
    assertRedirect(await visit(t, path, { ua: BROWSERS.iphone }), 302, link.url);

    assertPage(await visit(t, path), 410);
    assertPage(await visit(t, path, { ua: BROWSERS.safari }), 410);
    assertPage(await visit(t, path, { ua: BOTS.googlebot }), 410);
    assertPage(await visit(t, path, { method: 'HEAD' }), 410);

    await t.flushClicks();
    const rows = await clickRows(t, link.id);
    assert.equal(rows.filter((r) => r.bot === 0).length, 3, 'one row per human redirect, none for the refusals');
    assert.equal(rows.filter((r) => r.bot === 1).length, 18, 'one row per bot redirect');
    const res = await t.request('GET', `/api/v1/links/${link.id}`, { key });
    assert.equal(res.json.clicks, 3);
  });

  test('maxClicks is exact under concurrency: 40 simultaneous visitors on a limit of 10', async () => {
    const link = await createLink(t, key, { url: 'https://example.com/rush', maxClicks: 10 });
    const results = await Promise.all(Array.from({ length: 40 }, () => visit(t, `/${link.slug}`)));
    assert.equal(count(results, 302), 10);
    assert.equal(count(results, 410), 30);
    for (const r of results.filter((x) => x.status === 302)) assert.equal(r.headers.get('location'), link.url);

    await t.flushClicks();
    assert.equal((await clickRows(t, link.id)).length, 10);
    const res = await t.request('GET', `/api/v1/links/${link.id}`, { key });
    assert.equal(res.json.clicks, 10);
  });

  test('raising maxClicks on an exhausted link lets exactly the new allowance through', async () => {
    const link = await createLink(t, key, { url: 'https://example.com/more', maxClicks: 1 });
    assertRedirect(await visit(t, `/${link.slug}`), 302, link.url);
    assertPage(await visit(t, `/${link.slug}`), 410);

    await patchLink(t, key, link.id, { maxClicks: 3 });
    const results = await Promise.all(Array.from({ length: 5 }, () => visit(t, `/${link.slug}`)));
    assert.equal(count(results, 302), 2);
    assert.equal(count(results, 410), 3);

    await patchLink(t, key, link.id, { maxClicks: null });
    assertRedirect(await visit(t, `/${link.slug}`), 302, link.url);
  });

  test('a PATCH of url, redirectCode or slug takes effect on the very next redirect', async () => {
    const link = await createLink(t, key, { url: 'https://example.com/v1', slug: 'moving-target' });
    assertRedirect(await visit(t, '/moving-target'), 302, 'https://example.com/v1');

    await patchLink(t, key, link.id, { url: 'https://example.com/v2' });
    assertRedirect(await visit(t, '/moving-target'), 302, 'https://example.com/v2');

    await patchLink(t, key, link.id, { redirectCode: 308 });
    assertRedirect(await visit(t, '/moving-target', { method: 'HEAD' }), 308, 'https://example.com/v2');

    await patchLink(t, key, link.id, { slug: 'moved-target' });
    assertPage(await visit(t, '/moving-target'), 404);
    assertRedirect(await visit(t, '/moved-target'), 308, 'https://example.com/v2');
  });

  test("a deleted link's slug answers 404 at once, and can be taken by a new link", async () => {
    const link = await createLink(t, key, { url: 'https://example.com/old', slug: 'short-lived' });
    assertRedirect(await visit(t, '/short-lived'), 302, link.url);

    const del = await t.request('DELETE', `/api/v1/links/${link.id}`, { key });
    assert.equal(del.status, 204);
    assertPage(await visit(t, '/short-lived'), 404);

    const again = await createLink(t, key, { url: 'https://example.com/new', slug: 'short-lived' });
    assertRedirect(await visit(t, '/short-lived'), 302, again.url);
  });

  test('reserved top-level paths are never treated as slugs, even if a row with that slug exists', async () => {
    // The API refuses these slugs (links.test.ts); a row could still come from an older version or a manual edit.
    for (const slug of ['healthz', 'api', 'readyz']) {
      const link = await createLink(t, key, { url: `https://evil.example/${slug}` });
      await t.store.db.exec('update links set slug = ? where id = ?', slug, link.id);
    }

    const health = await visit(t, '/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(health.json, { status: 'ok' });
    assert.equal((await visit(t, '/HEALTHZ')).status, 200);
    assert.equal((await visit(t, '/readyz')).status, 200);
    for (const path of ['/api', '/API', '/api?x=1']) {
      const res = await visit(t, path);
      assert.equal(res.status, 404, path);
      assert.equal(res.headers.get('location'), null, path);
    }
  });

  test('only a single path segment of slug characters is a slug: anything else is the 404 page', async () => {
    await createLink(t, key, { url: 'https://example.com/segment', slug: 'abc' });
    assertRedirect(await visit(t, '/abc'), 302, 'https://example.com/segment');
    for (const path of ['/abc//', '/abc/def', '/abc/def/', '/a%20b', '/abc%2F', '/abc.', '/ab%63', '//abc']) {
      const res = await visit(t, path);
      assert.equal(res.status, 404, path);
      assert.equal(res.headers.get('location'), null, path);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/, path);
    }
  });

  test('a trailing slash is the same link: /slug/ redirects like /slug, its query forwarded alike', async () => {
    await createLink(t, key, { url: 'https://example.com/trailing', slug: 'trailing' });
    assertRedirect(await visit(t, '/trailing/'), 302, 'https://example.com/trailing');
    assertRedirect(await visit(t, '/trailing/?utm_source=mail'), 302, 'https://example.com/trailing?utm_source=mail');
    assert.equal((await visit(t, '/trailing/', { method: 'HEAD' })).status, 302);
    assert.equal((await t.request('POST', '/trailing/')).status, 405, 'other methods of /slug/ are answered as those of /slug');
  });

  test('forwardQuery (on by default): the visitor query is added to the url, except qr=1 and what the url already has', async () => {
    const link = await createLink(t, key, { url: 'https://example.com/landing?campaign=spring#form' });
    assert.equal(link.forwardQuery, true);
    const cases: [string, string][] = [
      ['?utm_source=newsletter&utm_medium=email', 'https://example.com/landing?campaign=spring&utm_source=newsletter&utm_medium=email#form'],
      ['?qr=1', link.url],
      ['?qr=1&utm_source=print', 'https://example.com/landing?campaign=spring&utm_source=print#form'],
      ['?qr=0', 'https://example.com/landing?campaign=spring&qr=0#form'],
      ['?', link.url],
      ['?campaign=autumn', link.url],
    ];
    for (const [query, location] of cases) assertRedirect(await visit(t, `/${link.slug}${query}`), 302, location);
  });

  test('forwardQuery false: the redirect goes to the url as stored, whatever the query; PATCH turns it on and off at once', async () => {
    const link = await createLink(t, key, { url: 'https://example.com/as-stored', forwardQuery: false });
    assert.equal(link.forwardQuery, false);
    assertRedirect(await visit(t, `/${link.slug}?utm_source=mail`), 302, link.url);
    const on = await t.request('PATCH', `/api/v1/links/${link.id}`, { key, body: { forwardQuery: true } });
    assert.equal(on.json.forwardQuery, true);
    assertRedirect(await visit(t, `/${link.slug}?utm_source=mail`), 302, `${link.url}?utm_source=mail`);
    const bad = await t.request('PATCH', `/api/v1/links/${link.id}`, { key, body: { forwardQuery: 'yes' } });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /forwardQuery/);
  });

  test('an expired link forwards the query to its expiredUrl too', async () => {
    const link = await createLink(t, key, { url: 'https://example.com/live', expiresAt: new Date(clock.now() + 60_000).toISOString(), expiredUrl: 'https://example.com/over' });
    clock.advance(60_000);
    assertRedirect(await visit(t, `/${link.slug}?utm_source=mail`), 302, 'https://example.com/over?utm_source=mail');
  });

  test(
    'a url with non-ASCII characters redirects with a valid (percent-encoded, punycode) Location',
    async () => {
      for (const url of ['https://example.com/日本語?q=ü', 'https://bücher.example/straße']) {
        const link = await createLink(t, key, { url });
        assertRedirect(await visit(t, `/${link.slug}`), 302, new URL(url).href);
      }
    },
  );

  test(
    'a url with an embedded line break is refused or normalised, never stored to fail at redirect time',
    async () => {
      const res = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/a\nb' } });
      if (res.status === 201) assertRedirect(await visit(t, `/${res.json.slug}`), 302, 'https://example.com/ab');
      else assert.equal(res.status, 400, res.text);
    },
  );
});

describe('click recording', () => {
  const clock = fakeClock();
  let t: TestServer;
  let key: string;
  before(async () => {
    t = await startTestServer({ clock });
    key = await t.key();
  });
  after(() => t.close());

  test('one row per redirect: bot and qr flags, referrer, user agent, time, and a hashed IP only', async () => {
    await t.server.deps.instanceSettings.update(TEST_OPERATOR, { keepUserAgents: true }, clock.now());
    after(async () => {
      await t.server.deps.instanceSettings.update(TEST_OPERATOR, { keepUserAgents: false }, clock.now());
    });
    const link = await createLink(t, key, { url: 'https://example.com/tracked' });
    const path = `/${link.slug}`;
    // Bots first and a human last, so the link's lastClickedAt is the last human click either way.
    const cases: { name: string; method: string; ua: string | undefined; query?: string; bot: boolean; qr: boolean }[] = [
      { name: 'HEAD', method: 'HEAD', ua: BROWSERS.chrome, bot: true, qr: false },
      { name: 'no user agent', method: 'GET', ua: undefined, bot: true, qr: false },
      { name: 'empty user agent', method: 'GET', ua: '', bot: true, qr: false },
      ...Object.entries(BOTS).map(([name, ua]) => ({ name, method: 'GET', ua, bot: true, qr: false })),
      { name: 'QR scan by a preview bot', method: 'GET', ua: BOTS.whatsapp, query: '?qr=1', bot: true, qr: true },
      ...Object.entries(BROWSERS).map(([name, ua]) => ({ name, method: 'GET', ua, bot: false, qr: false })),
      { name: 'QR scan with a phone', method: 'GET', ua: BROWSERS.iphone, query: '?qr=1', bot: false, qr: true },
    ];
    const times = new Map<string, number>();
    for (const [i, c] of cases.entries()) {
      clock.advance(60_000);
      const referrer = `https://ref.example/${i}`;
      times.set(referrer, clock.now());
      const headers: Record<string, string> = { referer: referrer };
      if (c.ua !== undefined) headers['user-agent'] = c.ua;
      const res = await rawRequest(t.url, c.method, path + (c.query ?? ''), headers);
      assert.equal(res.status, 302, c.name);
      assert.equal(res.location, link.url, c.name);
    }

    await t.flushClicks();
    const rows = await clickRows(t, link.id);
    assert.equal(rows.length, cases.length);
    for (const [i, c] of cases.entries()) {
      const row = rows.find((r) => r.referrer === `https://ref.example/${i}`);
      assert.ok(row, `a row for ${c.name}`);
      assert.equal(row.bot, c.bot ? 1 : 0, `bot flag of ${c.name}`);
      assert.equal(row.qr, c.qr ? 1 : 0, `qr flag of ${c.name}`);
      assert.equal(row.user_agent, c.ua || null, `user agent of ${c.name}`);
      assert.equal(row.clicked_at, times.get(row.referrer!), `time of ${c.name}`);
      assert.match(row.ip_hash ?? '', /^[A-Za-z0-9_-]{22}$/, `ip hash of ${c.name}`);
      assert.ok(!JSON.stringify(row).includes('127.0.0.1'), `no plain IP in the row of ${c.name}`);
    }
    assert.equal(new Set(rows.map((r) => r.ip_hash)).size, 1, 'one visitor address, one hash');

    const res = await t.request('GET', `/api/v1/links/${link.id}`, { key });
    assert.equal(res.json.clicks, cases.filter((c) => !c.bot).length);
    assert.equal(res.json.lastClickedAt, iso(clock.now()));
  });

  test('raw user agents are kept only when the instance says so; device, browser and OS always are', async () => {
    assert.equal(t.server.deps.instanceSettings.get().keepUserAgents, false, 'off by default');
    const link = await createLink(t, key, { url: 'https://example.com/private' });
    await rawRequest(t.url, 'GET', `/${link.slug}`, { 'user-agent': BROWSERS.iphone, referer: 'https://www.News.example:8443/a?b=c' });
    await rawRequest(t.url, 'HEAD', `/${link.slug}`, { 'user-agent': BROWSERS.chrome });
    await t.flushClicks();
    const rows = await t.store.db.rows('select user_agent, device, browser, os, referrer_host from clicks where link_id = ? order by id', link.id);
    assert.deepEqual(rows, [
      { user_agent: null, device: 'mobile', browser: 'Safari', os: 'iOS', referrer_host: 'news.example' },
      // A HEAD request is a bot click whatever agent sent it; its browser and OS are still what the agent says.
      { user_agent: null, device: 'bot', browser: 'Chrome', os: 'Windows', referrer_host: null },
    ]);
  });

  test('X-Forwarded-For is ignored unless LINKQR_TRUST_PROXY trusts the proxy; the hash key differs per instance', async () => {
    const link = await createLink(t, key, { url: 'https://example.com/proxied' });
    await visit(t, `/${link.slug}`);
    await visit(t, `/${link.slug}`, { headers: { 'x-forwarded-for': '203.0.113.5' } });
    await t.flushClicks();
    const direct = (await clickRows(t, link.id)).map((r) => r.ip_hash);
    assert.equal(direct[0], direct[1], 'a spoofed X-Forwarded-For does not change the address');

    const proxied = await startTestServer({ env: { LINKQR_TRUST_PROXY: 'loopback' } });
    try {
      const proxiedKey = await proxied.key();
      const other = await createLink(proxied, proxiedKey, { url: 'https://example.com/behind-proxy' });
      for (const ip of ['203.0.113.5', '203.0.113.5', '203.0.113.6']) {
        await visit(proxied, `/${other.slug}`, { headers: { 'x-forwarded-for': ip } });
      }
      await visit(proxied, `/${other.slug}`);
      await proxied.flushClicks();
      const hashes = (await clickRows(proxied, other.id)).map((r) => r.ip_hash);
      assert.equal(hashes[0], hashes[1]);
      assert.notEqual(hashes[0], hashes[2], 'each forwarded client is its own visitor');
      assert.ok(!hashes.includes(direct[0]!), 'another instance, another hash key');
      assert.ok(!JSON.stringify(await clickRows(proxied, other.id)).includes('203.0.113'));
    } finally {
      await proxied.close();
    }
  });
});

describe('click batching', () => {
  let t: TestServer;
  let key: string;
  // The batch delay passes only when a test moves these timers: nothing here races the machine's speed.
  const timers = manualTimers();
  before(async () => {
    t = await startTestServer({ clicks: { flushDelayMs: 500, timers } });
    key = await t.key();
  });
  after(() => t.close());

  test('a click is written by the batch timer after the redirect, not during it', async () => {
    const link = await createLink(t, key, { url: 'https://example.com/later' });
    assertRedirect(await visit(t, `/${link.slug}`), 302, link.url);
    assert.equal((await clickRows(t, link.id)).length, 0, 'not in the table right after the redirect');

    const written = await t.request('GET', `/api/v1/links/${link.id}`, { key });
    assert.equal(written.json.clicks, 0);
    timers.advance(499);
    await t.server.deps.clicks.whenIdle();
    assert.equal((await clickRows(t, link.id)).length, 0, 'not before the batch delay');
    timers.advance(1);
    await t.server.deps.clicks.whenIdle();
    assert.equal((await clickRows(t, link.id)).length, 1, 'written once the batch timer fired');
    const res = await t.request('GET', `/api/v1/links/${link.id}`, { key });
    assert.equal(res.json.clicks, 1);
    assert.notEqual(res.json.lastClickedAt, null);
  });

  test('a human click of a link with maxClicks is in the database before its redirect is answered (a crash cannot undo it); bots stay buffered', async () => {
    const link = await createLink(t, key, { url: 'https://example.com/limited-now', maxClicks: 10 });
    assertRedirect(await visit(t, `/${link.slug}`), 302, link.url);
    assert.equal((await clickRows(t, link.id)).length, 1, 'written before the answer, not by the batch timer');
    assert.equal((await t.request('GET', `/api/v1/links/${link.id}`, { key })).json.clicks, 1);

    const bot = await t.request('GET', `/${link.slug}`, { headers: { 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' } });
    assert.equal(bot.status, 302);
    assert.equal((await clickRows(t, link.id)).length, 1, 'bots do not count against maxClicks: their clicks wait for the batch');
  });

  test('maxClicks stays exact when a PATCH sets it while the link\'s clicks are still buffered', async () => {
    // Clicks of a link without maxClicks wait in memory; once it has one, they are written before each answer.
    const link = await createLink(t, key, { url: 'https://example.com/buffered' });
    assertRedirect(await visit(t, `/${link.slug}`), 302, link.url);
    assert.equal((await clickRows(t, link.id)).length, 0, 'precondition: the first click is still in memory');

    await patchLink(t, key, link.id, { maxClicks: 2 });
    assertRedirect(await visit(t, `/${link.slug}`), 302, link.url);
    assertPage(await visit(t, `/${link.slug}`), 410);

    await t.flushClicks();
    assert.equal((await clickRows(t, link.id)).length, 2);
  });
});
