import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLink, updateLink } from '../../links/links.service.js';
import { createUser } from '../../users/users.service.js';
import { createWorkspace, requireWorkspace } from '../../workspaces/workspaces.service.js';
import { AdminClient } from '../../testing/admin-client.js';
import { fakeClock, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';
import { LINKS_PAGE_SIZE } from './links.routes.js';

const PASSWORD = 'correct horse battery';
const OWNER = 'owner@example.com';
const VIEWER = 'viewer@example.com';
const HX = { 'hx-request': 'true' };

/** The slugs of the table rows, in order. */
const slugsIn = (html: string) => [...html.matchAll(/<a class="short-url mono" href="[^"]*\/([^"/]+)"/g)].map((m) => m[1]);
/** The options of a toolbar select, and which one is chosen. */
function optionsOf(html: string, name: string) {
  const select = new RegExp(`<select name="${name}"[^>]*>([^]*?)</select>`).exec(html)?.[1] ?? '';
  const options = [...select.matchAll(/<option value="([^"]*)"( selected)?>/g)];
  return { values: options.map((m) => m[1]), selected: options.find((m) => m[2])?.[1] };
}
/** The Load more control: its plain href and its htmx URL. */
function loadMore(html: string) {
  const m = /<a class="btn btn-secondary btn-small" href="([^"]+)" hx-get="([^"]+)"/.exec(html);
  return m ? { href: m[1]!.replaceAll('&amp;', '&'), rows: m[2]!.replaceAll('&amp;', '&') } : undefined;
}

describe('admin Links page: status and tag filters', () => {
  const clock = fakeClock(Date.UTC(2030, 0, 1, 9));
  let t: TestServer;
  let owner: AdminClient;
  let acme: string;

  async function link(slug: string, opts: { tags?: string[]; title?: string; disabled?: boolean } = {}) {
    const created = await createLink(t.server.deps, acme, TEST_OPERATOR, { url: `https://example.com/${slug}`, slug, tags: opts.tags, title: opts.title });
    if (opts.disabled) await updateLink(t.server.deps, acme, TEST_OPERATOR, created.id, { status: 'disabled' });
    clock.advance(1);
    return created;
  }

  before(async () => {
    t = await startTestServer({ clock });
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    await createUser(t.store, TEST_OPERATOR, { email: VIEWER, password: PASSWORD, workspace: 'Acme', role: 'viewer' });
    acme = (await requireWorkspace(t.store, 'Acme')).id;
    const globex = await createWorkspace(t.store, TEST_OPERATOR, 'Globex');
    await createLink(t.server.deps, globex.id, TEST_OPERATOR, { url: 'https://globex.example/', slug: 'globex-home', tags: ['globex-only'] });

    await link('spring-sale', { tags: ['campaign', 'spring'], title: 'Spring sale' });
    await link('spring-teaser', { tags: ['campaign', 'spring'], title: 'Spring teaser', disabled: true });
    await link('winter-sale', { tags: ['campaign', 'Winter'], title: 'Winter sale', disabled: true });
    await link('docs', { tags: ['docs'] });
    await link('pricing');
    owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD);
  });
  after(() => t.close());

  test('the toolbar offers every status and the workspace’s own tags, A to Z', async () => {
    const page = await owner.get('/admin/links');
    assert.equal(page.status, 200);
    assert.deepEqual(optionsOf(page.text, 'status'), { values: ['', 'active', 'disabled', 'expired', 'limit_reached'], selected: '' });
    assert.deepEqual(optionsOf(page.text, 'tag').values, ['', 'campaign', 'docs', 'spring', 'Winter'], 'once each, another workspace’s tags left out');
    assert.match(page.text, /<form id="links-search" class="links-toolbar" method="get" action="\/admin\/links"/, 'a plain GET form without JavaScript');
    for (const name of ['q', 'status', 'tag']) {
      assert.match(page.text, new RegExp(`name="${name}"[^>]*hx-get="/admin/links/table" hx-include="#links-search"`), `${name} sends the whole form`);
    }
    // Load more's URL carries the filters: inheriting the form as well would send each one twice,
    // which the server reads as a list and drops (the rows came back unfiltered).
    assert.match(page.text, /<div id="links-table"[^>]*hx-include="#links-search" hx-disinherit="hx-include"/);
  });

  test('status: only active or only disabled links, as a fragment (URL replaced) and as a page', async () => {
    const cases = [
      { status: 'active', slugs: ['pricing', 'docs', 'spring-sale'] },
      { status: 'disabled', slugs: ['winter-sale', 'spring-teaser'] },
    ];
    for (const c of cases) {
      const fragment = await owner.get(`/admin/links/table?q=&status=${c.status}&tag=`, HX);
      assert.equal(fragment.status, 200);
      assert.deepEqual(slugsIn(fragment.text), c.slugs, c.status);
      assert.equal(fragment.headers.get('hx-replace-url'), `/admin/links?status=${c.status}`, 'blank fields leave no parameter');
      assert.match(fragment.text, /^<div id="links-table"/);
      const page = await owner.get(`/admin/links?status=${c.status}`);
      assert.deepEqual(slugsIn(page.text), c.slugs, `${c.status} without JavaScript`);
      assert.equal(optionsOf(page.text, 'status').selected, c.status, 'the select shows the filter');
    }
    const all = await owner.get('/admin/links?q=&status=&tag=');
    assert.equal(all.status, 200, 'what the plain form sends for All');
    assert.deepEqual(slugsIn(all.text), ['pricing', 'docs', 'winter-sale', 'spring-teaser', 'spring-sale']);
  });

  test('tag: links carrying it exactly; with the search and the status too', async () => {
    const byTag = await owner.get('/admin/links/table?tag=spring', HX);
    assert.deepEqual(slugsIn(byTag.text), ['spring-teaser', 'spring-sale']);
    assert.equal(byTag.headers.get('hx-replace-url'), '/admin/links?tag=spring');
    assert.deepEqual(slugsIn((await owner.get('/admin/links/table?tag=Winter', HX)).text), ['winter-sale']);
    assert.deepEqual(slugsIn((await owner.get('/admin/links/table?tag=spr', HX)).text), [], 'a whole tag, not a prefix');

    const combined = await owner.get('/admin/links/table?q=sale&status=disabled&tag=campaign', HX);
    assert.deepEqual(slugsIn(combined.text), ['winter-sale']);
    assert.equal(combined.headers.get('hx-replace-url'), '/admin/links?q=sale&status=disabled&tag=campaign');
    const page = await owner.get('/admin/links?q=sale&status=active&tag=campaign');
    assert.deepEqual(slugsIn(page.text), ['spring-sale']);
    assert.equal(optionsOf(page.text, 'tag').selected, 'campaign');
    assert.match(page.text, /<input type="search" name="q" value="sale"/);

    const none = await owner.get('/admin/links/table?q=teaser&status=active&tag=spring', HX);
    assert.deepEqual(slugsIn(none.text), []);
    assert.match(none.text, /No active links tagged “spring” match “teaser”\./);
    assert.match(none.text, /<a href="\/admin\/links">Show all links<\/a>/);
    assert.doesNotMatch(none.text, /No links yet/, 'filters that match nothing are not an empty workspace');

    // A tag that no link carries any more still shows as chosen, so the list is not filtered out of sight.
    const gone = await owner.get('/admin/links?tag=retired');
    assert.deepEqual(optionsOf(gone.text, 'tag'), { values: ['', 'retired', 'campaign', 'docs', 'spring', 'Winter'], selected: 'retired' });
    assert.match(gone.text, /No links tagged “retired”\./);
  });

  test('Load more keeps the search and the filters, with and without JavaScript', async () => {
    // 27 bulk links, every other one disabled, and one more: 28 match "bulk" tagged bulk.
    for (let i = 1; i <= LINKS_PAGE_SIZE + 2; i++) await link(`bulk-${String(i).padStart(2, '0')}`, { tags: ['bulk'], disabled: i % 2 === 0 });
    await link('bulk-extra', { tags: ['bulk'] });
    const first = await owner.get('/admin/links?q=bulk&tag=bulk');
    assert.equal(slugsIn(first.text).length, LINKS_PAGE_SIZE);
    assert.equal(slugsIn(first.text)[0], 'bulk-extra');
    const more = loadMore(first.text);
    assert.ok(more, 'a Load more control');
    assert.match(more.href, /^\/admin\/links\?q=bulk&tag=bulk&after=lnk_\w+$/);
    assert.match(more.rows, /^\/admin\/links\/rows\?q=bulk&tag=bulk&after=lnk_\w+$/);
    const rest = await owner.get(more.rows, HX);
    assert.deepEqual(slugsIn(rest.text), ['bulk-03', 'bulk-02', 'bulk-01']);

    // With a status as well: the next page holds only disabled links.
    for (let i = 1; i <= LINKS_PAGE_SIZE; i++) await link(`archived-${String(i).padStart(2, '0')}`, { tags: ['bulk'], disabled: true });
    const disabled = await owner.get('/admin/links/table?status=disabled&tag=bulk', HX);
    const next = loadMore(disabled.text);
    assert.ok(next);
    assert.match(next.rows, /^\/admin\/links\/rows\?status=disabled&tag=bulk&after=lnk_/);
    const nextRows = await owner.get(next.rows, HX);
    assert.equal(nextRows.status, 200);
    assert.doesNotMatch(nextRows.text, /<html/, 'rows alone');
    const plainNext = await owner.get(next.href);
    assert.deepEqual(slugsIn(plainNext.text), slugsIn(nextRows.text), 'the same rows as a page without JavaScript');
    assert.match(plainNext.text, /<a href="\/admin\/links\?status=disabled&amp;tag=bulk">← Back to the newest links<\/a>/);
    const disabledSlugs = [...slugsIn(disabled.text), ...slugsIn(nextRows.text)];
    assert.equal(disabledSlugs.length, LINKS_PAGE_SIZE + 13);
    for (const slug of disabledSlugs) {
      const row = (await t.store.db.row<{ status: string; tags: string }>('select status, tags from links where slug = ?', slug))!;
      assert.equal(row.status, 'disabled', slug);
      assert.ok(JSON.parse(row.tags).includes('bulk'), slug);
    }
  });

  test('a status the API does not know, or an overlong tag, is a 400 page', async () => {
    for (const path of ['/admin/links?status=archived', '/admin/links/table?status=archived', '/admin/links/rows?status=Active', `/admin/links?tag=${'x'.repeat(51)}`]) {
      const res = await owner.get(path);
      assert.equal(res.status, 400, path);
      assert.match(res.text, /class="sidebar"/, `${path}: a page inside the layout`);
    }
    assert.match((await owner.get('/admin/links?status=archived')).text, /The request query has invalid fields: status\./);
  });

  test('a viewer filters too', async () => {
    const viewer = await new AdminClient(t.url).signIn(VIEWER, PASSWORD);
    const res = await viewer.get('/admin/links/table?status=active&tag=docs', HX);
    assert.equal(res.status, 200);
    assert.deepEqual(slugsIn(res.text), ['docs']);
  });
});

/** Each row's slug and the status its badge says, in order. */
const badgesIn = (html: string): [string, string][] =>
  [...html.matchAll(/<tr id="link-[^"]+"[^]*?<a class="short-url mono" href="[^"]*\/([^"/]+)"[^]*?<span class="badge badge-\w+">([^<]+)<\/span>/g)].map((m) => [m[1]!, m[2]!]);

describe('admin Links page: the Expired and Limit reached filters list what the badges say', () => {
  const HOUR = 3_600_000;
  const clock = fakeClock(Date.UTC(2030, 0, 1, 9));
  let t: TestServer;
  let owner: AdminClient;
  let acme: string;

  /** A link, its human and bot clicks set as the click recorder would have counted them. */
  async function link(slug: string, opts: { expiresInMs?: number; maxClicks?: number; human?: number; bots?: number; disabled?: boolean; tags?: string[] } = {}) {
    const expiresAt = opts.expiresInMs === undefined ? undefined : clock.now() + opts.expiresInMs;
    const created = await createLink(t.server.deps, acme, TEST_OPERATOR, { url: `https://example.com/${slug}`, slug, expiresAt, maxClicks: opts.maxClicks, tags: opts.tags });
    if (opts.disabled) await updateLink(t.server.deps, acme, TEST_OPERATOR, created.id, { status: 'disabled' });
    const human = opts.human ?? 0;
    await t.store.db.exec('update links set clicks = ?, total_clicks = ? where id = ?', human, human + (opts.bots ?? 0), created.id);
    clock.advance(1);
  }

  before(async () => {
    t = await startTestServer({ clock });
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    acme = (await requireWorkspace(t.store, 'Acme')).id;
    await link('plain');
    await link('until-tomorrow', { expiresInMs: 24 * HOUR });
    await link('one-left', { maxClicks: 5, human: 4, bots: 30 }); // bots never use up a limit
    await link('used-up', { maxClicks: 3, human: 3 });
    await link('over-limit', { maxClicks: 2, human: 7 });
    await link('gone-by', { expiresInMs: HOUR });
    await link('gone-and-used', { expiresInMs: HOUR, maxClicks: 1, human: 1 }); // the badge says Expired
    await link('off-and-gone', { expiresInMs: HOUR, disabled: true }); // the badge says Disabled
    await link('off-and-used', { maxClicks: 1, human: 1, disabled: true });
    clock.advance(2 * HOUR);
    owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD);
  });
  after(() => t.close());

  test('each status lists exactly the links badged so, as a fragment and as a page', async () => {
    const all = badgesIn((await owner.get('/admin/links')).text);
    assert.deepEqual(all, [
      ['off-and-used', 'Disabled'],
      ['off-and-gone', 'Disabled'],
      ['gone-and-used', 'Expired'],
      ['gone-by', 'Expired'],
      ['over-limit', 'Limit reached'],
      ['used-up', 'Limit reached'],
      ['one-left', 'Active'],
      ['until-tomorrow', 'Active'],
      ['plain', 'Active'],
    ]);
    for (const [status, label] of [['active', 'Active'], ['disabled', 'Disabled'], ['expired', 'Expired'], ['limit_reached', 'Limit reached']] as const) {
      const expected = all.filter(([, badge]) => badge === label);
      const fragment = await owner.get(`/admin/links/table?q=&status=${status}&tag=`, HX);
      assert.equal(fragment.status, 200, status);
      assert.deepEqual(badgesIn(fragment.text), expected, status);
      assert.equal(fragment.headers.get('hx-replace-url'), `/admin/links?status=${status}`);
      const page = await owner.get(`/admin/links?status=${status}`);
      assert.deepEqual(badgesIn(page.text), expected, `${status} without JavaScript`);
      assert.equal(optionsOf(page.text, 'status').selected, status, 'the select shows the filter');
      // Export CSV carries the filters on screen, and exports the same links.
      assert.match(page.text, new RegExp(`id="links-export" href="/admin/links/export\\?status=${status}"`));
      const csv = await owner.get(`/admin/links/export?status=${status}`);
      assert.equal(csv.status, 200, csv.text);
      assert.deepEqual(
        csv.text.split('\r\n').slice(1, -1).map((line) => line.split(',')[1]!.replaceAll('"', '')),
        expected.map(([slug]) => slug),
        `${status} export`,
      );
    }
    const none = await owner.get('/admin/links/table?q=plain&status=limit_reached', HX);
    assert.match(none.text, /No links at their click limit match “plain”\./);
  });

  test('a link moves between the filters as time passes, and Load more keeps the filter', async () => {
    // 27 links at their limit among as many active ones: two pages of limit_reached.
    for (let i = 1; i <= LINKS_PAGE_SIZE + 2; i++) {
      await link(`full-${String(i).padStart(2, '0')}`, { maxClicks: 1, human: 1, tags: ['many'] });
      await link(`room-${String(i).padStart(2, '0')}`, { maxClicks: 2, human: 1, tags: ['many'] });
    }
    const first = await owner.get('/admin/links/table?status=limit_reached&tag=many', HX);
    assert.equal(badgesIn(first.text).length, LINKS_PAGE_SIZE);
    const more = loadMore(first.text);
    assert.ok(more, 'a Load more control');
    assert.match(more.rows, /^\/admin\/links\/rows\?status=limit_reached&tag=many&after=lnk_\w+$/);
    const rest = await owner.get(more.rows, HX);
    const shown = [...badgesIn(first.text), ...badgesIn(rest.text)];
    assert.equal(shown.length, LINKS_PAGE_SIZE + 2);
    assert.ok(shown.every(([slug, badge]) => slug.startsWith('full-') && badge === 'Limit reached'), JSON.stringify(shown));
    assert.equal(loadMore(rest.text), undefined, 'no third page');

    // A day later the link that was active until tomorrow has expired.
    assert.deepEqual(badgesIn((await owner.get('/admin/links/table?q=until&status=active', HX)).text), [['until-tomorrow', 'Active']]);
    clock.advance(24 * HOUR);
    owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD); // the session ended meanwhile
    assert.deepEqual(
      badgesIn((await owner.get('/admin/links/table?status=expired', HX)).text).map(([slug]) => slug),
      ['gone-and-used', 'gone-by', 'until-tomorrow'],
    );
    assert.deepEqual(badgesIn((await owner.get('/admin/links/table?q=until&status=active', HX)).text), []);
  });

  test('the API’s status filter stays the stored field (SPEC §2: active or disabled)', async () => {
    const key = await t.key({ workspace: 'Acme', scopes: ['links:read'] });
    const res = await t.request('GET', '/api/v1/links?status=expired', { key });
    assert.equal(res.status, 400);
    const active = await t.request('GET', '/api/v1/links?status=active&limit=100&q=gone', { key });
    assert.deepEqual((active.json as { data: { slug: string }[] }).data.map((l) => l.slug), ['gone-and-used', 'gone-by']);
  });
});
