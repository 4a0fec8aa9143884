import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { parseImport } from '../../imports/parse-import.js';
import { fakeClock, rawHttp, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';
import { insertLink } from '../../links/links.repo.js';
import { newLinkRow } from '../../links/links.service.js';
import { findWorkspaceByName } from '../../workspaces/workspaces.repo.js';
import { writeClickBatch } from '../../clicks/clicks.repo.js';
import { APPLY_EVERY_MS } from '../../clicks/rollup-applier.js';

const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0';

describe('CSV exports: links and clicks, streamed', () => {
  const clock = fakeClock(Date.UTC(2030, 4, 10, 12));
  let t: TestServer;
  let key: string;
  const csv = async (path: string, k = key) => {
    const res = await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${k}` } });
    return { res, rows: res.status === 200 ? (parse(await res.text(), { columns: true }) as Record<string, string>[]) : [] };
  };

  before(async () => {
    t = await startTestServer({ clock, env: { LINKQR_TRUST_PROXY: 'loopback' } });
    key = await t.key();
  });
  after(() => t.close());

  test('links: every page, the list filters, formula cells guarded, and the file imports back as the same links', async () => {
    // More than a page, written straight to the database (the API's rate limit would take minutes).
    const workspaceId = (await findWorkspaceByName(t.store.db, 'Acme'))!.id;
    for (let i = 0; i < 1_205; i++) {
      await insertLink(t.store.db, newLinkRow(workspaceId, TEST_OPERATOR, { url: `https://example.com/${i}`, tags: i % 2 ? ['odd'] : ['even'] }, clock.now() + i));
    }
    const tricky = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/t', slug: 'tricky', title: '=HYPERLINK("http://evil")', tags: ['a, b'.replace(', ', '-'), '+1'] } });
    assert.equal(tricky.status, 201, tricky.text);

    const all = await csv('/api/v1/links/export');
    assert.equal(all.res.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.match(all.res.headers.get('content-disposition') ?? '', /^attachment; filename="links-2030-05-10\.csv"$/);
    assert.equal(all.rows.length, 1_206, 'past the first page of 1,000');
    assert.deepEqual(Object.keys(all.rows[0]!).slice(0, 4), ['id', 'slug', 'shortUrl', 'url']);
    const row = all.rows.find((r) => r.slug === 'tricky')!;
    assert.equal(row.title, `'=HYPERLINK("http://evil")`, 'a spreadsheet shows it as text');
    assert.equal(row.tags, 'a-b, +1', 'only a cell that starts like a formula is guarded');

    const odd = await csv('/api/v1/links/export?tag=odd');
    assert.equal(odd.rows.length, 602);
    assert.equal((await csv('/api/v1/links/export?limit=5')).res.status, 400, 'paging parameters are not filters');

    // LinkQR's import reads its own export back: same slugs, URLs, titles and tags.
    const text = await (await fetch(`${t.url}/api/v1/links/export?q=tricky`, { headers: { authorization: `Bearer ${key}` } })).text();
    const [parsed] = parseImport('csv', text).rows;
    assert.deepEqual(parsed!.input, { url: 'https://example.com/t', slug: 'tricky', title: '=HYPERLINK("http://evil")', tags: ['a-b', '+1'], redirectCode: 302, forwardQuery: true, domain: '127.0.0.1', status: 'active' });
    assert.deepEqual(parsed!.problems, []);
  });

  test("clicks: a range's clicks of every link, with country and visitor, no other workspace's; scopes and plan apply", async () => {
    const a = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/a', slug: 'clicked-a' } })).json;
    const b = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/b', slug: 'clicked-b' } })).json;
    const other = await t.key({ workspace: 'Other' });
    const theirs = (await t.request('POST', '/api/v1/links', { key: other, body: { url: 'https://example.com/x', slug: 'theirs' } })).json;
    const visit = (slug: string, client: string) => rawHttp(t.url, 'GET', `/${slug}`, { 'user-agent': BROWSER, 'x-forwarded-for': client });
    await visit('clicked-a', '194.25.2.129');
    clock.advance(1_000);
    await visit('clicked-b', '8.8.8.8');
    await visit('clicked-a', '10.0.0.1');
    await visit('theirs', '8.8.8.8');
    await t.flushClicks();

    const { res, rows } = await csv('/api/v1/clicks/export?from=2030-05-10&to=2030-05-10');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-disposition') ?? '', /filename="clicks-2030-05-10-to-2030-05-10\.csv"/);
    assert.deepEqual(Object.keys(rows[0]!), ['clickedAt', 'linkId', 'domain', 'slug', 'bot', 'qr', 'country', 'device', 'browser', 'os', 'referrer', 'referrerHost', 'visitor', 'userAgent']);
    // Link by link (a was made first, so its id sorts first), each in time order; a private address has no country.
    assert.ok(a.id < b.id);
    assert.deepEqual(
      rows.map((r) => [r.slug, r.country, r.bot]),
      [['clicked-a', 'DE', 'false'], ['clicked-a', '', 'false'], ['clicked-b', 'US', 'false']],
    );
    assert.ok(rows.every((r) => r.linkId !== theirs.id));
    assert.match(rows[0]!.visitor!, /^\S{10,}$/);
    assert.equal((await csv('/api/v1/clicks/export?from=2030-05-11&to=2030-05-12')).rows.length, 0, 'another range');

    // A click is exported once written, before its rollups are applied (written as a batch that
    // nothing applies: the server's applier is armed only by its own batches, the last one's
    // timer long gone).
    const d = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/d', slug: 'clicked-d' } })).json;
    await new Promise((resolve) => setTimeout(resolve, APPLY_EVERY_MS + 100));
    const workspaceId = (await findWorkspaceByName(t.store.db, 'Acme'))!.id;
    const click = { linkId: d.id, workspaceId, at: clock.now(), bot: false, qr: false, referrer: null, referrerHost: null, userAgent: null, device: 'desktop', browser: 'Firefox', os: 'Linux', ipHash: null, country: 'FR' };
    await t.store.db.tx((tx) => writeClickBatch(tx, [click], [], []));
    const fresh = await csv('/api/v1/clicks/export?from=2030-05-10&to=2030-05-10');
    assert.deepEqual(fresh.rows.filter((r) => r.country === 'FR').map((r) => r.slug), ['clicked-d']);
    const pending = await t.store.db.row<{ n: number }>('select count(*) as n from pending_rollups');
    assert.equal(Number(pending!.n), 1, 'its rollups were still pending');

    const linksOnly = await t.key({ scopes: ['links:read'], name: 'links only' });
    assert.equal((await csv('/api/v1/clicks/export', linksOnly)).res.status, 403);
    assert.equal((await csv('/api/v1/clicks/export?from=2030-05-12&to=2030-05-10')).res.status, 400);
  });
});
