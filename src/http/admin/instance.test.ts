import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listAudit } from '../../audit/audit.js';
import { createLink } from '../../links/links.service.js';
import { createUser } from '../../users/users.service.js';
import { listPlans, planOfWorkspace, upsertPlan } from '../../workspaces/plans.js';
import { requireWorkspace } from '../../workspaces/workspaces.service.js';
import { AdminClient, textOf } from '../../testing/admin-client.js';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';

const PASSWORD = 'correct horse battery';
const ROOT_ADMIN = 'root@example.com';
const OWNER = 'olga@example.com';
const LONER = 'lone@example.com';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0';

/** The message beside a field of a plan form ("plan-new" = the New plan form, "plan-edit" = the edit form). */
const fieldError = (html: string, prefix: string, field: string) => new RegExp(`<p class="error" id="${prefix}-${field}-error">([^<]*)</p>`).exec(html)?.[1];
const valueOf = (html: string, id: string) => new RegExp(`id="${id}" name="[^"]+" type="[^"]+" value="([^"]*)"`).exec(html)?.[1];
const checkedFeatures = (html: string) => [...html.matchAll(/name="features" value="(\w+)"( checked)?/g)].filter((m) => m[2]).map((m) => m[1]);

/** What a complete plan form posts; `over` changes some fields. */
function planForm(over: Record<string, string> = {}): Record<string, string> {
  const limits = { links: '', domains: '', qrCodes: '', clicksPerMonth: '', members: '', apiKeys: '', webhookEndpoints: '', analyticsRetentionDays: '' };
  return { ...limits, ...over };
}

/** A form body with repeated `features` fields, as a browser sends checked boxes. */
function withFeatures(form: Record<string, string>, features: string[]) {
  const params = new URLSearchParams(form);
  for (const f of features) params.append('features', f);
  return params;
}

