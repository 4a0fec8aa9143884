import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listAudit } from '../../audit/audit.js';
import { RESET_REQUESTS_PER_ADDRESS, RESET_REQUESTS_PER_EMAIL, RESET_WINDOW_MS } from '../../users/reset-throttle.js';
import { createUser } from '../../users/users.service.js';
import { addMember, listMembers } from '../../workspaces/members.service.js';
import { requireWorkspace } from '../../workspaces/workspaces.service.js';
import { AdminClient, fieldError, textOf } from '../../testing/admin-client.js';
import { fakeClock, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';
import { passwordLinkIn, startSmtpServer, type TestSmtpServer } from '../../testing/smtp.js';

const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'a brand new passphrase';
const ROOT = 'root@example.com'; // the first user: instance admin
const OWNER = 'olga@example.com';
const ADMIN = 'adam@example.com';
const MEMBER = 'mia@example.com';
const SHARED = 'sam@example.com'; // also in a workspace Olga does not own
const FROM = 'LinkQR <linkqr@example.com>';

/** The reset link the Team page shows, as a path. */
const shownLink = (html: string) => {
  const url = /id="reset-link"[^>]*value="([^"]+)"/.exec(html)?.[1];
  assert.ok(url, 'a reset link is shown');
  return new URL(url).pathname + new URL(url).search;
};

/** Sets a password through a link, as the person who got it would. */
async function usePasswordLink(t: TestServer, path: string, password: string) {
  const visitor = new AdminClient(t.url);
  const form = await visitor.get(path);
  assert.equal(form.status, 200, form.text);
  const token = new URL(path, t.url).searchParams.get('token')!;
  const done = await visitor.request('POST', '/admin/set-password', { form: { token, password, confirm: password } });
  assert.equal(done.status, 200, done.text);
  assert.match(done.text, /<h1>Password set<\/h1>/);
  assert.match(done.text, /every session of this account has ended/);
}

/** Whether a client's session still opens admin pages. */
const signedIn = async (client: AdminClient) => (await client.get('/admin/links')).status === 200;

async function team(t: TestServer) {
  await createUser(t.store, TEST_OPERATOR, { email: ROOT, password: PASSWORD, workspace: 'Root' });
  await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
  await createUser(t.store, TEST_OPERATOR, { email: ADMIN, password: PASSWORD, workspace: 'Acme', role: 'admin' });
  await createUser(t.store, TEST_OPERATOR, { email: MEMBER, password: PASSWORD, workspace: 'Acme', role: 'member' });
  await createUser(t.store, TEST_OPERATOR, { email: SHARED, password: PASSWORD, workspace: 'Acme', role: 'member' });
  const acme = (await requireWorkspace(t.store, 'Acme')).id;
  await addMember(t.store, TEST_OPERATOR, (await requireWorkspace(t.store, 'Root')).id, SHARED, 'viewer');
  await addMember(t.store, TEST_OPERATOR, acme, ROOT, 'viewer');
  return { acme, idOf: async (email: string) => (await listMembers(t.store.db, acme)).find((m) => m.email === email)!.userId };
}

