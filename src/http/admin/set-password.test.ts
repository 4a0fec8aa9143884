import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { listAudit } from '../../audit/audit.js';
import { PASSWORD_TOKEN_TTL_MS } from '../../users/password-tokens.js';
import { createUser } from '../../users/users.service.js';
import { listMembers } from '../../workspaces/members.service.js';
import { requireWorkspace } from '../../workspaces/workspaces.service.js';
import { AdminClient, fieldError, textOf } from '../../testing/admin-client.js';
import { fakeClock, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';

const PASSWORD = 'correct horse battery';
const OWNER = 'olga@example.com';
const VIEWER = 'vera@example.com';
const HOUR = 3_600_000;

/** The one-time link on the page, as a path. */
const linkOf = (html: string) => {
  const url = /id="invite-link"[^>]*value="([^"]+)"/.exec(html)?.[1];
  assert.ok(url, 'a password link is shown');
  return new URL(url).pathname + new URL(url).search;
};

describe('Team: create a user with a one-time password link', () => {
  const clock = fakeClock(Date.UTC(2030, 2, 1, 9));
  let t: TestServer;
  let acme: string;

  before(async () => {
    t = await startTestServer({ clock });
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    await createUser(t.store, TEST_OPERATOR, { email: VIEWER, password: PASSWORD, workspace: 'Acme', role: 'viewer' });
    acme = (await requireWorkspace(t.store, 'Acme')).id;
  });
  after(() => t.close());

  test('the owner creates a user; the link sets a password once; then they sign in', async () => {
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/team');
    const res = await owner.htmx('/admin/team/invite', { 'invite-email': 'New.Person@example.com', role: 'member' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('hx-trigger'), 'members-changed');
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(textOf(res.text, 'member-invite')!, /new\.person@example\.com can now join\. .* it works once, for 24 hours/);
    const link = linkOf(res.text);
    const token = new URL(link, t.url).searchParams.get('token')!;
    assert.equal((await listMembers(t.store.db, acme)).find((m) => m.email === 'new.person@example.com')?.role, 'member');
    assert.deepEqual((await listAudit(t.store.db, acme, 2)).map((e) => e.action), ['user.invite', 'member.add']);

    // Only the token's hash is stored; the page is gone from the team page on reload.
    const stored = (await t.store.db.rows<{ id: string }>('select id from password_tokens')).map((r) => r.id);
    assert.deepEqual(stored, [createHash('sha256').update(token).digest('hex')]);
    assert.doesNotMatch((await owner.get('/admin/team')).text, /invite-link/);

    const visitor = new AdminClient(t.url);
    const form = await visitor.get(link);
    assert.equal(form.status, 200);
    assert.equal(form.headers.get('referrer-policy'), 'no-referrer');
    assert.match(form.text, /<h1>Choose a password<\/h1>/);
    assert.match(form.text, /For new\.person@example\.com\./);

    const cases = [
      { password: 'short', confirm: 'short', field: 'password', error: 'Must be at least 10 characters.' },
      { password: 'a long new password', confirm: 'another one', field: 'confirm', error: 'The two passwords differ.' },
    ];
    for (const c of cases) {
      const bad = await visitor.request('POST', '/admin/set-password', { form: { token, password: c.password, confirm: c.confirm } });
      assert.equal(bad.status, 422);
      assert.equal(fieldError(bad.text, c.field), c.error);
    }

    const done = await visitor.request('POST', '/admin/set-password', { form: { token, password: 'a long new password', confirm: 'a long new password' } });
    assert.equal(done.status, 200, done.text);
    assert.match(done.text, /<h1>Password set<\/h1>/);
    assert.equal(visitor.cookies.get('linkqr_session'), undefined, 'signs nobody in');
    await new AdminClient(t.url).signIn('new.person@example.com', 'a long new password', '/admin/team');

    // The link is void once used.
    for (const again of [await visitor.get(link), await visitor.request('POST', '/admin/set-password', { form: { token, password: 'yet another password', confirm: 'yet another password' } })]) {
      assert.equal(again.status, 410);
      assert.match(again.text, /Link no longer valid/);
    }
  });

  test('a link is good for 24 hours', async () => {
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/team');
    const link = linkOf((await owner.post('/admin/team/invite', { 'invite-email': 'late@example.com', role: 'viewer' })).text);
    clock.advance(PASSWORD_TOKEN_TTL_MS - HOUR);
    assert.equal((await t.request('GET', link)).status, 200);
    clock.advance(HOUR);
    assert.equal((await t.request('GET', link)).status, 410);
    for (const bogus of ['/admin/set-password', '/admin/set-password?token=nope', `/admin/set-password?token=${'A'.repeat(43)}`]) {
      assert.equal((await t.request('GET', bogus)).status, 410, bogus);
    }
  });

  test('the create form: errors beside the fields; viewers and CSRF-less posts refused', async () => {
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/team');
    const cases = [
      { form: { 'invite-email': 'nope', role: 'member' }, field: 'invite-email', error: 'Enter the email address of the new user.' },
      { form: { 'invite-email': VIEWER, role: 'member' }, field: 'invite-email', error: 'This person already has an account: add them by email instead.' },
      { form: { 'invite-email': 'x@example.com', role: 'king' }, field: 'invite-role', error: 'Choose one of owner, admin, member, viewer.' },
    ];
    for (const c of cases) {
      for (const send of [owner.htmx, owner.post]) {
        const res = await send('/admin/team/invite', c.form);
        assert.equal(res.status, 422);
        assert.equal(fieldError(res.text, c.field), c.error);
      }
    }
    assert.equal((await owner.request('POST', '/admin/team/invite', { form: { 'invite-email': 'x@example.com', role: 'member' } })).status, 403);
    const viewer = await new AdminClient(t.url).signIn(VIEWER, PASSWORD, '/admin/team');
    assert.doesNotMatch((await viewer.get('/admin/team')).text, /member-invite/);
    assert.equal((await viewer.post('/admin/team/invite', { 'invite-email': 'x@example.com', role: 'member' })).status, 403);
    assert.equal((await t.store.db.row<{ n: number }>(`select count(*) as n from users where email = 'x@example.com'`))!.n, 0);
  });
});