describe('admin Instance page (instance admins only)', () => {
  let t: TestServer;
  let globex: string;

  /** Posts a plan form with its feature checkboxes, as htmx or as a plain browser. */
  async function postPlan(client: AdminClient, form: Record<string, string>, features: string[], how: 'htmx' | 'plain') {
    const params = withFeatures(form, features);
    if (how === 'plain') params.set('_csrf', client.csrf!);
    const headers: Record<string, string> = how === 'htmx' ? { 'hx-request': 'true', 'x-csrf-token': client.csrf! } : {};
    // AdminClient posts flat records; repeated fields need the raw body.
    const res = await fetch(`${t.url}/admin/instance`, {
      method: 'POST',
      redirect: 'manual',
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded', cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
      body: params.toString(),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  const instanceAudit = (action: string) =>
    t.store.db.rows<{
      actor_type: string;
      actor_id: string;
      target_id: string | null;
      summary: string;
    }>('select actor_type, actor_id, target_id, summary from audit_log where workspace_id is null and action = ? order by id desc', action);

  before(async () => {
    t = await startTestServer();
    // The first user is the instance admin.
    await createUser(t.store, TEST_OPERATOR, { email: ROOT_ADMIN, password: PASSWORD, workspace: 'Acme' });
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Globex' });
    await createUser(t.store, TEST_OPERATOR, { email: LONER, password: PASSWORD });
    await upsertPlan(t.store.db, TEST_OPERATOR, 'Team', { features: { webhooks: false }, limits: { links: 1000, members: 10 } }, Date.now());
    globex = (await requireWorkspace(t.store, 'Globex')).id;
  });
  after(() => t.close());

  test('lists users, workspaces and plans; the plan of a workspace changes from its row', async () => {
    const admin = await new AdminClient(t.url).signIn(ROOT_ADMIN, PASSWORD, '/admin/instance');
    const page = await admin.get('/admin/instance');
    assert.equal(page.status, 200);
    assert.match(textOf(page.text, 'users-table')!, new RegExp(`${LONER} None .*${OWNER} Globex · owner .*${ROOT_ADMIN} Instance admin Acme · owner`));
    assert.match(textOf(page.text, `workspace-${globex}`)!, /Globex wsp_\S+ .* 1 0 \d{4}-\d\d-\d\d/);
    assert.match(page.text, new RegExp(`id="plan-${globex}"[\\s\\S]*?<option value="default" selected>`));
    assert.match(textOf(page.text, 'plans-table')!, /Team 0 workspaces api webhooks qr analytics Links 1,000 Domains ∞ QR codes ∞ Clicks\/mo ∞ Members 10 API keys ∞ Webhooks ∞ Days kept ∞ API req\/min 1,200 \(instance\) Edit/);
    assert.match(page.text, /<span class="tag tag-off">webhooks<\/span>/);

    const res = await admin.htmx('/admin/instance', { intent: 'workspace-plan', workspace: globex, plan: 'Team' });
    assert.equal(res.headers.get('hx-redirect'), '/admin/instance');
    assert.equal((await planOfWorkspace(t.store.db, globex)).name, 'Team');
    assert.match((await admin.get('/admin/instance')).text, /Globex is on the Team plan\./);
    const entry = (await listAudit(t.store.db, globex, 1))[0]!;
    assert.equal(entry.action, 'workspace.set_plan');
    assert.deepEqual(entry.summary, { plan: { from: 'default', to: 'Team' } });
    assert.match(entry.actor, /^user:usr_/);

    assert.equal((await admin.post('/admin/instance', { intent: 'workspace-plan', workspace: 'wsp_nope', plan: 'Team' })).status, 404);
    assert.equal((await admin.post('/admin/instance', { intent: 'workspace-plan', workspace: globex, plan: 'Platinum' })).status, 404);
    assert.equal((await admin.request('POST', '/admin/instance', { form: { intent: 'workspace-plan', workspace: globex, plan: 'default' } })).status, 403, 'no CSRF token');
    assert.equal((await admin.post('/admin/instance', { workspace: globex, plan: 'default' })).status, 400, 'a form without an intent');
    assert.equal((await planOfWorkspace(t.store.db, globex)).name, 'Team');
  });

  test('a new plan: errors beside the fields (htmx and without JavaScript), values kept; then created and audited', async () => {
    const admin = await new AdminClient(t.url).signIn(ROOT_ADMIN, PASSWORD, '/admin/instance');
    const page = await admin.get('/admin/instance');
    assert.match(page.text, /<details class="plan-new">/, 'closed until asked for');
    assert.deepEqual(checkedFeatures(page.text), ['api', 'webhooks', 'qr', 'analytics'], 'a new plan has every feature');

    const cases: { form: Record<string, string> & { name: string }; field: string; error: string }[] = [
      { form: { name: '  ' }, field: 'name', error: 'Must not be empty.' },
      { form: { name: 'x'.repeat(65) }, field: 'name', error: 'Must be at most 64 characters.' },
      { form: { name: 'team' }, field: 'name', error: 'The plan Team exists already: edit it in the table.' },
      { form: { name: 'Pro', links: '1.5' }, field: 'links', error: 'Must be a whole number, or blank for no limit.' },
      { form: { name: 'Pro', members: '-3' }, field: 'members', error: 'Must be 0 or more.' },
      { form: { name: 'Pro', analyticsRetentionDays: '0' }, field: 'analyticsRetentionDays', error: 'Must be 1 or more.' },
      { form: { name: 'Pro', clicksPerMonth: '1234567890123' }, field: 'clicksPerMonth', error: 'Must be at most 12 digits long.' },
    ];
    for (const c of cases) {
      const form = { intent: 'plan.create', ...planForm({ links: '250', ...c.form }) };
      const frag = await postPlan(admin, form, ['api', 'qr'], 'htmx');
      assert.equal(frag.status, 422, c.error);
      assert.match(frag.text, /^\s*<div id="plan-create">/, 'the New plan region alone');
      assert.doesNotMatch(frag.text, /<html/);
      assert.equal(fieldError(frag.text, 'plan-new', c.field), c.error);
      assert.match(frag.text, /<details class="plan-new" open>/, 'opened on the error');
      assert.equal(valueOf(frag.text, 'plan-new-name'), c.form.name, 'the name as typed');
      assert.equal(valueOf(frag.text, 'plan-new-links'), c.form.links ?? '250', 'the limits as typed');
      assert.deepEqual(checkedFeatures(frag.text), ['api', 'qr'], 'the boxes as ticked');

      const plain = await postPlan(admin, form, ['api', 'qr'], 'plain');
      assert.equal(plain.status, 422, c.error);
      assert.match(plain.text, /<html/, 'the whole page without JavaScript');
      assert.equal(fieldError(plain.text, 'plan-new', c.field), c.error);
      assert.equal(valueOf(plain.text, `plan-new-${c.field}`), c.form[c.field]);
    }
    assert.deepEqual((await listPlans(t.store.db)).map((p) => p.name), ['default', 'Team'], 'nothing was created');

    const res = await postPlan(admin, { intent: 'plan.create', ...planForm({ name: ' Pro ', links: '250', analyticsRetentionDays: '90', members: '0' }) }, ['api', 'qr'], 'htmx');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('hx-redirect'), '/admin/instance');
    const pro = (await listPlans(t.store.db)).find((p) => p.name === 'Pro')!;
    assert.deepEqual(pro.features, { api: true, webhooks: false, qr: true, analytics: false });
    assert.deepEqual(pro.limits, { links: 250, members: 0, analyticsRetentionDays: 90 });
    const after = await admin.get('/admin/instance');
    assert.match(after.text, /Created the Pro plan\./);
    assert.match(textOf(after.text, 'plans-table')!, /Pro 0 workspaces api webhooks qr analytics Links 250 Domains ∞ QR codes ∞ Clicks\/mo ∞ Members 0 API keys ∞ Webhooks ∞ Days kept 90 API req\/min 1,200 \(instance\) Edit/);
    const [entry] = await instanceAudit('plan.create');
    assert.equal(entry?.actor_type, 'user');
    assert.match(entry!.actor_id, /^usr_/);
    assert.deepEqual(JSON.parse(entry!.summary).limits, { links: 250, members: 0, analyticsRetentionDays: 90 });

    // Without JavaScript: a redirect to the page.
    const plain = await postPlan(admin, { intent: 'plan.create', ...planForm({ name: 'Free', links: '10' }) }, [], 'plain');
    assert.equal(plain.status, 303);
    assert.equal(plain.headers.get('location'), '/admin/instance');
    assert.deepEqual((await listPlans(t.store.db)).find((p) => p.name === 'Free')?.features, { api: false, webhooks: false, qr: false, analytics: false });
  });

  test('editing a plan: the dialog form (or a page), errors beside the fields, blank removes a limit, audited once', async () => {
    const admin = await new AdminClient(t.url).signIn(ROOT_ADMIN, PASSWORD, '/admin/instance');
    const page = await admin.get('/admin/instance');
    assert.match(page.text, /href="\/admin\/instance\?edit=Team#plan-edit" hx-get="\/admin\/instance\?edit=Team" hx-target="#plan-dialog-body"/);

    const dialog = await admin.get('/admin/instance?edit=Team', { 'hx-request': 'true' });
    assert.equal(dialog.status, 200);
    assert.match(dialog.text, /^\s*<form id="plan-edit"/);
    assert.doesNotMatch(dialog.text, /<html/);
    assert.equal(valueOf(dialog.text, 'plan-edit-links'), '1000');
    assert.equal(valueOf(dialog.text, 'plan-edit-members'), '10');
    assert.equal(valueOf(dialog.text, 'plan-edit-qrCodes'), '', 'no limit: blank');
    assert.deepEqual(checkedFeatures(dialog.text), ['api', 'qr', 'analytics']);
    const noJs = await admin.get('/admin/instance?edit=Team');
    assert.equal(noJs.status, 200);
    assert.match(noJs.text, /<html[^]*<div class="card plan-edit-page"><form id="plan-edit"/);
    assert.doesNotMatch(noJs.text, /id="plan-create"/, 'one plan form at a time without JavaScript');
    assert.equal((await admin.get('/admin/instance?edit=Platinum', { 'hx-request': 'true' })).status, 404);

    const updates = (await instanceAudit('plan.update')).length;
    const bad = { intent: 'plan.update', name: 'Team', ...planForm({ links: 'lots', members: '10', analyticsRetentionDays: '-1' }) };
    const frag = await postPlan(admin, bad, ['api'], 'htmx');
    assert.equal(frag.status, 422);
    assert.match(frag.text, /^\s*<form id="plan-edit"/);
    assert.equal(fieldError(frag.text, 'plan-edit', 'links'), 'Must be a whole number, or blank for no limit.');
    assert.equal(fieldError(frag.text, 'plan-edit', 'analyticsRetentionDays'), 'Must be 1 or more.');
    assert.equal(fieldError(frag.text, 'plan-edit', 'members'), undefined);
    assert.equal(valueOf(frag.text, 'plan-edit-links'), 'lots');
    assert.deepEqual(checkedFeatures(frag.text), ['api']);
    const plain = await postPlan(admin, bad, ['api'], 'plain');
    assert.equal(plain.status, 422);
    assert.match(plain.text, /<div class="card plan-edit-page">/);
    assert.equal(fieldError(plain.text, 'plan-edit', 'analyticsRetentionDays'), 'Must be 1 or more.');
    assert.equal(valueOf(plain.text, 'plan-edit-analyticsRetentionDays'), '-1');
    assert.equal((await instanceAudit('plan.update')).length, updates, 'nothing saved');

    // Webhooks back on, analytics off; links blank (no limit any more), QR codes limited.
    const good = { intent: 'plan.update', name: 'Team', ...planForm({ links: '', members: '10', qrCodes: '50', analyticsRetentionDays: '30' }) };
    const res = await postPlan(admin, good, ['api', 'webhooks', 'qr'], 'htmx');
    assert.equal(res.headers.get('hx-redirect'), '/admin/instance');
    assert.deepEqual(await planOfWorkspace(t.store.db, globex), {
      name: 'Team',
      features: { api: true, webhooks: true, qr: true, analytics: false },
      limits: { members: 10, qrCodes: 50, analyticsRetentionDays: 30 },
    });
    assert.match((await admin.get('/admin/instance')).text, /Saved the Team plan\./);
    const entries = await instanceAudit('plan.update');
    assert.equal(entries.length, updates + 1);
    assert.equal(entries[0]!.actor_type, 'user');

    // The same values again: nothing to save, nothing in the audit log.
    const again = await postPlan(admin, good, ['api', 'webhooks', 'qr'], 'plain');
    assert.equal(again.status, 303);
    assert.match((await admin.get('/admin/instance')).text, /Nothing changed in the Team plan\./);
    assert.equal((await instanceAudit('plan.update')).length, updates + 1);

    assert.equal((await postPlan(admin, { ...good, name: 'Platinum' }, [], 'htmx')).status, 404, 'an unknown plan');
    assert.equal((await admin.request('POST', '/admin/instance', { form: good })).status, 403, 'no CSRF token');
    assert.equal((await planOfWorkspace(t.store.db, globex)).limits.qrCodes, 50);
  });

  test('instance settings: raw user agents are kept only once the checkbox says so; audited by the store', async () => {
    const admin = await new AdminClient(t.url).signIn(ROOT_ADMIN, PASSWORD, '/admin/instance');
    const page = await admin.get('/admin/instance');
    assert.match(page.text, /<input type="checkbox" id="keepUserAgents" name="keepUserAgents" value="on" aria-describedby/, 'off by default');
    assert.match(textOf(page.text, 'instance-settings')!, /Keep each click's raw user agent .* device, browser and OS classes are always kept/);

    const link = await createLink(t.server.deps, (await requireWorkspace(t.store, 'Acme')).id, TEST_OPERATOR, { url: 'https://example.com/ua', slug: 'ua-test' });
    const agentsOfClicks = async () =>
      (await t.store.db.rows<{ user_agent: string | null }>('select user_agent from clicks where link_id = ? order by id', link.id)).map((r) => r.user_agent);
    const click = async () => {
      assert.equal((await t.request('GET', '/ua-test', { headers: { 'user-agent': FIREFOX } })).status, 302);
      await t.flushClicks();
    };
    await click();

    const on = await admin.htmx('/admin/instance', { intent: 'settings', keepUserAgents: 'on' });
    assert.equal(on.headers.get('hx-redirect'), '/admin/instance');
    assert.equal(t.server.deps.instanceSettings.get().keepUserAgents, true);
    const shown = await admin.get('/admin/instance');
    assert.match(shown.text, /New clicks keep their raw user agent from now on\./);
    assert.match(shown.text, /id="keepUserAgents" name="keepUserAgents" value="on" checked/);
    await click();
    const [entry] = await instanceAudit('instance.settings');
    assert.equal(entry?.actor_type, 'user');
    assert.deepEqual(JSON.parse(entry!.summary), { keepUserAgents: { from: false, to: true } });

    // An unticked box is absent from the body: off again, without JavaScript.
    const off = await admin.post('/admin/instance', { intent: 'settings' });
    assert.equal(off.status, 303);
    assert.equal(t.server.deps.instanceSettings.get().keepUserAgents, false);
    assert.match((await admin.get('/admin/instance')).text, /New clicks no longer keep their raw user agent\./);
    await click();
    assert.deepEqual(await agentsOfClicks(), [null, FIREFOX, null], 'only the click made while the setting was on');
    assert.equal((await instanceAudit('instance.settings')).length, 2);

    await admin.post('/admin/instance', { intent: 'settings' });
    assert.match((await admin.get('/admin/instance')).text, /Nothing changed in the instance settings\./);
    assert.equal((await instanceAudit('instance.settings')).length, 2, 'no change, no entry');
    assert.equal((await admin.request('POST', '/admin/instance', { form: { intent: 'settings', keepUserAgents: 'on' } })).status, 403, 'no CSRF token');
    assert.equal(t.server.deps.instanceSettings.get().keepUserAgents, false);
  });

  test('anyone else is refused, and the sidebar has no Instance entry for them', async () => {
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/links');
    assert.doesNotMatch((await owner.get('/admin/links')).text, /href="\/admin\/instance"/);
    const page = await owner.get('/admin/instance');
    assert.equal(page.status, 403);
    assert.match(page.text, /Only instance admins can do this\./);
    assert.equal((await owner.get('/admin/instance?edit=Team', { 'hx-request': 'true' })).status, 403);
    const posts: Record<string, string>[] = [
      { intent: 'workspace-plan', workspace: globex, plan: 'default' },
      { intent: 'plan.create', ...planForm({ name: 'Mine' }) },
      { intent: 'plan.update', name: 'Team', ...planForm() },
      { intent: 'settings', keepUserAgents: 'on' },
    ];
    for (const form of posts) {
      const res = await owner.post('/admin/instance', form);
      assert.equal(res.status, 403, form.intent);
      assert.match(res.text, /Only instance admins can do this\./, `${form.intent}: refused for the role, not the CSRF token`);
    }
    assert.equal((await planOfWorkspace(t.store.db, globex)).name, 'Team');
    assert.equal((await listPlans(t.store.db)).find((p) => p.name === 'Mine'), undefined);
    assert.equal((await planOfWorkspace(t.store.db, globex)).limits.qrCodes, 50, 'Team unchanged');
    assert.equal(t.server.deps.instanceSettings.get().keepUserAgents, false);

    // A user in no workspace reaches the Instance path, and is refused there too.
    const loner = new AdminClient(t.url);
    await loner.signIn(LONER, PASSWORD, '/admin/links');
    assert.equal((await loner.get('/admin/instance')).status, 403);
    const refused = await loner.post('/admin/instance', { intent: 'settings', keepUserAgents: 'on' });
    assert.equal(refused.status, 403);
    assert.match(refused.text, /Only instance admins can do this\./);
  });
});
