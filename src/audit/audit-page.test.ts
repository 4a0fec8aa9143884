import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { issueSetupToken } from '../setup/setup.service.js';
import { AdminClient, fieldError, textOf } from '../testing/admin-client.js';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { createUser } from '../users/users.service.js';
import { requireWorkspace } from '../workspaces/workspaces.service.js';
import { type ChangeContext, recordAudit } from './audit.js';
import { AUDIT_CSV_COLUMNS, AUDIT_PAGE_SIZE } from './audit-log.service.js';

const PASSWORD = 'audit page password';
const OWNER = 'olga@audit.test';
const ADMIN = 'adam@audit.test';
const MEMBER = 'mia@audit.test';
const HOUR = 3_600_000;
/** The seeded history: 250 entries an hour apart, two by two at the same millisecond. */
const T0 = Date.UTC(2025, 0, 1);
const SEEDED = 250;
const atOf = (i: number) => T0 + Math.floor(i / 2) * HOUR;

const unescape = (html: string) => html.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'");
/** The entry ids of a page, top to bottom. */
const idsOn = (html: string) => [...html.matchAll(/<tr id="audit-(\d+)">/g)].map((m) => Number(m[1]));
const linkOf = (html: string, id: string) => {
  const m = new RegExp(`id="${id}" rel="[a-z]+" href="([^"]+)" hx-get="([^"]+)"`).exec(html);
  return m ? { page: unescape(m[1]!), fragment: unescape(m[2]!) } : undefined;
};
/** The row of an entry, as text. */
const rowText = (html: string, id: number) => textOf(html, `audit-${id}`);

