import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listAudit } from '../../audit/audit.js';
import { createUser } from '../../users/users.service.js';
import { planOfWorkspace, upsertPlan } from '../../workspaces/plans.js';
import { requireWorkspace } from '../../workspaces/workspaces.service.js';
import { AdminClient, textOf } from '../../testing/admin-client.js';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';

const PASSWORD = 'correct horse battery';
const ROOT_ADMIN = 'root@example.com';
const OWNER = 'olga@example.com';
const LONER = 'lone@example.com';

describe('admin Instance page (instance admins only)', () => {
  let t: TestServer;
  let globex: string;

  before(async () => {
    t = await startTestServer();
    // The first user is the instance admin.
    await createUser(t.store, TEST_OPERATOR, { email: ROOT_ADMIN, password: PASSWORD, workspace: 'Acme' });
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Globex' });
    await createUser(t.store, TEST_OPERATOR, { email: LONER, password: PASSWORD });
    upsertPlan(t.store.db, TEST_OPERATOR, 'Team', { features: { webhooks: false }, limits: { links: 1000, members: 10 } }, Date.now());
    globex = requireWorkspace(t.store, 'Globex').id;
  });
  after(() => t.close());

  test('lists users, workspaces and plans; the plan of a workspace changes from its row', async () => {
    const admin = await new AdminClient(t.url).signIn(ROOT_ADMIN, PASSWORD, '/admin/instance');
    const page = await admin.get('/admin/instance');
    assert.equal(page.status, 200);
    assert.match(textOf(page.text, 'users-table')!, new RegExp(`${LONER} None .*${OWNER} Globex · owner .*${ROOT_ADMIN} Instance admin Acme · owner`));
    assert.match(textOf(page.text, `workspace-${globex}`)!, /Globex wsp_\S+ .* 1 0 \d{4}-\d\d-\d\d/);
    assert.match(page.text, new RegExp(`id="plan-${globex}"[\\s\\S]*?<option value="default" selected>`));
    assert.match(textOf(page.text, 'plans-table')!, /Team 0 workspaces api webhooks qr analytics 1,000 ∞ ∞ 10 ∞ ∞ ∞/);
    assert.match(page.text, /<span class="tag tag-off">webhooks<\/span>/);

    const res = await admin.htmx('/admin/instance', { workspace: globex, plan: 'Team' });
    assert.equal(res.headers.get('hx-redirect'), '/admin/instance');
    assert.equal(planOfWorkspace(t.store.db, globex).name, 'Team');
    assert.match((await admin.get('/admin/instance')).text, /Globex is on the Team plan\./);
    const entry = listAudit(t.store.db, globex, 1)[0]!;
    assert.equal(entry.action, 'workspace.set_plan');
    assert.deepEqual(entry.summary, { plan: { from: 'default', to: 'Team' } });
    assert.match(entry.actor, /^user:usr_/);

    assert.equal((await admin.post('/admin/instance', { workspace: 'wsp_nope', plan: 'Team' })).status, 404);
    assert.equal((await admin.post('/admin/instance', { workspace: globex, plan: 'Platinum' })).status, 404);
    assert.equal((await admin.request('POST', '/admin/instance', { form: { workspace: globex, plan: 'default' } })).status, 403, 'no CSRF token');
    assert.equal(planOfWorkspace(t.store.db, globex).name, 'Team');
  });

  test('anyone else is refused, and the sidebar has no Instance entry for them', async () => {
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/links');
    assert.doesNotMatch((await owner.get('/admin/links')).text, /href="\/admin\/instance"/);
    const page = await owner.get('/admin/instance');
    assert.equal(page.status, 403);
    assert.match(page.text, /Only instance admins can do this\./);
    assert.equal((await owner.post('/admin/instance', { workspace: globex, plan: 'default' })).status, 403);
    assert.equal(planOfWorkspace(t.store.db, globex).name, 'Team');
  });
});
