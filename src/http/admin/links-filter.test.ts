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
    assert.deepEqual(optionsOf(page.text, 'status'), { values: ['', 'active', 'disabled'], selected: '' });
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
