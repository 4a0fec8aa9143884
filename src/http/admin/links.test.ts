import assert from 'node:assert/strict';
import { AdminClient } from '../../testing/admin-client.js';
import { after, before, describe, test } from 'node:test';
import { createLink } from '../../links/links.service.js';
import { upsertPlan, setWorkspacePlan } from '../../workspaces/plans.js';
import { createWorkspace } from '../../workspaces/workspaces.service.js';
import { createUser } from '../../users/users.service.js';
import { fakeClock, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';
import { LINKS_PAGE_SIZE } from './links.routes.js';

const PASSWORD = 'correct horse battery';
const OWNER = 'owner@example.com';
const MEMBER = 'member@example.com';
const VIEWER = 'viewer@example.com';
const HX = { 'hx-request': 'true' };

/** The shared admin client, signed in with the test password. */
class Browser extends AdminClient {
  signedIn = (email: string) => this.signIn(email, PASSWORD);
}

/** The slugs of the table rows, in order. */
const slugsIn = (html: string) => [...html.matchAll(/<a class="short-url mono" href="[^"]*\/([^"/]+)"/g)].map((m) => m[1]);
/** The message shown beside a field of a form ("new" = create, "edit" = the edit dialog). */
const fieldError = (html: string, prefix: string, field: string) =>
  new RegExp(`<p class="error" id="${prefix}-${field}-error">([^<]*)</p>`).exec(html)?.[1]?.replaceAll('&quot;', '"');
const valueOf = (html: string, id: string) => new RegExp(`id="${id}" name="[^"]+" type="[^"]+" value="([^"]*)"`).exec(html)?.[1];
const linkRow = (t: TestServer, slug: string) => t.store.db.row<Record<string, unknown>>('select * from links where slug = ?', slug);
const auditOf = (t: TestServer, action: string) =>
  t.store.db.rows<{
    actor_type: string;
    actor_id: string;
    summary: string;
  }>('select actor_type, actor_id, summary, ip from audit_log where action = ? order by id desc', action);
const wsId = async (t: TestServer, name: string) => (await t.store.db.row<{ id: string }>('select id from workspaces where name = ?', name))!.id;

describe('admin Links page', () => {
  const clock = fakeClock(Date.UTC(2030, 0, 1, 9));
  let t: TestServer;
  let owner: Browser;
  let globexLink: string;
  const link = async (slug: string, extra: Record<string, unknown> = {}) =>
    createLink(t.server.deps, await wsId(t, 'Acme'), TEST_OPERATOR, { url: `https://example.com/${slug}`, slug, ...extra });

  before(async () => {
    t = await startTestServer({ clock });
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    await createUser(t.store, TEST_OPERATOR, { email: MEMBER, password: PASSWORD, workspace: 'Acme', role: 'member' });
    await createUser(t.store, TEST_OPERATOR, { email: VIEWER, password: PASSWORD, workspace: 'Acme', role: 'viewer' });
    await createWorkspace(t.store, TEST_OPERATOR, 'Globex');
    globexLink = (await createLink(t.server.deps, await wsId(t, 'Globex'), TEST_OPERATOR, { url: 'https://globex.example/', slug: 'globex-home' })).id;
    owner = await new Browser(t.url).signedIn(OWNER);
  });
  after(() => t.close());

  test('an empty workspace says how to make the first link', async () => {
    const page = await owner.get('/admin/links');
    assert.equal(page.status, 200);
    assert.match(page.text, /No links yet/);
    assert.match(page.text, /id="link-create"/);
    assert.deepEqual(slugsIn(page.text), []);
  });

  test('the table lists newest first, search narrows it (page and fragment), Load more brings the next rows', async () => {
    for (let i = 1; i <= LINKS_PAGE_SIZE + 3; i++) await link(`promo-${String(i).padStart(2, '0')}`, i === 1 ? { title: 'Spring sale', tags: ['campaign'] } : {});
    await link('docs', { title: 'Getting started' });

    const page = await owner.get('/admin/links');
    const first = slugsIn(page.text);
    assert.equal(first.length, LINKS_PAGE_SIZE);
    assert.equal(first[0], 'docs');
    const more = /href="(\/admin\/links\?after=[^"]+)" hx-get="([^"]+)"/.exec(page.text);
    assert.ok(more, 'a Load more control, a plain link without JavaScript');
    const rest = await owner.get(more[2]!.replaceAll('&amp;', '&'), HX);
    assert.equal(rest.status, 200);
    assert.deepEqual(slugsIn(rest.text), ['promo-04', 'promo-03', 'promo-02', 'promo-01']);
    assert.doesNotMatch(rest.text, /Load more/, 'the last page');
    assert.doesNotMatch(rest.text, /<html/, 'a fragment');
    const plainNext = await owner.get(more[1]!.replaceAll('&amp;', '&'));
    assert.deepEqual(slugsIn(plainNext.text), ['promo-04', 'promo-03', 'promo-02', 'promo-01']);
    assert.match(plainNext.text, /Back to the newest links/);

    const cases = [
      { q: 'spring', slugs: ['promo-01'], why: 'title' },
      { q: 'promo-1', slugs: ['promo-19', 'promo-18', 'promo-17', 'promo-16', 'promo-15', 'promo-14', 'promo-13', 'promo-12', 'promo-11', 'promo-10'], why: 'slug' },
      { q: 'example.com/docs', slugs: ['docs'], why: 'destination' },
      { q: '100%_', slugs: [], why: 'LIKE wildcards are literal' },
    ];
    for (const c of cases) {
      const fragment = await owner.get(`/admin/links/table?q=${encodeURIComponent(c.q)}`, HX);
      assert.equal(fragment.status, 200, c.why);
      assert.deepEqual(slugsIn(fragment.text), c.slugs, c.why);
      assert.equal(fragment.headers.get('hx-replace-url'), `/admin/links?q=${encodeURIComponent(c.q).replaceAll('%20', '+')}`, c.why);
      assert.match(fragment.text, /^<div id="links-table"/, `${c.why}: the table region, swapped in place`);
      const full = await owner.get(`/admin/links?q=${encodeURIComponent(c.q)}`);
      assert.deepEqual(slugsIn(full.text), c.slugs, `${c.why}: the same without JavaScript`);
    }
    const none = await owner.get('/admin/links/table?q=nothing-like-this', HX);
    assert.match(none.text, /No links match “nothing-like-this”/);
    const tooLong = await owner.get(`/admin/links?q=${'x'.repeat(201)}`);
    assert.equal(tooLong.status, 400);
  });

  test('creating a link with htmx: 201, the form comes back empty with the short URL, links-changed tells the table', async () => {
    const res = await owner.post(
      '/admin/links',
      { url: 'https://example.com/launch?utm=1', slug: 'launch', title: 'Launch day', tags: 'campaign, spring ,campaign', expiresAt: '2030-06-01T12:30', expiredUrl: 'https://example.com/over', maxClicks: '500', redirectCode: '307' },
      HX,
    );
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(JSON.parse(res.headers.get('hx-trigger')!), { 'links-changed': { id: (await linkRow(t, 'launch'))!.id } });
    assert.match(res.text, /^<form id="link-create"/);
    assert.match(res.text, /Created <a href="http:\/\/127\.0\.0\.1:\d+\/launch"/);
    assert.equal(valueOf(res.text, 'new-url'), '', 'the form is emptied for the next link');
    const row = (await linkRow(t, 'launch'))!;
    assert.equal(row.url, 'https://example.com/launch?utm=1');
    assert.equal(row.title, 'Launch day');
    assert.equal(row.tags, '["campaign","spring"]');
    assert.equal(row.expires_at, Date.UTC(2030, 5, 1, 12, 30), 'the form says UTC');
    assert.equal(row.expired_url, 'https://example.com/over');
    assert.equal(row.max_clicks, 500);
    assert.equal(row.redirect_code, 307);
    const [entry] = await auditOf(t, 'link.create');
    assert.equal(entry?.actor_type, 'user', 'audited as the signed-in user');

    const table = await owner.get('/admin/links/table', HX);
    assert.equal(slugsIn(table.text)[0], 'launch');
    assert.match(table.text, /Until Jun 1, 2030/);
    assert.match(table.text, /<span class="tag">spring<\/span>/);

    // Without JavaScript: a redirect to the page, which shows a flash.
    const plain = await owner.post('/admin/links', { url: 'https://example.com/plain', slug: 'plain', redirectCode: '302' });
    assert.equal(plain.status, 303);
    assert.equal(plain.headers.get('location'), '/admin/links');
    assert.match((await owner.get('/admin/links')).text, /Created http:\/\/127\.0\.0\.1:\d+\/plain/);
  });

  test('the create form comes back with the API schema messages beside each field, values kept', async () => {
    await link('taken');
    const valid = { url: 'https://example.com/ok', slug: '', title: '', tags: '', expiresAt: '', expiredUrl: '', maxClicks: '', redirectCode: '302' };
    const cases: { name: string; form: Partial<typeof valid>; field: string; message: RegExp }[] = [
      { name: 'no url', form: { url: '' }, field: 'url', message: /^Must be an absolute http:\/\/ or https:\/\/ URL$/ },
      { name: 'ftp url', form: { url: 'ftp://example.com/file' }, field: 'url', message: /absolute http/ },
      { name: 'bad slug', form: { slug: 'has space' }, field: 'slug', message: /^Must be 1–64 characters/ },
      { name: 'reserved slug', form: { slug: 'Admin' }, field: 'slug', message: /reserved by LinkQR/ },
      { name: 'slug in use', form: { slug: 'taken' }, field: 'slug', message: /^Is already in use$/ },
      { name: 'long title', form: { title: 't'.repeat(201) }, field: 'title', message: /at most 200 characters/ },
      { name: 'long tag', form: { tags: `ok, ${'x'.repeat(51)}` }, field: 'tags', message: /^Each tag must be at most 50 characters$/ },
      { name: 'past expiry', form: { expiresAt: '2029-12-31T23:59' }, field: 'expiresAt', message: /^Must be in the future$/ },
      { name: 'not a date', form: { expiresAt: 'tomorrow' }, field: 'expiresAt', message: /ISO 8601/ },
      { name: 'bad expired url', form: { expiredUrl: 'javascript:alert(1)' }, field: 'expiredUrl', message: /absolute http/ },
      { name: 'zero clicks', form: { maxClicks: '0' }, field: 'maxClicks', message: /at least 1/ },
      { name: 'words for clicks', form: { maxClicks: 'many' }, field: 'maxClicks', message: /.+/ },
      { name: 'redirect 303', form: { redirectCode: '303' }, field: 'redirectCode', message: /301, 302, 307 or 308/ },
    ];
    const linkCount = async () => (await t.store.db.row<{ n: number }>('select count(*) as n from links'))!.n;
    const before = await linkCount();
    for (const c of cases) {
      const form = { ...valid, ...c.form };
      const res = await owner.post('/admin/links', form, HX);
      assert.equal(res.status, 422, c.name);
      assert.match(res.text, /^<form id="link-create"/, `${c.name}: the same fragment`);
      assert.match(fieldError(res.text, 'new', c.field) ?? '', c.message, c.name);
      assert.match(res.text, new RegExp(`id="new-${c.field}"[^>]*aria-invalid="true"`), `${c.name}: the field is marked`);
      if (c.field !== 'redirectCode') assert.equal(valueOf(res.text, `new-${c.field}`), (form[c.field as keyof typeof form] ?? '').replaceAll('"', '&quot;'), `${c.name}: value kept`);
      assert.equal(res.headers.get('hx-trigger'), null, `${c.name}: nothing changed`);
      // Without JavaScript: the whole page, the form in it with the same message.
      const plain = await owner.post('/admin/links', form);
      assert.equal(plain.status, 422, c.name);
      assert.match(plain.text, /class="sidebar"/);
      assert.match(fieldError(plain.text, 'new', c.field) ?? '', c.message, `${c.name} (no JavaScript)`);
    }
    assert.equal(await linkCount(), before, 'nothing created');

    // A plan limit is not any field's fault: it is said above the form.
    const original = (await t.store.db.row<{ name: string }>("select p.name from plans p join workspaces w on w.plan_id = p.id where w.name = 'Acme'"))!.name;
    await upsertPlan(t.store.db, TEST_OPERATOR, 'Tiny', { features: {}, limits: { links: 1 } }, clock.now());
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, await wsId(t, 'Acme'), 'Tiny', clock.now());
    try {
      const res = await owner.post('/admin/links', valid, HX);
      assert.equal(res.status, 422);
      assert.match(res.text, /<p class="alert" role="alert">The &quot;Tiny&quot; plan allows 1 links/);
    } finally {
      await setWorkspacePlan(t.store.db, TEST_OPERATOR, await wsId(t, 'Acme'), original, clock.now());
    }
  });

  test('editing: the dialog form, errors beside fields, the row redrawn in place, an untouched form changes nothing', async () => {
    const l = await link('edit-me', { title: 'Old title', tags: ['a'] });
    const form = await owner.get(`/admin/links/${l.id}/edit`, HX);
    assert.equal(form.status, 200);
    assert.match(form.text, /^<form id="link-edit"/);
    assert.equal(valueOf(form.text, 'edit-title'), 'Old title');
    assert.equal(valueOf(form.text, 'edit-tags'), 'a');
    const page = await owner.get(`/admin/links/${l.id}/edit`);
    assert.match(page.text, /class="sidebar"/, 'a page of its own without JavaScript');

    assert.match(form.text, /<input type="checkbox" id="edit-forwardQuery" name="forwardQuery" value="on" checked/, 'forwarding is on by default');
    // What the dialog posts untouched: its checked checkbox too.
    const values = { url: l.url, slug: 'edit-me', title: 'Old title', tags: 'a', expiresAt: '', expiredUrl: '', maxClicks: '', redirectCode: '302', forwardQuery: 'on' };
    const audits = (await auditOf(t, 'link.update')).length;
    const same = await owner.post(`/admin/links/${l.id}`, values, HX);
    assert.equal(same.status, 200);
    assert.equal((await auditOf(t, 'link.update')).length, audits, 'saving an untouched form writes nothing');

    // Unchecked, the checkbox is not posted at all: forwarding goes off, and on again.
    const { forwardQuery: _, ...unchecked } = values;
    assert.equal((await owner.post(`/admin/links/${l.id}`, unchecked, HX)).status, 200);
    assert.equal((await linkRow(t, 'edit-me'))!.forward_query, 0);
    const off = await owner.get(`/admin/links/${l.id}/edit`, HX);
    assert.match(off.text, /<input type="checkbox" id="edit-forwardQuery" name="forwardQuery" value="on" aria-describedby/);
    assert.equal((await owner.post(`/admin/links/${l.id}`, values, HX)).status, 200);
    assert.equal((await linkRow(t, 'edit-me'))!.forward_query, 1);

    const bad = await owner.post(`/admin/links/${l.id}`, { ...values, url: 'nope', slug: 'api' }, HX);
    assert.equal(bad.status, 422);
    assert.match(bad.text, /^<form id="link-edit"/);
    assert.match(fieldError(bad.text, 'edit', 'url') ?? '', /absolute http/);
    assert.match(fieldError(bad.text, 'edit', 'slug') ?? '', /reserved/);

    const ok = await owner.post(`/admin/links/${l.id}`, { ...values, url: 'https://example.com/new', title: '', tags: 'b, c', maxClicks: '10' }, HX);
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(JSON.parse(ok.headers.get('hx-trigger')!), { 'close-dialog': null });
    assert.match(ok.text, new RegExp(`^<template><tr hx-swap-oob="true" id="link-${l.id}"`));
    assert.match(ok.text, /example\.com<\/span><span class="dest-rest">\/new/);
    const row = (await linkRow(t, 'edit-me'))!;
    assert.equal(row.title, null, 'a blank title clears it');
    assert.equal(row.tags, '["b","c"]');
    assert.equal(row.max_clicks, 10);
    assert.deepEqual(JSON.parse((await auditOf(t, 'link.update'))[0]!.summary).url, { from: l.url, to: 'https://example.com/new' });
  });

  test('disable and enable swap the row; delete removes it; both audited', async () => {
    const l = await link('toggle-me');
    const off = await owner.post(`/admin/links/${l.id}/status`, { status: 'disabled' }, HX);
    assert.equal(off.status, 200);
    assert.match(off.text, new RegExp(`^<tr id="link-${l.id}" class="link-row status-disabled">`));
    assert.match(off.text, /badge-disabled">Disabled/);
    assert.match(off.text, /name="status" value="active"/, 'now offers Enable');
    assert.equal((await linkRow(t, 'toggle-me'))!.status, 'disabled');
    assert.equal((await t.request('GET', '/toggle-me')).status, 410, 'a disabled link does not redirect');
    const on = await owner.post(`/admin/links/${l.id}/status`, { status: 'active' }, HX);
    assert.match(on.text, /badge-active">Active/);
    assert.equal((await owner.post(`/admin/links/${l.id}/status`, { status: 'gone' }, HX)).status, 400);

    const del = await owner.post(`/admin/links/${l.id}/delete`, {}, HX);
    assert.equal(del.status, 200);
    assert.equal(del.text, '', 'the row is swapped for nothing');
    assert.equal(await linkRow(t, 'toggle-me'), undefined);
    assert.equal((await auditOf(t, 'link.delete'))[0]?.actor_type, 'user');
    const plain = await owner.post(`/admin/links/${(await link('plain-del')).id}/delete`, {});
    assert.equal(plain.status, 303);
  });

  test('every POST needs the CSRF token', async () => {
    const l = await link('csrf-target');
    const routes: [string, Record<string, string>][] = [
      ['/admin/links', { url: 'https://example.com/csrf' }],
      [`/admin/links/${l.id}`, { url: 'https://example.com/csrf', slug: 'csrf-target', redirectCode: '302' }],
      [`/admin/links/${l.id}/status`, { status: 'disabled' }],
      [`/admin/links/${l.id}/delete`, {}],
    ];
    for (const [path, form] of routes) {
      for (const token of [undefined, 'not-the-token']) {
        const res = await owner.request('POST', path, { form: token === undefined ? form : { ...form, _csrf: token } });
        assert.equal(res.status, 403, `${path} ${token}`);
        assert.match(res.text, /This form has expired/);
      }
    }
    assert.equal((await linkRow(t, 'csrf-target'))!.status, 'active');
  });

  test('a viewer sees the table but no controls, and every change is refused with 403', async () => {
    const viewer = await new Browser(t.url).signedIn(VIEWER);
    const l = await link('viewer-sees');
    const page = await viewer.get('/admin/links');
    assert.equal(page.status, 200);
    assert.ok(slugsIn(page.text).includes('viewer-sees'));
    for (const control of ['id="link-create"', '/edit"', '/status"', '/delete"', '<dialog', 'Actions']) {
      assert.ok(!page.text.includes(control), `no ${control}`);
    }
    const attempts: [string, string, Record<string, string>][] = [
      ['POST', '/admin/links', { url: 'https://example.com/viewer' }],
      ['POST', `/admin/links/${l.id}`, { url: 'https://example.com/viewer', slug: 'viewer-sees', redirectCode: '302' }],
      ['POST', `/admin/links/${l.id}/status`, { status: 'disabled' }],
      ['POST', `/admin/links/${l.id}/delete`, {}],
      ['GET', `/admin/links/${l.id}/edit`, {}],
      // Refused before anything says whether the id exists.
      ['POST', `/admin/links/${globexLink}/delete`, {}],
    ];
    for (const [method, path, form] of attempts) {
      const res = method === 'GET' ? await viewer.get(path) : await viewer.post(path, form, HX);
      assert.equal(res.status, 403, `${method} ${path}`);
    }
    assert.equal((await linkRow(t, 'viewer-sees'))!.status, 'active');

    // A member may write.
    const member = await new Browser(t.url).signedIn(MEMBER);
    assert.match((await member.get('/admin/links')).text, /id="link-create"/);
    assert.equal((await member.post(`/admin/links/${l.id}/status`, { status: 'disabled' }, HX)).status, 200);
  });

  test("another workspace's link (and a malformed id) is 404 everywhere", async () => {
    const ids = [globexLink, 'lnk_00000000000000000000', 'not-an-id'];
    for (const id of ids) {
      const attempts: [string, string, Record<string, string>][] = [
        ['GET', `/admin/links/${id}/edit`, {}],
        ['POST', `/admin/links/${id}`, { url: 'https://evil.example/', slug: 'globex-home', redirectCode: '302' }],
        ['POST', `/admin/links/${id}/status`, { status: 'disabled' }],
        ['POST', `/admin/links/${id}/delete`, {}],
      ];
      for (const [method, path, form] of attempts) {
        const res = method === 'GET' ? await owner.get(path) : await owner.post(path, form);
        assert.equal(res.status, 404, `${method} ${path}`);
        assert.doesNotMatch(res.text, /globex/i);
      }
    }
    const globex = await t.store.db.row('select url, status from links where id = ?', globexLink);
    assert.deepEqual({ ...(globex as object) }, { url: 'https://globex.example/', status: 'active' });
  });
});
