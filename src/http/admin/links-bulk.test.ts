import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLink, updateLink } from '../../links/links.service.js';
import { LINK_CSV_COLUMNS, parseLinkCsv } from '../../imports/link-csv.js';
import { createWorkspace } from '../../workspaces/workspaces.service.js';
import { createUser } from '../../users/users.service.js';
import { AdminClient, textOf } from '../../testing/admin-client.js';
import { fakeClock, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';
import { MAX_BULK_LINKS } from './links-bulk.routes.js';

const PASSWORD = 'correct horse battery';
const OWNER = 'owner@example.com';
const MEMBER = 'member@example.com';
const VIEWER = 'viewer@example.com';

/** The admin client, with a bulk post that sends `ids` repeated, as ticked checkboxes do. */
class Browser extends AdminClient {
  signedIn = (email: string) => this.signIn(email, PASSWORD);

  bulk(form: Record<string, string>, ids: string[], opts: { htmx?: boolean; query?: string; csrf?: string | null } = {}) {
    const body = new URLSearchParams(form);
    for (const id of ids) body.append('ids', id);
    const csrf = opts.csrf === undefined ? (this.csrf ?? '') : opts.csrf;
    if (!opts.htmx && csrf !== null) body.set('_csrf', csrf);
    const headers: Record<string, string> = opts.htmx ? { 'hx-request': 'true', 'x-csrf-token': csrf ?? '' } : {};
    // request() builds its body with new URLSearchParams(form), which copies repeated pairs from another URLSearchParams.
    return this.request('POST', `/admin/links/bulk${opts.query ?? ''}`, { form: body as unknown as Record<string, string>, headers });
  }

  /** The message of the flash on the next page (taken once). */
  async flash(path = '/admin/links') {
    const page = await this.get(path);
    const m = /<div class="flash flash-(ok|error)"[^>]*>[\s\S]*?<p>([^<]*)<\/p>/.exec(page.text);
    return m ? { kind: m[1], text: decode(m[2]!) } : undefined;
  }
}

const decode = (html: string) => html.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&amp;', '&');
/** The notice an htmx answer carries (partials/admin/flash). */
const noticeOf = (html: string) => {
  const m = /<div class="flash flash-(ok|error)" role="(status|alert)"[^>]*>[\s\S]*?<p>([^<]*)<\/p>/.exec(html);
  return m ? { kind: m[1], role: m[2], text: decode(m[3]!) } : undefined;
};
const wsId = async (t: TestServer, name: string) => (await t.store.db.row<{ id: string }>('select id from workspaces where name = ?', name))!.id;
const rowOf = (t: TestServer, id: string) => t.store.db.row<{ status: string; tags: string }>('select status, tags from links where id = ?', id);
const auditFor = (t: TestServer, action: string, targetId: string) =>
  t.store.db.rows<{ actor_type: string; actor_id: string; summary: string }>(
    'select actor_type, actor_id, summary from audit_log where action = ? and target_id = ? order by id',
    action,
    targetId,
  );
/** The webhook events queued about one link (the outbox), by type. */
const eventsAbout = async (t: TestServer, linkId: string) =>
  (await t.store.db.rows<{ type: string; payload: string }>('select type, payload from events order by id'))
    .filter((e) => (JSON.parse(e.payload) as { data?: { id?: string } }).data?.id === linkId)
    .map((e) => e.type);

describe('admin Links page: bulk actions', () => {
  const clock = fakeClock(Date.UTC(2030, 0, 1, 9));
  let t: TestServer;
  let owner: Browser;
  let apiKey: string;
  let globexLink: string;
  let ownerId: string;
  let seq = 0;
  const link = async (extra: Record<string, unknown> = {}) => {
    const slug = `bulk-${++seq}`;
    return createLink(t.server.deps, await wsId(t, 'Acme'), TEST_OPERATOR, { url: `https://example.com/${slug}`, slug, ...extra });
  };
  const links = async (n: number, extra: Record<string, unknown> = {}) => Promise.all(Array.from({ length: n }, () => link(extra)));
  /** What the API says of a link (status and tags), with a links:read key. */
  const viaApi = async (id: string) => {
    const res = await t.request('GET', `/api/v1/links/${id}`, { key: apiKey });
    return res.status === 200 ? { status: res.json.status as string, tags: res.json.tags as string[] } : res.status;
  };

  before(async () => {
    t = await startTestServer({ clock });
    ownerId = (await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' })).user.id;
    await createUser(t.store, TEST_OPERATOR, { email: MEMBER, password: PASSWORD, workspace: 'Acme', role: 'member' });
    await createUser(t.store, TEST_OPERATOR, { email: VIEWER, password: PASSWORD, workspace: 'Acme', role: 'viewer' });
    await createWorkspace(t.store, TEST_OPERATOR, 'Globex');
    globexLink = (await createLink(t.server.deps, await wsId(t, 'Globex'), TEST_OPERATOR, { url: 'https://globex.example/', slug: 'globex-home', tags: ['keep'] })).id;
    apiKey = await t.key({ workspace: 'Acme', scopes: ['links:read'] });
    owner = await new Browser(t.url).signedIn(OWNER);
  });
  after(() => t.close());

  test('the page: a labelled checkbox per row in one form, select all, the actions; the form posts to the same list', async () => {
    const [a] = await links(2, { tags: ['spring'] });
    const page = await owner.get('/admin/links?q=bulk&status=active');
    assert.equal(page.status, 200);
    assert.match(
      page.text,
      new RegExp(`<label class="select-hit"><input type="checkbox" name="ids" value="${a!.id}" form="links-bulk"><span class="visually-hidden">Select 127\\.0\\.0\\.1:\\d+/${a!.slug}</span></label>`),
    );
    assert.match(page.text, /<input type="checkbox" data-bulk-all><span class="visually-hidden">Select all links on this page<\/span>/);
    assert.match(page.text, /<form id="links-bulk" class="bulk-bar" method="post" action="\/admin\/links\/bulk\?q=bulk&amp;status=active"/);
    for (const action of ['add-tag', 'remove-tag', 'disable', 'enable', 'export', 'delete']) {
      assert.match(page.text, new RegExp(`<option value="${action}">`), `the select offers ${action}`);
      assert.match(page.text, new RegExp(`<button type="submit" name="action" value="${action}"`), `a button for ${action}`);
    }
    assert.match(page.text, /<input type="checkbox" name="confirm" value="yes"> Confirm delete/);
    assert.match(page.text, /<option value="spring"><\/option>/, 'the tags of the page are suggested');
    // The form comes after the table, which it cannot wrap: the rows hold forms of their own.
    assert.ok(page.text.indexOf('<form id="links-bulk"') > page.text.indexOf('</table>'));
    // The fragments the search and Load more swap in have the same controls.
    const fragment = await owner.get('/admin/links/table', { 'hx-request': 'true' });
    assert.match(fragment.text, /id="links-bulk-notice" class="bulk-notice" hx-preserve/);
    assert.match(fragment.text, /name="ids" value="lnk_/);
  });

  test('disable and enable (htmx): each link through the service, audited and with its webhook event; links-changed and a notice', async () => {
    const [a, b, c] = await links(3);
    await updateLink(t.server.deps, await wsId(t, 'Acme'), TEST_OPERATOR, c!.id, { status: 'disabled' });
    const res = await owner.bulk({ action: 'disable' }, [a!.id, b!.id, c!.id], { htmx: true });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(JSON.parse(res.headers.get('hx-trigger')!), { 'links-changed': { ids: [a!.id, b!.id] } });
    assert.deepEqual(noticeOf(res.text), { kind: 'ok', role: 'status', text: 'Disabled 2 links (1 link was already disabled).' });
    assert.doesNotMatch(res.text, /<html/, 'a fragment');
    for (const l of [a!, b!, c!]) assert.deepEqual(await viaApi(l.id), { status: 'disabled', tags: [] });
    for (const l of [a!, b!]) {
      const [entry, ...more] = await auditFor(t, 'link.update', l.id);
      assert.equal(more.length, 0);
      assert.deepEqual({ type: entry?.actor_type, id: entry?.actor_id }, { type: 'user', id: ownerId });
      assert.deepEqual(JSON.parse(entry!.summary).status, { from: 'active', to: 'disabled' });
      assert.deepEqual(await eventsAbout(t, l.id), ['link.created', 'link.updated']);
    }
    assert.equal((await auditFor(t, 'link.update', c!.id)).filter((e) => e.actor_type === 'user').length, 0, 'a link already disabled is not written');
    assert.equal((await t.request('GET', `/${a!.slug}`)).status, 410, 'a disabled link stops redirecting');

    const on = await owner.bulk({ action: 'enable' }, [a!.id, b!.id, c!.id], { htmx: true });
    assert.equal(on.status, 200);
    assert.equal(noticeOf(on.text)?.text, 'Enabled 3 links.');
    for (const l of [a!, b!, c!]) assert.equal((await viaApi(l.id) as { status: string }).status, 'active');
    assert.deepEqual(await eventsAbout(t, a!.id), ['link.created', 'link.updated', 'link.updated']);

    const nothing = await owner.bulk({ action: 'enable' }, [a!.id], { htmx: true });
    assert.equal(nothing.status, 200);
    assert.equal(nothing.headers.get('hx-trigger'), null, 'nothing changed, nothing to redraw');
    assert.equal(noticeOf(nothing.text)?.text, 'Nothing to change: 1 link was already enabled.');
  });

  test('add and remove a tag without JavaScript: 303 back to the same list with a flash; the tag as the schema reads it', async () => {
    const [a, b] = await links(2, { tags: ['q2'] });
    const had = await link({ tags: ['q2', 'launch'] });
    const query = '?q=bulk&tag=q2&after=lnk_zzzzzzzzzzzzzzzzzzzz';
    const res = await owner.bulk({ action: 'add-tag', tag: '  launch ' }, [a!.id, b!.id, had.id], { query });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), `/admin/links${query}`);
    assert.deepEqual(await owner.flash(), { kind: 'ok', text: 'Added the tag “launch” to 2 links (1 link already had it).' });
    assert.deepEqual(await viaApi(a!.id), { status: 'active', tags: ['q2', 'launch'] });
    assert.deepEqual(await viaApi(had.id), { status: 'active', tags: ['q2', 'launch'] });
    assert.deepEqual(JSON.parse((await auditFor(t, 'link.update', a!.id))[0]!.summary).tags, { from: ['q2'], to: ['q2', 'launch'] });
    assert.deepEqual(await eventsAbout(t, b!.id), ['link.created', 'link.updated']);

    const removed = await owner.bulk({ action: 'remove-tag', tag: 'q2' }, [a!.id, b!.id], { htmx: true });
    assert.equal(removed.status, 200);
    assert.equal(noticeOf(removed.text)?.text, 'Removed the tag “q2” from 2 links.');
    assert.deepEqual(await viaApi(b!.id), { status: 'active', tags: ['launch'] });
    const again = await owner.bulk({ action: 'remove-tag', tag: 'q2' }, [a!.id], { htmx: true });
    assert.equal(noticeOf(again.text)?.text, 'Nothing to change: 1 link did not have the tag “q2”.');
    // Only the list's own parameters go back.
    const odd = await owner.bulk({ action: 'add-tag', tag: 'x' }, [a!.id], { query: '?q=a&next=https://evil.example/&status=' });
    assert.equal(odd.headers.get('location'), '/admin/links?q=a');
  });

  test('tags added at the same time, in bulk and by the API, all stay: each change starts from the tags the link has when written', async () => {
    const [a, b] = await links(2, { tags: ['base'] });
    const writer = await t.key({ workspace: 'Acme', scopes: ['links:read', 'links:write'] });
    const tags = Array.from({ length: 8 }, (_, i) => `wave-${i}`);
    // A bulk "add tag" that read the link, then wrote the list it read plus its tag, dropped the tags added meanwhile.
    const results = await Promise.all([
      ...tags.map((tag) => owner.bulk({ action: 'add-tag', tag }, [a!.id, b!.id], { htmx: true })),
      owner.bulk({ action: 'remove-tag', tag: 'base' }, [b!.id], { htmx: true }),
    ]);
    for (const res of results) assert.equal(res.status, 200, res.text);
    assert.deepEqual(new Set(((await viaApi(a!.id)) as { tags: string[] }).tags), new Set(['base', ...tags]));
    assert.deepEqual(new Set(((await viaApi(b!.id)) as { tags: string[] }).tags), new Set(tags));
    // The edit form and the API replace the whole list (PATCH); a bulk change after one builds on it.
    assert.equal((await t.request('PATCH', `/api/v1/links/${a!.id}`, { key: writer, body: { tags: ['only'] } })).status, 200);
    await owner.bulk({ action: 'add-tag', tag: 'after' }, [a!.id], { htmx: true });
    assert.deepEqual(((await viaApi(a!.id)) as { tags: string[] }).tags, ['only', 'after']);
  });

  test('a link that cannot take the change is named with the reason; the others change', async () => {
    const full = await link({ tags: Array.from({ length: 20 }, (_, i) => `t${i}`) });
    const [ok] = await links(1);
    const res = await owner.bulk({ action: 'add-tag', tag: 'one-more' }, [full.id, ok!.id, globexLink, 'lnk_00000000000000000000'], { htmx: true });
    assert.equal(res.status, 200, res.text);
    const notice = noticeOf(res.text)!;
    assert.equal(notice.kind, 'error');
    assert.equal(notice.role, 'alert');
    assert.match(notice.text, /^Added the tag “one-more” to 1 link\. 3 links could not be changed: /);
    assert.match(notice.text, new RegExp(`127\\.0\\.0\\.1:\\d+/${full.slug} \\(at most 20 tags\\)`));
    assert.match(notice.text, new RegExp(`${globexLink} \\(not found: deleted, or not in this workspace\\)`));
    assert.match(notice.text, /lnk_00000000000000000000 \(not found/);
    assert.doesNotMatch(notice.text, /globex-home/, "nothing of the other workspace's link is told");
    assert.deepEqual(JSON.parse(res.headers.get('hx-trigger')!), { 'links-changed': { ids: [ok!.id] } });
    assert.deepEqual(((await viaApi(ok!.id)) as { tags: string[] }).tags, ['one-more']);
    assert.equal(((await viaApi(full.id)) as { tags: string[] }).tags.length, 20);
    assert.deepEqual(await eventsAbout(t, full.id), ['link.created']);

    // Every one refused for its own reason: 422, still the notice.
    const none = await owner.bulk({ action: 'add-tag', tag: 'one-more' }, [full.id], { htmx: true });
    assert.equal(none.status, 422);
    assert.match(noticeOf(none.text)!.text, /^1 link could not be changed: .*\(at most 20 tags\)\.$/);
  });

  test("another workspace's ids are not found: 404 and unchanged, with htmx and without", async () => {
    const before = await t.store.db.row<Record<string, unknown>>('select * from links where id = ?', globexLink);
    for (const action of ['disable', 'delete', 'add-tag', 'export']) {
      const form = { action, tag: 'x', confirm: 'yes' };
      const plain = await owner.bulk(form, [globexLink]);
      assert.equal(plain.status, 404, `${action} plain`);
      assert.match(plain.text, /It may have been deleted, or it belongs to another workspace/);
      if (action === 'export') continue;
      const hx = await owner.bulk(form, [globexLink, 'not-an-id'], { htmx: true });
      assert.equal(hx.status, 404, `${action} htmx`);
      assert.match(noticeOf(hx.text)!.text, /^2 links could not be changed: lnk_\w+ \(not found: deleted, or not in this workspace\); not-an-id \(not found/);
      assert.equal(hx.headers.get('hx-trigger'), null);
    }
    assert.deepEqual(await t.store.db.row('select * from links where id = ?', globexLink), before);
    assert.equal((await auditFor(t, 'link.update', globexLink)).length, 0);
  });

  test('delete needs confirming; then each link is deleted, audited and announced', async () => {
    const [a, b] = await links(2);
    const unconfirmed = await owner.bulk({ action: 'delete' }, [a!.id, b!.id], { htmx: true });
    assert.equal(unconfirmed.status, 400);
    assert.match(noticeOf(unconfirmed.text)!.text, /^Deleting 2 links needs confirming: tick “Confirm delete”, then apply again\. A deleted link's short URL stops working/);
    const plain = await owner.bulk({ action: 'delete' }, [a!.id]);
    assert.equal(plain.status, 303);
    assert.equal((await owner.flash())?.kind, 'error');
    assert.equal(await viaApi(a!.id).then((r) => typeof r), 'object', 'still there');

    const res = await owner.bulk({ action: 'delete', confirm: 'yes' }, [a!.id, b!.id], { htmx: true });
    assert.equal(res.status, 200);
    assert.equal(noticeOf(res.text)?.text, 'Deleted 2 links.');
    assert.deepEqual(JSON.parse(res.headers.get('hx-trigger')!), { 'links-changed': { ids: [a!.id, b!.id] } });
    for (const l of [a!, b!]) {
      assert.equal(await viaApi(l.id), 404);
      assert.equal((await auditFor(t, 'link.delete', l.id))[0]?.actor_id, ownerId);
      assert.deepEqual(await eventsAbout(t, l.id), ['link.created', 'link.deleted']);
    }
    const [c] = await links(1);
    const withoutJs = await owner.bulk({ action: 'delete', confirm: 'yes' }, [c!.id, a!.id], { query: '?q=bulk' });
    assert.equal(withoutJs.status, 303);
    assert.equal(withoutJs.headers.get('location'), '/admin/links?q=bulk');
    assert.deepEqual(await owner.flash(), { kind: 'error', text: `Deleted 1 link. 1 link could not be changed: ${a!.id} (not found: deleted, or not in this workspace).` });
  });

  test('export: the selected links as LinkQR CSV, a download with a BOM; links of other workspaces left out', async () => {
    const [a, b] = await links(2, { title: '=SUM(A1)', tags: ['x', 'y'] });
    const res = await owner.bulk({ action: 'export' }, [b!.id, a!.id, globexLink]);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.equal(res.headers.get('content-disposition'), 'attachment; filename="links-2030-01-01.csv"');
    const lines = res.text.split('\r\n');
    assert.equal(lines[0], LINK_CSV_COLUMNS.map((c) => `"${c}"`).join(','));
    assert.equal(lines.length, 4, 'header, two links, and the last CRLF');
    assert.ok(lines[1]!.startsWith(`"${b!.id}","${b!.slug}"`), 'in the order selected');
    assert.match(lines[1]!, /"'=SUM\(A1\)","x, y","active"/, 'cells guarded against formulas');
    assert.deepEqual(parseLinkCsv(res.text, 10).map((r) => r.line), [2, 3], 'and LinkQR reads it back');
    assert.doesNotMatch(res.text, /globex/);
    assert.equal((await auditFor(t, 'link.update', a!.id)).length, 0, 'an export changes nothing');

    // fetch's text() drops the byte order mark: read the bytes.
    const body = new URLSearchParams({ action: 'export', _csrf: owner.csrf!, ids: a!.id });
    const raw = await fetch(`${t.url}/admin/links/bulk`, {
      method: 'POST',
      body,
      headers: { cookie: [...owner.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.deepEqual([...new Uint8Array(await raw.arrayBuffer()).slice(0, 4)], [0xef, 0xbb, 0xbf, 0x22]);

    // htmx would swap the file into the page.
    const hx = await owner.bulk({ action: 'export' }, [a!.id], { htmx: true });
    assert.equal(hx.status, 400);
    assert.match(noticeOf(hx.text)!.text, /Export is a download/);
  });

  test('refusals come back as a message, nothing changed: no action, unknown action, no selection, too many, a tag the schema refuses', async () => {
    const [a] = await links(1);
    const tooMany = Array.from({ length: MAX_BULK_LINKS + 1 }, (_, i) => `lnk_${String(i).padStart(20, '0')}`);
    const cases: { name: string; form: Record<string, string>; ids: string[]; message: RegExp }[] = [
      { name: 'no action', form: { action: '' }, ids: [a!.id], message: /^Choose what to do with the selected links\.$/ },
      { name: 'unknown action', form: { action: 'archive' }, ids: [a!.id], message: /^There is no bulk action “archive”: choose one of add-tag, remove-tag, disable, enable, delete, export\.$/ },
      { name: 'no selection', form: { action: 'disable' }, ids: [], message: /^Select at least one link/ },
      { name: 'empty ids', form: { action: 'disable' }, ids: ['', ''], message: /^Select at least one link/ },
      { name: 'too many', form: { action: 'disable' }, ids: tooMany, message: /^Select at most 100 links at a time \(101 were sent\)\.$/ },
      { name: 'no tag', form: { action: 'add-tag', tag: '  ' }, ids: [a!.id], message: /^Type the tag to add\.$/ },
      { name: 'no tag to remove', form: { action: 'remove-tag' }, ids: [a!.id], message: /^Type the tag to remove\.$/ },
      { name: 'comma', form: { action: 'add-tag', tag: 'a,b' }, ids: [a!.id], message: /^The tag must not contain commas or control characters\.$/ },
      { name: 'long tag', form: { action: 'add-tag', tag: 'x'.repeat(51) }, ids: [a!.id], message: /^The tag must be at most 50 characters\.$/ },
      { name: 'control character', form: { action: 'remove-tag', tag: 'a\tb' }, ids: [a!.id], message: /^The tag must not contain commas or control characters\.$/ },
    ];
    for (const c of cases) {
      const hx = await owner.bulk(c.form, c.ids, { htmx: true });
      assert.equal(hx.status, 400, c.name);
      assert.match(noticeOf(hx.text)?.text ?? hx.text, c.message, c.name);
      assert.equal(noticeOf(hx.text)?.role, 'alert', c.name);
      const plain = await owner.bulk(c.form, c.ids, { query: '?q=bulk' });
      assert.equal(plain.status, 303, c.name);
      assert.equal(plain.headers.get('location'), '/admin/links?q=bulk');
      const flash = await owner.flash();
      assert.equal(flash?.kind, 'error', c.name);
      assert.match(flash?.text ?? '', c.message, `${c.name} (no JavaScript)`);
    }
    assert.deepEqual(await viaApi(a!.id), { status: 'active', tags: [] });
    assert.equal((await auditFor(t, 'link.update', a!.id)).length, 0);
  });

  test('a viewer has no checkboxes nor bar, may export, and every change is refused with 403; a member may change', async () => {
    const [a] = await links(1);
    const viewer = await new Browser(t.url).signedIn(VIEWER);
    const page = await viewer.get('/admin/links');
    for (const control of ['name="ids"', 'data-bulk-all', 'id="links-bulk"', 'links-bulk-notice']) assert.ok(!page.text.includes(control), `no ${control}`);
    for (const action of ['add-tag', 'remove-tag', 'disable', 'enable', 'delete', 'archive', '']) {
      for (const htmx of [true, false]) {
        const res = await viewer.bulk({ action, tag: 'x', confirm: 'yes' }, [a!.id, globexLink], { htmx });
        assert.equal(res.status, 403, `${action} htmx=${htmx}`);
      }
    }
    const exported = await viewer.bulk({ action: 'export' }, [a!.id]);
    assert.equal(exported.status, 200);
    assert.match(exported.text, new RegExp(`^"id".*\\r\\n"${a!.id}"`));
    assert.deepEqual(await viaApi(a!.id), { status: 'active', tags: [] });

    const member = await new Browser(t.url).signedIn(MEMBER);
    assert.match((await member.get('/admin/links')).text, /id="links-bulk"/);
    assert.equal((await member.bulk({ action: 'disable' }, [a!.id], { htmx: true })).status, 200);
    assert.equal(((await viaApi(a!.id)) as { status: string }).status, 'disabled');
  });

  test('the bulk form needs the CSRF token', async () => {
    const [a] = await links(1);
    for (const csrf of [null, 'not-the-token']) {
      for (const htmx of [true, false]) {
        const res = await owner.bulk({ action: 'disable' }, [a!.id], { htmx, csrf });
        assert.equal(res.status, 403, `${csrf} htmx=${htmx}`);
      }
    }
    assert.equal((await rowOf(t, a!.id))?.status, 'active');
  });

  test('the page after a bulk change without JavaScript shows the flash above the same list', async () => {
    const [a] = await links(1, { title: 'Flash me' });
    const res = await owner.bulk({ action: 'disable' }, [a!.id], { query: `?q=${a!.slug}` });
    assert.equal(res.status, 303);
    const page = await owner.get(res.headers.get('location')!);
    assert.match(textOf(page.text, 'main') ?? '', /Disabled 1 link\./);
    assert.match(page.text, /<input type="search" name="q" value="bulk-\d+"/);
  });
});