describe('the Audit log page', () => {
  let t: TestServer;
  let acme: string;
  let owner: AdminClient;
  let ids: { owner: string; admin: string; key: string; promo: string; gone: string; webhook: string; domain: string };

  /** Every entry of the workspace, as the page orders them: newest first, then by id. */
  const allEntries = () =>
    t.store.db.rows<{ id: number; action: string; actor_type: string; actor_id: string; target_type: string; target_id: string | null; created_at: number }>(
      'select id, action, actor_type, actor_id, target_type, target_id, created_at from audit_log where workspace_id = ? order by created_at desc, id desc',
      acme,
    );

  /** Walks from `path` to the last page by Older, checking each page; returns every id seen, in order, and the pages' HTML. */
  const walk = async (path: string) => {
    const pages: string[] = [];
    const seen: number[] = [];
    for (let next: string | undefined = path; next; ) {
      const page = await owner.get(next);
      assert.equal(page.status, 200, `${next}: ${page.text.slice(0, 300)}`);
      pages.push(page.text);
      seen.push(...idsOn(page.text));
      next = linkOf(page.text, 'audit-older')?.page;
      assert.ok(pages.length < 100, 'the walk ends');
    }
    return { seen, pages };
  };

  before(async () => {
    t = await startTestServer({ env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' } });
    const o = await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    const a = await createUser(t.store, TEST_OPERATOR, { email: ADMIN, password: PASSWORD, workspace: 'Acme', role: 'admin' });
    await createUser(t.store, TEST_OPERATOR, { email: MEMBER, password: PASSWORD, workspace: 'Acme', role: 'member' });
    acme = (await requireWorkspace(t.store, 'Acme')).id;
    const key = await t.key({ workspace: 'Acme', name: 'CRM sync' });
    const keyId = key.split('_')[1]!;
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await t.request(method, path, { key, body });
      assert.ok(res.status < 300, `${method} ${path}: ${res.text}`);
      return res.json;
    };
    const promo = await api('POST', '/api/v1/links', { url: 'https://example.com/promo', slug: 'promo' });
    const gone = await api('POST', '/api/v1/links', { url: 'https://example.com/gone', slug: 'gone-soon' });
    await api('DELETE', `/api/v1/links/${gone.id}`);
    const webhook = await api('POST', '/api/v1/webhooks', { url: 'http://127.0.0.1:9/audit-hook', events: ['link.created'] });
    const domain = await api('POST', '/api/v1/domains', { hostname: 'go.audit.test' });
    ids = { owner: o.user.id, admin: a.user.id, key: keyId, promo: promo.id, gone: gone.id, webhook: webhook.id, domain: domain.id };

    // A long history in 2025, before the changes above: actors, actions and targets of every kind.
    const actors: ChangeContext['actor'][] = [
      { type: 'user', id: ids.owner, workspaceId: acme, role: 'owner', instanceAdmin: false },
      { type: 'user', id: ids.admin, workspaceId: acme, role: 'admin', instanceAdmin: false },
      { type: 'key', id: ids.key, workspaceId: acme, scopes: [] },
      { type: 'operator', id: 'cli:alice' },
      // A change no one signed in made, under a name of its own (not the command line).
      { type: 'operator', id: 'mail-link' },
    ];
    await t.store.db.tx(async (tx) => {
      for (let i = 0; i < SEEDED; i++) {
        const actor = actors[i % actors.length]!;
        const [action, targetType, targetId, summary] =
          i % 3 === 0
            ? ['link.update', 'link', ids.promo, { title: { from: null, to: `t${i}` } }]
            : i % 3 === 1
              ? ['key.rotate', 'api_key', ids.key, { name: 'CRM sync' }]
              : ['member.role', 'user', ids.admin, { email: ADMIN, role: { from: 'member', to: 'admin' } }];
        await recordAudit(tx, { actor, ip: '192.0.2.7' }, { workspaceId: acme, action, targetType, targetId, summary, at: atOf(i) });
      }
    });
    owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/audit');
  });
  after(() => t.close());

  describe('pages', () => {
    test('walking Older from the newest page, then Newer back, sees every entry once, in order, in pages of the same size', async () => {
      const expected = (await allEntries()).map((e) => e.id);
      assert.ok(expected.length > SEEDED, `the history is long (${expected.length})`);
      const { seen, pages } = await walk('/admin/audit');
      assert.deepEqual(seen, expected, 'no gap, no duplicate, newest first');
      assert.equal(pages.length, Math.ceil(expected.length / AUDIT_PAGE_SIZE));
      for (const page of pages.slice(0, -1)) assert.equal(idsOn(page).length, AUDIT_PAGE_SIZE);
      assert.equal(linkOf(pages[0]!, 'audit-newer'), undefined, 'nothing is newer than the newest page');
      assert.equal(linkOf(pages[0]!, 'audit-newest'), undefined);

      // Back: Newer from the last page gives each page again, the same entries.
      let html = pages[pages.length - 1]!;
      for (let i = pages.length - 2; i >= 0; i--) {
        const newer = linkOf(html, 'audit-newer');
        assert.ok(newer, `page ${i + 2} links to newer entries`);
        const page = await owner.get(newer.page);
        assert.equal(page.status, 200);
        assert.deepEqual(idsOn(page.text), idsOn(pages[i]!), `page ${i + 1} again`);
        assert.ok(linkOf(page.text, 'audit-newest'), 'a page past the first links to the newest');
        html = page.text;
      }
      assert.equal(linkOf(html, 'audit-newer'), undefined, 'back at the newest page');
    });

    test('with htmx, the links fetch the fragment (filters and entries) and push the page URL', async () => {
      const first = await owner.get('/admin/audit');
      const older = linkOf(first.text, 'audit-older')!;
      assert.match(older.fragment, /^\/admin\/audit\/entries\?before=\d+-\d+$/);
      const fragment = await owner.get(older.fragment, { 'hx-request': 'true' });
      assert.equal(fragment.status, 200);
      assert.equal(fragment.headers.get('hx-push-url'), older.page, 'the address bar shows a URL that loads the whole page');
      assert.match(fragment.text, /^<div id="audit-view"/m);
      assert.doesNotMatch(fragment.text, /class="sidebar"/, 'no layout');
      assert.deepEqual(idsOn(fragment.text), idsOn((await owner.get(older.page)).text));
    });

    test('a newer page past the newest full page shows the newest page', async () => {
      const newest = (await allEntries())[0]!;
      const page = await owner.get(`/admin/audit?after=${newest.created_at}-${newest.id - 1}`);
      assert.equal(page.status, 200);
      assert.deepEqual(idsOn(page.text), idsOn((await owner.get('/admin/audit')).text));
    });
  });

  describe('filters', () => {
    /** Every id a filtered walk sees, against the entries the predicate picks. */
    const filtered = async (query: string, pick: (e: Awaited<ReturnType<typeof allEntries>>[number]) => boolean) => {
      const { seen, pages } = await walk(`/admin/audit?${query}`);
      const expected = (await allEntries()).filter(pick).map((e) => e.id);
      assert.ok(expected.length > 0, `${query} matches something`);
      assert.deepEqual(seen, expected, query);
      return pages;
    };

    test('action', async () => {
      const pages = await filtered('action=member.role', (e) => e.action === 'member.role');
      assert.ok(pages.length > 1, 'more than a page');
      assert.match(pages[0]!, /<option value="member.role" selected>Member role changed<\/option>/, 'the select shows the choice, by its label');
      // Links keep the filter.
      assert.match(linkOf(pages[0]!, 'audit-older')!.page, /^\/admin\/audit\?action=member.role&before=/);
    });

    test('actor: a member, an API key, the command line', async () => {
      await filtered(`actor=user:${ids.admin}`, (e) => e.actor_type === 'user' && e.actor_id === ids.admin);
      await filtered(`actor=key:${ids.key}`, (e) => e.actor_type === 'key' && e.actor_id === ids.key);
      await filtered('actor=cli', (e) => e.actor_type === 'operator' && e.actor_id.startsWith('cli:'));
      await filtered('actor=operator:mail-link', (e) => e.actor_type === 'operator' && e.actor_id === 'mail-link');
      const page = await owner.get('/admin/audit');
      for (const [value, label] of [[`user:${ids.admin}`, ADMIN], [`key:${ids.key}`, 'CRM sync'], ['cli', 'Command line'], ['operator:mail-link', 'Mail link']]) {
        assert.match(page.text, new RegExp(`<option value="${value}">${label}</option>`), `the actor select offers ${label}`);
      }
    });

    test('target: kind, id, and the name a target has today', async () => {
      await filtered('targetType=api_key', (e) => e.target_type === 'api_key');
      await filtered(`target=${ids.promo}`, (e) => e.target_id === ids.promo);
      await filtered('target=promo', (e) => e.target_id === ids.promo);
      await filtered('targetType=link&target=promo', (e) => e.target_id === ids.promo);
      await filtered(`target=${encodeURIComponent(ADMIN)}`, (e) => e.target_id === ids.admin);
      await filtered('target=CRM%20sync', (e) => e.target_id === ids.key);
      await filtered(`target=${ids.gone}`, (e) => e.target_id === ids.gone);
      const none = await owner.get('/admin/audit?targetType=webhook_endpoint&target=promo');
      assert.equal(none.status, 200);
      assert.deepEqual(idsOn(none.text), []);
      assert.match(textOf(none.text, 'audit-no-match')!, /No entries match these filters\. Show every entry/);
    });

    test('dates: from and to are whole UTC days', async () => {
      const from = Date.UTC(2025, 0, 3);
      const to = Date.UTC(2025, 0, 5) + 24 * HOUR;
      await filtered('from=2025-01-03&to=2025-01-05', (e) => e.created_at >= from && e.created_at < to);
      await filtered('to=2025-01-02', (e) => e.created_at < Date.UTC(2025, 0, 3));
      await filtered('from=2025-01-04&action=link.update&actor=cli', (e) => e.created_at >= Date.UTC(2025, 0, 4) && e.action === 'link.update' && e.actor_id === 'cli:alice');
    });

    test('a filtered URL with htmx pushes itself, and the Clear link goes back to every entry', async () => {
      const res = await owner.get('/admin/audit/entries?action=key.rotate&actor=&target=', { 'hx-request': 'true' });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('hx-push-url'), '/admin/audit?action=key.rotate', 'empty fields leave no parameter behind');
      assert.match(res.text, /id="audit-clear" href="\/admin\/audit"/);
    });

    const invalid: [string, string, RegExp][] = [
      ['actor=nobody', 'actor', /Choose who from the list/],
      ['actor=user:%3Cscript%3E', 'actor', /Choose who from the list/],
      ['action=DROP%20TABLE', 'action', /Choose an action from the list/],
      ['action=link.create&action=link.delete', 'action', /Choose one value/],
      ['targetType=Link!', 'targetType', /Choose a kind of target/],
      [`target=${'x'.repeat(301)}`, 'target', /At most 300 characters/],
      ['from=2025-02-30', 'from', /Not a day: enter one as YYYY-MM-DD/],
      ['to=yesterday', 'to', /Not a day: enter one as YYYY-MM-DD/],
      ['from=2025-03-02&to=2025-03-01', 'to', /Must be on or after the From date/],
    ];
    for (const [query, field, message] of invalid) {
      test(`${query.slice(0, 60)}: 400, the message beside ${field}, no entries`, async () => {
        for (const path of [`/admin/audit?${query}`, `/admin/audit/entries?${query}`, `/admin/audit/export?${query}`]) {
          const res = await owner.get(path, path.includes('/entries') ? { 'hx-request': 'true' } : undefined);
          assert.equal(res.status, 400, path);
          assert.match(fieldError(res.text, field) ?? '', message, path);
          assert.match(res.text, new RegExp(`aria-describedby="${field}-error"`));
          assert.deepEqual(idsOn(res.text), [], 'no entries under a filter that does not hold');
          assert.match(res.headers.get('content-type') ?? '', /text\/html/);
        }
      });
    }

    test('a page address that is not one the page made: 400 and a way back', async () => {
      for (const query of ['before=abc', 'after=1-2&before=3-4', 'before=1-2&before=3-4']) {
        const res = await owner.get(`/admin/audit?${query}`);
        assert.equal(res.status, 400, query);
        assert.match(textOf(res.text, 'audit-page-error')!, /start again from the newest entries\. Newest entries/);
      }
    });
  });

  describe('names', () => {
    test('targets by name, linked while they exist; a deleted one by the name its entry recorded', async () => {
      const entries = await allEntries();
      const page = (await owner.get('/admin/audit')).text;
      const entryOf = (action: string, targetId: string) => entries.find((e) => e.action === action && e.target_id === targetId)!.id;

      const promo = entryOf('link.create', ids.promo);
      assert.match(rowText(page, promo)!, /Link \S+\/promo/);
      assert.match(page, new RegExp(`<a href="/admin/links/${ids.promo}">[^<]+/promo</a>`));

      const deleted = entryOf('link.delete', ids.gone);
      assert.match(rowText(page, deleted)!, new RegExp(`Link gone-soon deleted · ${ids.gone}`));
      assert.doesNotMatch(page, new RegExp(`href="/admin/links/${ids.gone}"`), 'no link to what is gone');

      assert.match(page, new RegExp(`<a href="/admin/api/webhooks/${ids.webhook}">http://127.0.0.1:9/audit-hook</a>`));
      assert.match(page, new RegExp(`<a href="/admin/settings#domain-${ids.domain}">go.audit.test</a>`));
      assert.match(page, new RegExp(`<a href="/admin/team#member-${ids.admin}">${ADMIN}</a>`), 'a member links to the Team page');
      assert.match(page, new RegExp(`<a href="/admin/api#key-${ids.key}">CRM sync</a>`), 'the key, as actor and target');
    });

    test('actors by name: the user’s email, the key’s name, the command line with its account', async () => {
      const entries = await allEntries();
      const { pages } = await walk('/admin/audit');
      const html = pages.join('');
      const byActor = (type: string, id: string) => entries.find((e) => e.actor_type === type && e.actor_id === id)!.id;
      assert.match(rowText(html, byActor('user', ids.admin))!, new RegExp(`^\\S+ \\d\\d:\\d\\d ${ADMIN} User from 192\\.0\\.2\\.7 `));
      assert.match(rowText(html, byActor('key', ids.key))!, new RegExp(`CRM sync API key · ${ids.key}`));
      assert.match(rowText(html, byActor('operator', 'cli:alice'))!, /Command line as alice/);
      assert.match(rowText(html, byActor('operator', 'cli:test'))!, /Command line as test/);
      assert.match(rowText(html, byActor('operator', 'mail-link'))!, /Mail link No one signed in/);
    });

    test('each cell carries its column name for narrow screens', async () => {
      const page = (await owner.get('/admin/audit')).text;
      const row = /<tr id="audit-\d+">([\s\S]*?)<\/tr>/.exec(page)![1]!;
      assert.deepEqual([...row.matchAll(/<td[^>]*data-label="([^"]+)"/g)].map((m) => m[1]), ['When (UTC)', 'Who, from where', 'Action', 'Target', 'Details']);
      assert.equal([...row.matchAll(/<td/g)].length, 5, 'every cell');
    });
  });

  describe('CSV export', () => {
    const parse = (text: string) =>
      text
        .replace(/^\uFEFF/, '')
        .trimEnd()
        .split('\r\n')
        .map((line) => [...line.matchAll(/"((?:[^"]|"")*)"|(?<=^|,)(?=,|$)/g)].map((m) => (m[1] ?? '').replace(/""/g, '"')));

    test('the filters of the page, every matching entry (not a page), newest first, with a header row', async () => {
      const page = await owner.get('/admin/audit?action=link.update&actor=cli');
      const exportUrl = unescape(/id="audit-export" href="([^"]+)"/.exec(page.text)![1]!);
      assert.equal(exportUrl, '/admin/audit/export?actor=cli&action=link.update');
      const res = await owner.get(exportUrl);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type')!, /^text\/csv/);
      assert.match(res.headers.get('content-disposition')!, /^attachment; filename="audit-\d{4}-\d{2}-\d{2}\.csv"$/);
      const [header, ...rows] = parse(res.text);
      assert.deepEqual(header, [...AUDIT_CSV_COLUMNS]);
      const expected = (await allEntries()).filter((e) => e.action === 'link.update' && e.actor_id === 'cli:alice');
      assert.deepEqual(rows.map((r) => Number(r[0])), expected.map((e) => e.id));
      const col = (name: (typeof AUDIT_CSV_COLUMNS)[number]) => AUDIT_CSV_COLUMNS.indexOf(name);
      const first = rows[0]!;
      assert.equal(first[col('actor')], 'Command line');
      assert.equal(first[col('actorId')], 'cli:alice');
      assert.match(first[col('target')]!, /\/promo$/, 'the link by its short URL');
      assert.equal(first[col('targetId')], ids.promo);
      assert.equal(first[col('targetDeleted')], 'false');
      assert.equal(first[col('ip')], '192.0.2.7');
      const stored = await t.store.db.row<{ summary: string }>('select summary from audit_log where id = ?', expected[0]!.id);
      assert.deepEqual(JSON.parse(first[col('summary')]!), JSON.parse(stored!.summary));
      assert.equal(first[col('at')], new Date(expected[0]!.created_at).toISOString());
    });

    test('unfiltered: the whole log; a deleted target says so', async () => {
      const [, ...rows] = parse((await owner.get('/admin/audit/export')).text);
      assert.equal(rows.length, (await allEntries()).length, 'more than a page: the export is not paged');
      const col = (name: (typeof AUDIT_CSV_COLUMNS)[number]) => AUDIT_CSV_COLUMNS.indexOf(name);
      const deleted = rows.find((r) => r[col('action')] === 'link.delete')!;
      assert.deepEqual([deleted[col('target')], deleted[col('targetId')], deleted[col('targetDeleted')]], ['gone-soon', ids.gone, 'true']);
    });
  });

  describe('who may read it', () => {
    test('admins and owners; a member is refused the page, its fragment and the export', async () => {
      const admin = await new AdminClient(t.url).signIn(ADMIN, PASSWORD, '/admin/audit');
      assert.equal((await admin.get('/admin/audit/export')).status, 200);
      const member = await new AdminClient(t.url).signIn(MEMBER, PASSWORD);
      for (const path of ['/admin/audit', '/admin/audit/entries', '/admin/audit/export', '/admin/audit?action=link.create']) {
        const res = await member.get(path);
        assert.equal(res.status, 403, path);
        assert.doesNotMatch(res.text, /id="audit-table"/);
      }
    });
  });
});

describe('the Audit log names first-run setup as "Setup page"', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  test('the owner and workspace made by /setup show as done by the setup page, and filter as such', async () => {
    const token = (await issueSetupToken(t.store))!;
    const res = await t.request('POST', '/setup', {
      rawBody: new URLSearchParams({ token, email: OWNER, password: PASSWORD, confirm: PASSWORD, workspace: 'First' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.ok(res.status < 400, res.text);
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/audit');
    const page = await owner.get('/admin/audit');
    const rows = idsOn(page.text).filter((id) => /workspace\.create|member\.add/.test(rowText(page.text, id)!));
    assert.equal(rows.length, 2, 'workspace.create and member.add');
    for (const id of rows) assert.match(rowText(page.text, id)!, / Setup page First-run setup from /);
    assert.doesNotMatch(page.text, /Command line/);
    assert.match(page.text, /<option value="setup">Setup page<\/option>/);
    assert.deepEqual(idsOn((await owner.get('/admin/audit?actor=setup')).text), idsOn(page.text).filter((id) => / Setup page /.test(rowText(page.text, id)!)));
    assert.deepEqual(idsOn((await owner.get('/admin/audit?actor=cli')).text), []);
  });
});
