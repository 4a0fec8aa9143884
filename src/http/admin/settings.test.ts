import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listAudit } from '../../audit/audit.js';
import { createUser } from '../../users/users.service.js';
import { setWorkspacePlan, upsertPlan } from '../../workspaces/plans.js';
import { renameWorkspace, requireWorkspace } from '../../workspaces/workspaces.service.js';
import { AdminClient, fieldError, textOf } from '../../testing/admin-client.js';
import { fakeClock, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';

const PASSWORD = 'correct horse battery';
const OWNER = 'olga@example.com';
const ADMIN = 'adam@example.com';
const VIEWER = 'vera@example.com';
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0';

describe('admin Settings page: name, plan, usage meters, clear caches', () => {
  const clock = fakeClock(Date.UTC(2030, 4, 20, 10));
  let t: TestServer;
  let acme: string;
  let key: string;

  before(async () => {
    t = await startTestServer({ clock });
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    await createUser(t.store, TEST_OPERATOR, { email: ADMIN, password: PASSWORD, workspace: 'Acme', role: 'admin' });
    await createUser(t.store, TEST_OPERATOR, { email: VIEWER, password: PASSWORD, workspace: 'Acme', role: 'viewer' });
    await createUser(t.store, TEST_OPERATOR, { email: 'g@example.com', password: PASSWORD, workspace: 'Globex' });
    acme = (await requireWorkspace(t.store, 'Acme')).id;
    key = await t.key({ workspace: 'Acme', name: 'CRM sync' });
  });
  after(() => t.close());

  test('usage against every limit: bars with used/max, "unlimited", and the clicks overage', async () => {
    await upsertPlan(t.store.db, TEST_OPERATOR, 'Starter', { features: { webhooks: false }, limits: { links: 4, clicksPerMonth: 2, members: 3, apiKeys: 5, analyticsRetentionDays: 30 } }, clock.now());
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, acme, 'Starter', clock.now());
    const slugs: string[] = [];
    for (const path of ['a', 'b', 'c']) {
      const res = await t.request('POST', '/api/v1/links', { key, body: { url: `https://example.com/${path}` } });
      assert.equal(res.status, 201, res.text);
      slugs.push(res.json.slug);
    }
    for (let i = 0; i < 5; i++) assert.equal((await t.request('GET', `/${slugs[0]}`, { headers: { 'user-agent': BROWSER } })).status, 302);
    await t.flushClicks();

    const viewer = await new AdminClient(t.url).signIn(VIEWER, PASSWORD, '/admin/settings');
    const page = await viewer.get('/admin/settings');
    assert.equal(page.status, 200);
    assert.match(textOf(page.text, 'plan')!, /Starter API .*Webhooks \(not included\).* Analytics are kept for 30 days/);
    const meters = {
      links: /Links 3 \/ 4/,
      qrCodes: /QR codes 0 \/ unlimited/,
      clicksPerMonth: /Clicks this month 5 \/ 2 3 clicks over the plan this month\. Links keep redirecting/,
      members: /Members 3 \/ 3 Limit reached/,
      apiKeys: /API keys 1 \/ 5/,
      webhookEndpoints: /Webhook endpoints 0 \/ unlimited/,
    };
    for (const [id, text] of Object.entries(meters)) assert.match(textOf(page.text, `meter-${id}`) ?? '', text, id);
    assert.match(page.text, /class="meter meter-near" id="meter-links"/, '3 of 4 is near the limit');
    assert.match(page.text, /class="meter meter-full" id="meter-clicksPerMonth"/);
    assert.match(page.text, /class="meter meter-unlimited" id="meter-qrCodes"/);
    assert.match(page.text, /<progress class="meter-bar" max="100" value="75"/);
    assert.match(textOf(page.text, 'usage')!, /this month is 2030-05 \(UTC\)/);

    // A viewer reads it all but changes nothing.
    assert.doesNotMatch(page.text, /action="\/admin\/settings\/name"|clear-caches/);
    assert.match(textOf(page.text, 'workspace-name')!, /Only owners can rename the workspace\./);
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, acme, 'default', clock.now());
  });

  test('the owner renames the workspace; errors come back beside the field', async () => {
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/settings');
    const cases = [
      { name: '   ', error: 'Must not be empty.' },
      { name: 'x'.repeat(65), error: 'Must be at most 64 characters.' },
      { name: 'globex', error: 'Another workspace has this name.' },
    ];
    for (const { name, error } of cases) {
      const frag = await owner.htmx('/admin/settings/name', { name });
      assert.equal(frag.status, 422);
      assert.equal(fieldError(frag.text, 'name'), error);
      assert.doesNotMatch(frag.text, /<html/, 'the form alone');
      const plain = await owner.post('/admin/settings/name', { name });
      assert.equal(plain.status, 422);
      assert.equal(fieldError(plain.text, 'name'), error);
      assert.ok(plain.text.includes(`value="${name}"`), 'what was typed is kept');
    }
    assert.equal((await requireWorkspace(t.store, 'Acme')).id, acme, 'unchanged');

    const res = await owner.htmx('/admin/settings/name', { name: '  Acme Corp ' });
    assert.equal(res.headers.get('hx-redirect'), '/admin/settings');
    const page = await owner.get('/admin/settings');
    assert.match(page.text, /The workspace is now called Acme Corp\./);
    assert.match(page.text, /<title>Settings · Acme Corp · LinkQR<\/title>/);
    const entry = (await listAudit(t.store.db, acme, 1))[0]!;
    assert.equal(entry.action, 'workspace.rename');
    assert.deepEqual(entry.summary, { name: { from: 'Acme', to: 'Acme Corp' } });

    // The same name again changes nothing and writes nothing to the log.
    await owner.post('/admin/settings/name', { name: 'Acme Corp' });
    assert.equal((await listAudit(t.store.db, acme, 1))[0]!.id, entry.id);
    await renameWorkspace(t.store, TEST_OPERATOR, acme, 'Acme');
  });

  test('admins and viewers may not rename; admins may clear caches, viewers may not', async () => {
    const admin = await new AdminClient(t.url).signIn(ADMIN, PASSWORD, '/admin/settings');
    const adminPage = await admin.get('/admin/settings');
    assert.doesNotMatch(adminPage.text, /action="\/admin\/settings\/name"/);
    assert.match(adminPage.text, /action="\/admin\/settings\/clear-caches"/);
    // Instance-wide settings: a pointer for instance admins (the first user), nothing for others.
    assert.doesNotMatch(adminPage.text, /id="instance-settings"/);
    const instanceAdmin = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/settings');
    assert.match((await instanceAdmin.get('/admin/settings')).text, /id="instance-settings"[\s\S]*href="\/admin\/instance#settings"/);
    const rename = await admin.post('/admin/settings/name', { name: 'Mine' });
    assert.equal(rename.status, 403);
    assert.match(rename.text, /Your role \(admin\) cannot change the workspace’s settings\./);

    const viewer = await new AdminClient(t.url).signIn(VIEWER, PASSWORD, '/admin/settings');
    for (const path of ['/admin/settings/name', '/admin/settings/clear-caches']) {
      assert.equal((await viewer.post(path, { name: 'Mine' })).status, 403, path);
    }
    assert.equal((await requireWorkspace(t.store, 'Acme')).id, acme);
    assert.equal((await admin.request('POST', '/admin/settings/clear-caches', { form: {} })).status, 403, 'no CSRF token');
    assert.equal((await admin.request('POST', '/admin/settings/name', { form: { name: 'Mine' } })).status, 403, 'no CSRF token');
  });

  test('"Clear caches": a link changed behind the server\'s back redirects to its new target', async () => {
    const created = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/old' } });
    const slug = created.json.slug as string;
    const visit = async () => (await t.request('GET', `/${slug}`, { headers: { 'user-agent': BROWSER } })).headers.get('location');
    assert.equal(await visit(), 'https://example.com/old');
    // What the command line does from another process: the running server's cache still holds the old target.
    await t.store.db.exec('update links set url = ? where slug = ?', 'https://example.com/new', slug);
    assert.equal(await visit(), 'https://example.com/old');

    // An instance setting changed behind the server's back (a restored backup, another process).
    await t.store.db.exec(
      `insert into settings (key, value) values ('instance_settings', '{"keepUserAgents":true}') on conflict (key) do update set value = excluded.value`,
    );
    assert.equal(t.server.deps.instanceSettings.get().keepUserAgents, false);

    const admin = await new AdminClient(t.url).signIn(ADMIN, PASSWORD, '/admin/settings');
    const res = await admin.htmx('/admin/settings/clear-caches', {});
    assert.equal(t.server.deps.instanceSettings.get().keepUserAgents, true, 'instance settings are read again');
    assert.equal(res.headers.get('hx-redirect'), '/admin/settings');
    assert.match((await admin.get('/admin/settings')).text, /Caches cleared: the next redirects and API calls read the database again\./);
    assert.equal(await visit(), 'https://example.com/new');
    assert.equal((await t.request('GET', '/api/v1/links', { key })).status, 200, 'the key verifies again after its cache is gone');
    const entry = (await listAudit(t.store.db, acme, 1))[0]!;
    assert.equal(entry.action, 'settings.clear_caches');
    assert.match(entry.actor, /^user:/);
  });
});