describe('password resets with mail configured', () => {
  const clock = fakeClock(Date.UTC(2030, 4, 1, 9));
  let smtp: TestSmtpServer;
  let t: TestServer;
  let acme: string;
  let idOf: (email: string) => Promise<string>;
  const mailsTo = (email: string) => smtp.messages.filter((m) => m.to.includes(email));

  before(async () => {
    smtp = await startSmtpServer();
    t = await startTestServer({ clock, env: { LINKQR_SMTP_URL: smtp.url, LINKQR_MAIL_FROM: FROM } });
    ({ acme, idOf } = await team(t));
  });
  after(async () => {
    await t.close();
    await smtp.close();
  });

  test('an owner emails a member a reset link; it sets a new password once, ends their sessions, and is audited', async () => {
    const member = await new AdminClient(t.url).signIn(MEMBER, PASSWORD);
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/team');
    const page = await owner.get('/admin/team');
    assert.match(page.text, new RegExp(`action="/admin/team/${await idOf(MEMBER)}/reset-password"`));
    assert.match(page.text, new RegExp(`Email ${MEMBER} a link to choose a new password\\?`));

    const res = await owner.htmx(`/admin/team/${await idOf(MEMBER)}/reset-password`, {});
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(textOf(res.text, 'reset-result'), `A password reset link was emailed to ${MEMBER}. Their password keeps working until they use the link.`);
    assert.doesNotMatch(res.text, /id="reset-link"/, 'a mailed link is not shown to the owner');

    const [mail] = mailsTo(MEMBER);
    assert.ok(mail, 'the member got a mail');
    assert.equal(mail.from, 'linkqr@example.com');
    assert.equal(mail.headers.from, FROM);
    assert.equal(mail.subject, 'Reset your LinkQR password');
    assert.match(mail.text, /It works once, within 24 hours, and signs you out everywhere/);
    const link = passwordLinkIn(mail);
    assert.ok(link.url.startsWith(`${t.url}/admin/set-password?token=`), link.url);

    assert.ok(await signedIn(member), 'the password keeps working until the link is used');
    await usePasswordLink(t, link.path, NEW_PASSWORD);
    assert.equal(await signedIn(member), false, 'the old session ended');
    assert.equal((await t.request('GET', link.path)).status, 410, 'the link works once');
    const refused = new AdminClient(t.url);
    await refused.get('/admin/login');
    assert.equal((await refused.request('POST', '/admin/login', { form: { email: MEMBER, password: PASSWORD, _csrf: refused.csrf! } })).status, 400, 'the old password is gone');
    await new AdminClient(t.url).signIn(MEMBER, NEW_PASSWORD);

    const [set, issued] = await listAudit(t.store.db, acme, 2);
    assert.equal(set!.action, 'user.password_set');
    assert.equal(set!.actor, 'operator:password-link');
    assert.deepEqual(set!.summary, { email: MEMBER, sessionsEnded: 1 });
    assert.equal(issued!.action, 'user.password_reset_issued');
    assert.equal(issued!.actor, `user:${await idOf(OWNER)}`);
    assert.deepEqual(issued!.summary, { email: MEMBER, via: 'team page', delivery: 'email' });

    // Neither the SMTP password nor the link's token reach the log.
    const log = t.logs.join('\n');
    assert.ok(!log.includes(smtp.password), 'the SMTP password is in the log');
    assert.ok(!log.includes(link.token), 'the token is in the log');
    assert.match(log, /"msg":"invitations and password resets are sent by mail"/);
  });

  test('an admin who is not an owner gets no reset button and is refused', async () => {
    const admin = await new AdminClient(t.url).signIn(ADMIN, PASSWORD, '/admin/team');
    assert.doesNotMatch((await admin.get('/admin/team')).text, /reset-password/);
    const res = await admin.post(`/admin/team/${await idOf(MEMBER)}/reset-password`, {});
    assert.equal(res.status, 403);
    assert.match(res.text, /Only an owner of the workspace or an instance admin can reset a member&#39;s password\./);
  });

  test('with mail, an owner may reset anyone of the workspace: the link goes to them, not to the owner', async () => {
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/team');
    const before = mailsTo(SHARED).length;
    const res = await owner.htmx(`/admin/team/${await idOf(SHARED)}/reset-password`, {});
    assert.equal(res.status, 200, res.text);
    assert.doesNotMatch(res.text, /id="reset-link"/);
    assert.equal(mailsTo(SHARED).length, before + 1);
  });

  test('invitations are emailed too, and the link is still shown once', async () => {
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/team');
    const res = await owner.htmx('/admin/team/invite', { 'invite-email': 'nora@example.com', role: 'viewer' });
    assert.equal(res.status, 200, res.text);
    assert.match(textOf(res.text, 'member-invite')!, /nora@example\.com can now join: we emailed them a link to choose a password\. It works once, for 24 hours/);
    const [mail] = mailsTo('nora@example.com');
    assert.ok(mail);
    assert.equal(mail.subject, 'You have been invited to Acme on LinkQR');
    assert.match(mail.text, new RegExp(`${OWNER} created a LinkQR account for you \\(nora@example\\.com\\) on ${t.url}, as viewer of the workspace "Acme"`));
    const shown = /id="invite-link"[^>]*value="([^"]+)"/.exec(res.text)?.[1];
    assert.equal(passwordLinkIn(mail).url, shown);
  });

  test('a mail the server refuses: the admin reads why (never a 500), the log has no secret', async () => {
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/team');
    smtp.refused.add(MEMBER);
    smtp.refused.add('lost@example.com');
    try {
      for (const send of [owner.htmx, owner.post]) {
        const res = await send(`/admin/team/${await idOf(MEMBER)}/reset-password`, {});
        assert.equal(res.status, 200, res.text);
        assert.match(
          textOf(res.text, 'reset-result')!,
          new RegExp(`^The reset link could not be emailed to ${MEMBER}: the mail server refused the message \\(.*550.*\\)\\. Send them the link below yourself\\.$`),
        );
        // Mia belongs to Acme only: Olga may hand the link over herself.
        shownLink(res.text);
      }
      const invite = await owner.htmx('/admin/team/invite', { 'invite-email': 'lost@example.com', role: 'member' });
      assert.equal(invite.status, 200, invite.text);
      assert.match(textOf(invite.text, 'invite-mail-error')!, /^The invitation could not be emailed: the mail server refused the message \(.*\)\. Send them the link below yourself\.$/);
      assert.match(invite.text, /id="invite-link"/);

      // Sam is also in Root, which Olga does not own: no link for her, only the reason.
      smtp.refused.add(SHARED);
      const shared = await owner.htmx(`/admin/team/${await idOf(SHARED)}/reset-password`, {});
      assert.equal(shared.status, 200);
      assert.match(textOf(shared.text, 'reset-result')!, /Try again once the mail server works, or ask an instance admin\.$/);
      assert.doesNotMatch(shared.text, /id="reset-link"/);
    } finally {
      smtp.refused.clear();
    }
    const failures = t.logs.filter((l) => l.includes('"msg":"mail not sent"'));
    assert.ok(failures.length >= 3);
    assert.match(failures[0]!, /"responseCode":550/);
    for (const line of failures) assert.ok(!line.includes(smtp.password));
  });

  test('"Forgot your password?" answers alike for known and unknown emails; only a known one gets mail', async () => {
    const login = await t.request('GET', '/admin/login');
    assert.match(login.text, /<a href="\/admin\/forgot-password">Forgot your password\?<\/a>/);

    const client = new AdminClient(t.url);
    const form = await client.get('/admin/forgot-password');
    assert.equal(form.status, 200);
    assert.match(form.text, /<h1>Forgot your password\?<\/h1>/);
    const before = smtp.messages.length;
    const known = await client.post('/admin/forgot-password', { email: ` ${ADMIN.toUpperCase()} ` });
    const unknown = await client.post('/admin/forgot-password', { email: 'nobody@example.com' });
    assert.equal(known.status, 200);
    assert.equal(unknown.status, 200);
    const same = (html: string, email: string) => textOf(html, 'reset-sent')!.replace(email, 'E');
    assert.equal(same(known.text, ADMIN.toUpperCase()), same(unknown.text, 'nobody@example.com'));
    assert.match(textOf(known.text, 'reset-sent')!, /we have sent it a link to choose a new password\. The link works once, within 1 hour\./);

    await t.server.deps.background.settled();
    const sent = smtp.messages.slice(before);
    assert.deepEqual(sent.map((m) => m.to), [[ADMIN]], 'one mail, to the known address');
    const admin = await new AdminClient(t.url).signIn(ADMIN, PASSWORD);
    await usePasswordLink(t, passwordLinkIn(sent[0]!).path, NEW_PASSWORD);
    assert.equal(await signedIn(admin), false);
    const entry = (await listAudit(t.store.db, acme, 2)).find((e) => e.action === 'user.password_reset_issued')!;
    assert.equal(entry.actor, 'operator:forgot-password-page');
    assert.deepEqual(entry.summary, { email: ADMIN, via: 'sign-in page', delivery: 'email' });

    // The link the user asked for works for an hour only.
    await client.post('/admin/forgot-password', { email: ADMIN });
    await t.server.deps.background.settled();
    const late = passwordLinkIn(smtp.messages.at(-1)!);
    clock.advance(RESET_WINDOW_MS);
    assert.equal((await t.request('GET', late.path)).status, 410);
  });

  test('the forgot form: errors beside the field, a post without its token refused', async () => {
    const client = new AdminClient(t.url);
    await client.get('/admin/forgot-password');
    const bad = await client.post('/admin/forgot-password', { email: 'not an email' });
    assert.equal(bad.status, 400);
    assert.equal(fieldError(bad.text, 'email'), 'Enter the email address you sign in with.');
    const forged = await client.request('POST', '/admin/forgot-password', { form: { email: OWNER, _csrf: 'forged' } });
    assert.equal(forged.status, 403);
    assert.match(forged.text, /This form has expired/);
    const cookieless = await t.request('POST', '/admin/forgot-password', { rawBody: `email=${OWNER}&_csrf=${client.csrf}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(cookieless.status, 403);
  });

  test('requests are throttled per email (known or not alike) and per address', async () => {
    clock.advance(RESET_WINDOW_MS); // every earlier request out of the window
    const client = new AdminClient(t.url);
    await client.get('/admin/forgot-password');
    const before = smtp.messages.length;
    for (const email of [OWNER, 'ghost@example.com']) {
      for (let i = 0; i < RESET_REQUESTS_PER_EMAIL; i++) assert.equal((await client.post('/admin/forgot-password', { email })).status, 200);
      const refused = await client.post('/admin/forgot-password', { email: email.toUpperCase() });
      assert.equal(refused.status, 429, email);
      assert.match(refused.text, /Too many reset requests\. Try again in 60 minutes\./);
      assert.equal(refused.headers.get('retry-after'), String(RESET_WINDOW_MS / 1000));
    }
    await t.server.deps.background.settled();
    assert.equal(smtp.messages.length - before, RESET_REQUESTS_PER_EMAIL, 'mails to the known address only, and only as many as allowed');

    // From one address, a few more emails, then none.
    const left = RESET_REQUESTS_PER_ADDRESS - 2 * RESET_REQUESTS_PER_EMAIL;
    for (let i = 0; i < left; i++) assert.equal((await client.post('/admin/forgot-password', { email: `someone${i}@example.com` })).status, 200);
    assert.equal((await client.post('/admin/forgot-password', { email: 'one.more@example.com' })).status, 429);
    clock.advance(RESET_WINDOW_MS);
    assert.equal((await client.post('/admin/forgot-password', { email: 'one.more@example.com' })).status, 200);
  });
});

describe('password resets without mail', () => {
  let t: TestServer;
  let acme: string;
  let idOf: (email: string) => Promise<string>;

  before(async () => {
    t = await startTestServer();
    ({ acme, idOf } = await team(t));
  });
  after(() => t.close());

  test('the sign-in page says whom to ask; the forgot page too, and it sends nothing', async () => {
    const login = await t.request('GET', '/admin/login');
    assert.doesNotMatch(login.text, /href="\/admin\/forgot-password"/);
    assert.match(login.text, /Forgot your password\? Ask an owner of your workspace or an instance admin for a reset link\./);
    const page = await t.request('GET', '/admin/forgot-password');
    assert.equal(page.status, 200);
    assert.match(page.text, /This server sends no mail/);
    assert.match(page.text, /linkqr user reset-password --email/);
    const post = await t.request('POST', '/admin/forgot-password', { rawBody: `email=${OWNER}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(post.status, 303);
    assert.equal((await t.store.db.row<{ n: number }>('select count(*) as n from password_tokens'))!.n, 0);
  });

  test('an owner gets a link to hand over; using it ends the member’s sessions', async () => {
    const member = await new AdminClient(t.url).signIn(MEMBER, PASSWORD);
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/team');
    assert.match((await owner.get('/admin/team')).text, new RegExp(`Make a one-time link for ${MEMBER} to choose a new password\\?`));
    for (const send of [owner.htmx, owner.post]) {
      const res = await send(`/admin/team/${await idOf(MEMBER)}/reset-password`, {});
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.match(textOf(res.text, 'members')!, new RegExp(`A password reset link for ${MEMBER} ?: it works once, for 24 hours, ends every session of theirs when used, and is shown only now\\.`));
      shownLink(res.text);
    }
    // The second link works as well as the first; one use voids both.
    const res = await owner.htmx(`/admin/team/${await idOf(MEMBER)}/reset-password`, {});
    await usePasswordLink(t, shownLink(res.text), NEW_PASSWORD);
    assert.equal(await signedIn(member), false);
    await new AdminClient(t.url).signIn(MEMBER, NEW_PASSWORD);
    assert.equal((await t.store.db.row<{ n: number }>('select count(*) as n from password_tokens where used_at is null'))!.n, 0);
    const issued = (await listAudit(t.store.db, acme, 2)).find((e) => e.action === 'user.password_reset_issued')!;
    assert.deepEqual(issued.summary, { email: MEMBER, via: 'team page', delivery: 'link' });
  });

  test('an owner gets no link for an instance admin or for someone with a workspace the owner does not own; an instance admin does', async () => {
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/team');
    const page = (await owner.get('/admin/team')).text;
    for (const email of [OWNER, MEMBER, ADMIN]) assert.match(page, new RegExp(`action="/admin/team/${await idOf(email)}/reset-password"`), email);
    for (const email of [ROOT, SHARED]) assert.doesNotMatch(page, new RegExp(`action="/admin/team/${await idOf(email)}/reset-password"`), email);

    for (const email of [ROOT, SHARED]) {
      const htmx = await owner.htmx(`/admin/team/${await idOf(email)}/reset-password`, {});
      assert.equal(htmx.status, 422);
      assert.match(textOf(htmx.text, 'members')!, new RegExp(`${email} is an instance admin or also belongs to a workspace you do not own: only an instance admin can get a reset link for them`));
      const plain = await owner.post(`/admin/team/${await idOf(email)}/reset-password`, {});
      assert.equal(plain.status, 403);
      assert.doesNotMatch(plain.text, /id="reset-link"/);
    }

    // Root is an instance admin (a mere viewer of Acme): every row has the button.
    const root = await new AdminClient(t.url).signIn(ROOT, PASSWORD, '/admin/team');
    assert.equal((await root.post('/admin/workspace', { workspace: acme })).status, 303);
    await root.get('/admin/team');
    const res = await root.htmx(`/admin/team/${await idOf(SHARED)}/reset-password`, {});
    assert.equal(res.status, 200, res.text);
    shownLink(res.text);
  });
});
