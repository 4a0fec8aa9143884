import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listAudit } from '../../audit/audit.js';
import { createUser } from '../../users/users.service.js';
import { upsertPlan } from '../../workspaces/plans.js';
import { listMembers } from '../../workspaces/members.service.js';
import { setWorkspacePlan } from '../../workspaces/plans.js';
import { requireWorkspace } from '../../workspaces/workspaces.service.js';
import { AdminClient, fieldError, textOf } from '../../testing/admin-client.js';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';

const PASSWORD = 'correct horse battery';
const OWNER = 'olga@example.com';
const ADMIN = 'adam@example.com';
const VIEWER = 'vera@example.com';
const NEWCOMER = 'nina@example.com';
const OUTSIDER = 'otto@example.com';

describe('admin Team page: members and roles', () => {
  let t: TestServer;
  let acme: string;
  let outsiderId: string;
  const idOf = async (email: string) => (await listMembers(t.store.db, acme)).find((m) => m.email === email)?.userId;
  const roleIn = async (email: string) => (await listMembers(t.store.db, acme)).find((m) => m.email === email)?.role;

  before(async () => {
    t = await startTestServer();
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    await createUser(t.store, TEST_OPERATOR, { email: ADMIN, password: PASSWORD, workspace: 'Acme', role: 'admin' });
    await createUser(t.store, TEST_OPERATOR, { email: VIEWER, password: PASSWORD, workspace: 'Acme', role: 'viewer' });
    await createUser(t.store, TEST_OPERATOR, { email: NEWCOMER, password: PASSWORD });
    outsiderId = (await createUser(t.store, TEST_OPERATOR, { email: OUTSIDER, password: PASSWORD, workspace: 'Globex' })).user.id;
    acme = (await requireWorkspace(t.store, 'Acme')).id;
  });
  after(() => t.close());

  test('the owner adds a member by email with htmx, changes their role, and removes them', async () => {
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/team');
    const page = await owner.get('/admin/team');
    assert.match(textOf(page.text, 'members-table')!, new RegExp(`${ADMIN} .*${OWNER} You .*${VIEWER}`));
    assert.ok(textOf(page.text, 'member-add'), 'the add form is there');

    const added = await owner.htmx('/admin/team', { email: ` ${NEWCOMER.toUpperCase()} `, role: 'member' });
    assert.equal(added.status, 200, added.text);
    assert.equal(added.headers.get('hx-trigger'), 'members-changed', 'the members table reloads');
    assert.match(textOf(added.text, 'member-add')!, new RegExp(`${NEWCOMER} joined Acme as member\\.`));
    assert.equal(await roleIn(NEWCOMER), 'member');
    const table = await owner.get('/admin/team/members');
    assert.ok(textOf(table.text, `member-${await idOf(NEWCOMER)}`)?.includes(NEWCOMER), 'the fragment lists the newcomer');

    const promoted = await owner.htmx(`/admin/team/${await idOf(NEWCOMER)}/role`, { role: 'admin' });
    assert.equal(promoted.status, 200, promoted.text);
    assert.match(promoted.text, new RegExp(`${NEWCOMER} is now admin\\.`));
    assert.match(promoted.text, new RegExp(`id="role-${await idOf(NEWCOMER)}"[\\s\\S]*?<option value="admin" selected>`));
    assert.equal(await roleIn(NEWCOMER), 'admin');

    const id = (await idOf(NEWCOMER))!;
    const removed = await owner.htmx(`/admin/team/${id}/remove`, {});
    assert.equal(removed.status, 200, removed.text);
    assert.equal(textOf(removed.text, `member-${id}`), undefined, 'gone from the table');
    assert.equal(await roleIn(NEWCOMER), undefined);

    const actions = (await listAudit(t.store.db, acme, 10)).map((e) => e.action);
    assert.deepEqual(actions.slice(0, 3), ['member.remove', 'member.role', 'member.add'], 'each change audited');
    const entry = (await listAudit(t.store.db, acme, 3)).find((e) => e.action === 'member.add')!;
    assert.equal(entry.actor, `user:${await idOf(OWNER)}`);
  });

  test('without htmx, the same forms redirect back to the page with a flash message', async () => {
    const admin = await new AdminClient(t.url).signIn(ADMIN, PASSWORD, '/admin/team');
    const res = await admin.post('/admin/team', { email: NEWCOMER, role: 'viewer' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/admin/team');
    assert.match((await admin.get('/admin/team')).text, new RegExp(`${NEWCOMER} joined Acme as viewer\\.`));
    const removed = await admin.post(`/admin/team/${await idOf(NEWCOMER)}/remove`, {});
    assert.equal(removed.status, 303);
    assert.match((await admin.get('/admin/team')).text, new RegExp(`${NEWCOMER} was removed from Acme\\.`));
  });

  test('the add form comes back with the message beside the field', async () => {
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/team');
    const cases = [
      { form: { email: '', role: 'member' }, field: 'email', message: /Enter the email address/ },
      { form: { email: 'not-an-email', role: 'member' }, field: 'email', message: /Enter the email address/ },
      { form: { email: 'ghost@example.com', role: 'member' }, field: 'email', message: /Nobody with this email has an account here/ },
      { form: { email: ADMIN, role: 'member' }, field: 'email', message: new RegExp(`${ADMIN} is already a member`) },
      { form: { email: NEWCOMER, role: 'emperor' }, field: 'add-role', message: /Choose one of owner, admin, member, viewer/ },
    ];
    for (const { form, field, message } of cases) {
      for (const send of [owner.htmx, owner.post]) {
        const res = await send(`/admin/team`, form);
        assert.equal(res.status, 422, `${JSON.stringify(form)}: ${res.text.slice(0, 200)}`);
        assert.match(fieldError(res.text, field) ?? '', message, JSON.stringify(form));
        assert.match(res.text, new RegExp(`name="email"[^>]*value="${form.email}"`), 'the email is kept');
      }
    }
    // htmx gets the form alone; a plain post, the whole page.
    assert.doesNotMatch((await owner.htmx('/admin/team', cases[0]!.form)).text, /<html/);
    assert.match((await owner.post('/admin/team', cases[0]!.form)).text, /<html/);
    assert.equal(await roleIn(NEWCOMER), undefined, 'nobody was added');
  });

  test('the plan limit on members is shown in the form', async () => {
    await upsertPlan(t.store.db, TEST_OPERATOR, 'Trio', { features: {}, limits: { members: 3 } }, Date.now());
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, acme, 'Trio', Date.now());
    try {
      const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/team');
      const res = await owner.htmx('/admin/team', { email: NEWCOMER, role: 'member' });
      assert.equal(res.status, 422);
      assert.match(res.text, /<p class="alert" role="alert">The &quot;Trio&quot; plan allows 3 members; this workspace has 3\./);
    } finally {
      await setWorkspacePlan(t.store.db, TEST_OPERATOR, acme, 'default', Date.now());
    }
  });

  test('the last owner can be neither demoted nor removed: the table says why', async () => {
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/team');
    const me = (await idOf(OWNER))!;
    const page = await owner.get('/admin/team');
    for (const [path, form] of [[`/admin/team/${me}/role`, { role: 'admin' }], [`/admin/team/${me}/remove`, {}]] as const) {
      const frag = await owner.htmx(path, form);
      assert.equal(frag.status, 422, frag.text);
      assert.equal(textOf(frag.text, 'members')?.includes('This is the only owner of the workspace: make someone else owner first.'), true);
      const plain = await owner.post(path, form);
      assert.equal(plain.status, 409);
      assert.match(plain.text, /<p class="alert" role="alert">This is the only owner of the workspace/);
    }
    assert.equal(await roleIn(OWNER), 'owner');
    assert.ok(page.text.includes(`id="member-${me}"`));

    // With a second owner, the first may step down.
    assert.equal((await owner.htmx(`/admin/team/${await idOf(ADMIN)}/role`, { role: 'owner' })).status, 200);
    assert.equal((await owner.htmx(`/admin/team/${me}/role`, { role: 'admin' })).status, 200);
    assert.equal(await roleIn(OWNER), 'admin');
    const adam = await new AdminClient(t.url).signIn(ADMIN, PASSWORD, '/admin/team');
    assert.equal((await adam.htmx(`/admin/team/${me}/role`, { role: 'owner' })).status, 200);
    assert.equal((await adam.htmx(`/admin/team/${await idOf(ADMIN)}/role`, { role: 'admin' })).status, 200);
    assert.equal(await roleIn(ADMIN), 'admin');
  });

  test('an admin manages members but not owners: no owner option, no controls on owner rows, posts refused', async () => {
    const admin = await new AdminClient(t.url).signIn(ADMIN, PASSWORD, '/admin/team');
    const page = await admin.get('/admin/team');
    const me = (await idOf(ADMIN))!;
    const owner = (await idOf(OWNER))!;
    assert.doesNotMatch(page.text, /<option value="owner"/, 'owner is not offered');
    assert.match(page.text, new RegExp(`id="role-${me}"`), 'the admin row is editable');
    assert.doesNotMatch(page.text, new RegExp(`id="role-${owner}"|/admin/team/${owner}/remove`), 'the owner row is not');
    const refused = [
      ['/admin/team', { email: NEWCOMER, role: 'owner' }],
      ['/admin/team/invite', { 'invite-email': 'boss@example.com', role: 'owner' }],
      [`/admin/team/${me}/role`, { role: 'owner' }],
      [`/admin/team/${owner}/role`, { role: 'viewer' }],
      [`/admin/team/${owner}/remove`, {}],
    ] as const;
    for (const [path, form] of refused) {
      const res = await admin.post(path, form);
      assert.equal(res.status, 403, path);
      assert.match(res.text, /Only an owner can grant, change or remove the owner role\./);
    }
    assert.equal(await roleIn(ADMIN), 'admin');
    assert.equal(await roleIn(OWNER), 'owner');
    assert.equal(await roleIn(NEWCOMER), undefined);
    assert.equal((await t.store.db.row<{ n: number }>(`select count(*) as n from users where email = 'boss@example.com'`))!.n, 0);
  });

  test('a viewer reads the list without controls, and the server refuses their posts', async () => {
    const viewer = await new AdminClient(t.url).signIn(VIEWER, PASSWORD, '/admin/team');
    const page = await viewer.get('/admin/team');
    assert.equal(page.status, 200);
    assert.ok(textOf(page.text, 'members-table')?.includes(OWNER));
    assert.equal(textOf(page.text, 'member-add'), undefined, 'no add form');
    assert.doesNotMatch(page.text, /\/remove"|\/role"|<select id="role-/, 'no role or remove controls');
    assert.match(page.text, /Only admins and owners can add, change or remove members\./);
    const owner = (await idOf(OWNER))!;
    for (const [path, form] of [['/admin/team', { email: NEWCOMER, role: 'owner' }], [`/admin/team/${await idOf(ADMIN)}/role`, { role: 'viewer' }], [`/admin/team/${owner}/remove`, {}]] as const) {
      const res = await viewer.post(path, form);
      assert.equal(res.status, 403, path);
      assert.match(res.text, /Your role \(viewer\) cannot manage members\./);
      assert.doesNotMatch(res.text, /members\.manage/, 'no action id');
    }
    assert.equal(await roleIn(ADMIN), 'admin');
    assert.equal(await roleIn(NEWCOMER), undefined);
  });

  test('a member of another workspace is not found; a post without the CSRF token is refused', async () => {
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/team');
    for (const path of [`/admin/team/${outsiderId}/role`, `/admin/team/${outsiderId}/remove`, '/admin/team/usr_nobody/remove']) {
      const res = await owner.htmx(path, { role: 'viewer' });
      assert.equal(res.status, 404, path);
    }
    assert.equal((await listMembers(t.store.db, (await requireWorkspace(t.store, 'Globex')).id))[0]?.role, 'owner', 'untouched');

    for (const form of [{ email: NEWCOMER, role: 'member' }, { email: NEWCOMER, role: 'member', _csrf: 'forged' }] as Record<string, string>[]) {
      const res = await owner.request('POST', '/admin/team', { form });
      assert.equal(res.status, 403);
    }
    assert.equal(await roleIn(NEWCOMER), undefined);
  });

  test('once the user is created, the add form no longer says nobody has that email', async () => {
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/team');
    const ghost = 'ghost.two@example.com';
    const unknown = await owner.htmx('/admin/team', { email: ghost, role: 'member' });
    assert.equal(unknown.status, 422);
    assert.match(fieldError(unknown.text, 'email') ?? '', /Nobody with this email has an account here: create one below\./);

    const created = await owner.htmx('/admin/team/invite', { 'invite-email': ghost, role: 'member' });
    assert.equal(created.status, 200, created.text);
    assert.match(textOf(created.text, 'member-invite')!, /ghost\.two@example\.com can now join/);
    // The add form comes along, out of band, as new: its hint was about someone who now exists.
    const addForm = /<section id="member-add"[^>]*>[^]*?<\/section>/.exec(created.text)?.[0] ?? '';
    assert.match(addForm, /^<section id="member-add"[^>]* hx-swap-oob="true">/);
    assert.equal(fieldError(addForm, 'email'), undefined, 'no message beside the email');
    assert.doesNotMatch(addForm, /Nobody with this email/);
    assert.match(addForm, /name="email"[^>]*value=""/);
    assert.equal(await roleIn(ghost), 'member');

    await owner.htmx(`/admin/team/${await idOf(ghost)}/remove`, {});
    assert.equal(await roleIn(ghost), undefined);
  });
});
