import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { listAudit } from '../../audit/audit.js';
import { ACCOUNT_FAILURES, THROTTLE_WINDOW_MS } from '../../sessions/login-throttle.js';
import { PENDING_SIGN_IN_MS } from '../../sessions/pending-sign-ins.js';
import { AdminClient, fieldError, textOf } from '../../testing/admin-client.js';
import { fakeClock, type HttpResult, runCli, sqliteOnly, startTestServer, TEST_OPERATOR, tempDataDir, type TestServer } from '../../testing/harness.js';
import { issuePasswordToken, usePasswordToken } from '../../users/password-tokens.js';
import { createUser } from '../../users/users.service.js';
import { addMember } from '../../workspaces/members.service.js';
import { createWorkspace } from '../../workspaces/workspaces.service.js';
import { requireWorkspace } from '../../workspaces/workspaces.service.js';

// Issue 16: two-factor sign-in with TOTP. The tests play the authenticator app: they read the
// secret off the enrolment page and compute its codes (otpauth) at the server's fake clock.
// One test runs the built CLI: `npm run build` first.

const PASSWORD = 'correct horse battery';
const ADMIN = 'root@example.com';
const STEP = 30_000;

const codeAt = (secret: string, at: number) =>
  new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at });

const alertOf = (html: string) => /<p class="alert"[^>]*>([^<]*)<\/p>/.exec(html)?.[1];
const flashOf = (html: string) => /<div class="flash[^"]*"[^>]*>[\s\S]*?<p>([^<]*)<\/p>/.exec(html)?.[1];

describe('two-factor sign-in (TOTP)', () => {
  const clock = fakeClock(Date.UTC(2030, 0, 1, 9));
  let t: TestServer;
  let acme: string;
  let address = 0;

  before(async () => {
    // Each browser comes from its own address (X-Forwarded-For from loopback is trusted), so the
    // failures one test makes on purpose do not throttle the next.
    t = await startTestServer({ clock, env: { LINKQR_TRUST_PROXY: 'loopback' } });
    await createUser(t.store, TEST_OPERATOR, { email: ADMIN, password: PASSWORD, workspace: 'Acme' });
    acme = (await requireWorkspace(t.store, 'Acme')).id;
  });
  after(() => t.close());

  /** A user of Acme with this name; the first was made in before() and is the instance admin. */
  const member = async (name: string) => {
    const email = `${name}@example.com`;
    await createUser(t.store, TEST_OPERATOR, { email, password: PASSWORD, workspace: 'Acme', role: 'member' });
    return email;
  };
  const browser = () => new AdminClient(t.url, { 'x-forwarded-for': `198.51.100.${++address}` });

  /** The password step of the sign-in form. */
  async function submitPassword(b: AdminClient, email: string, next?: string): Promise<HttpResult> {
    assert.equal((await b.get('/admin/login')).status, 200);
    return b.post('/admin/login', { email, password: PASSWORD, ...(next ? { next } : {}) });
  }

  /** Password, then the code page, then `code`: the answer to the code. */
  async function signInWithCode(b: AdminClient, email: string, code: string, next?: string): Promise<HttpResult> {
    const res = await submitPassword(b, email, next);
    assert.equal(res.status, 303, res.text);
    assert.equal(res.headers.get('location'), '/admin/login/code');
    assert.equal((await b.get('/admin/login/code')).status, 200);
    return b.post('/admin/login/code', { code });
  }

  /** Sets up two-factor sign-in from the Account page, as the user would: the secret and the recovery codes. */
  async function enrol(b: AdminClient): Promise<{ secret: string; recoveryCodes: string[] }> {
    const off = await b.get('/admin/account');
    assert.equal(off.status, 200);
    assert.equal(textOf(off.text, 'two-factor-status'), 'Off');
    assert.equal((await b.post('/admin/account/two-factor/start', {})).status, 303);
    const page = await b.get('/admin/account');
    assert.match(page.text, /<svg class="totp-qr" role="img" aria-label="QR code to scan with your authenticator app" xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    const secret = textOf(page.text, 'totp-secret')!.replace(/\s/g, '');
    assert.match(secret, /^[A-Z2-7]{32}$/, '160 bits in base32');
    const on = await b.post('/admin/account/two-factor/confirm', { code: codeAt(secret, clock.now()), password: PASSWORD });
    assert.equal(on.status, 200, on.text);
    assert.equal(textOf(on.text, 'two-factor-status'), 'On');
    const recoveryCodes = textOf(on.text, 'recovery-codes-text')!.split(' ');
    return { secret, recoveryCodes };
  }

  const signOut = async (b: AdminClient) => assert.equal((await b.post('/admin/logout', {})).status, 303);

  test('enrolment: a QR code and the key, turned on by a current code, with ten recovery codes shown once; stored sealed and hashed', async () => {
    const email = await member('enrol');
    const b = await browser().signIn(email, PASSWORD);
    assert.match((await b.get('/admin/links')).text, /href="\/admin\/account"/, 'the sidebar links to the Account page');

    // A wrong code leaves it off, with the error beside the field.
    assert.equal((await b.post('/admin/account/two-factor/start', {})).status, 303);
    const pending = await b.get('/admin/account');
    const secret = textOf(pending.text, 'totp-secret')!.replace(/\s/g, '');
    const wrong = await b.post('/admin/account/two-factor/confirm', { code: codeAt(secret, clock.now() + 10 * STEP), password: PASSWORD });
    assert.equal(wrong.status, 422);
    assert.match(fieldError(wrong.text, 'code') ?? '', /That code is not right/);
    const blank = await b.post('/admin/account/two-factor/confirm', { code: '' });
    assert.equal(fieldError(blank.text, 'code'), 'Enter the 6-digit code your app shows.');
    assert.equal(fieldError(blank.text, 'password'), 'Enter your password: turning this on changes how you sign in.');
    // A session alone (left open, or taken) cannot tie the account to an app: the password is asked, and a wrong one is refused.
    const noPassword = await b.post('/admin/account/two-factor/confirm', { code: codeAt(secret, clock.now()) });
    assert.equal(noPassword.status, 422);
    const wrongPassword = await b.post('/admin/account/two-factor/confirm', { code: codeAt(secret, clock.now()), password: 'not the password at all' });
    assert.equal(wrongPassword.status, 422);
    assert.equal(fieldError(wrongPassword.text, 'password'), 'That is not your password.');
    assert.equal(textOf((await b.get('/admin/account')).text, 'two-factor-status'), 'Off');

    // Codes typed with a space, as apps show them, and from the step before (a phone a little behind).
    const typed = codeAt(secret, clock.now() - STEP).replace(/^(\d{3})/, '$1 ');
    const on = await b.post('/admin/account/two-factor/confirm', { code: typed, password: PASSWORD });
    assert.equal(on.status, 200);
    const codes = textOf(on.text, 'recovery-codes-text')!.split(' ');
    assert.equal(codes.length, 10);
    assert.equal(on.headers.get('cache-control'), 'no-store', 'the codes stay out of caches');
    assert.ok(codes.every((c) => /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/.test(c)), codes.join(' '));
    assert.equal(new Set(codes).size, 10);

    // Shown once: the page does not show them again.
    const later = await b.get('/admin/account');
    assert.equal(textOf(later.text, 'recovery-codes-text'), undefined);
    assert.equal(textOf(later.text, 'recovery-codes-left'), '10');
    assert.equal(textOf(later.text, 'totp-secret'), undefined, 'nor the key');

    // At rest: the secret sealed under the at-rest key, the recovery codes as hashes.
    const row = await t.store.db.row<{ secret: string; enabled_at: number }>('select u.secret, u.enabled_at from user_totp u join users on users.id = u.user_id where users.email = ?', email);
    assert.match(row!.secret, /^enc:v1:/);
    assert.ok(!row!.secret.includes(secret));
    assert.equal(row!.enabled_at, clock.now());
    const hashes = (await t.store.db.rows<{ code_hash: string }>('select code_hash from recovery_codes')).map((r) => r.code_hash);
    for (const code of codes) assert.ok(!hashes.some((h) => h.includes(code.replace(/-/g, ''))));
    assert.ok(hashes.every((h) => /^[0-9a-f]{64}$/.test(h)));

    // Never in the logs.
    for (const line of t.logs) for (const s of [secret, ...codes]) assert.ok(!line.includes(s), `secret in log line: ${line}`);

    // Starting again once it is on is refused.
    assert.equal((await b.post('/admin/account/two-factor/start', {})).status, 409);

    const [entry] = (await listAudit(t.store.db, acme, 20)).filter((e) => e.action === 'user.2fa_enable');
    assert.ok(entry);
    assert.equal(entry.target.startsWith('user:usr_'), true);
    assert.deepEqual(entry.summary, { email });
  });

  test('signing in asks for the code after the password: no session before it; a wrong code is refused, the right one signs in and goes to next', async () => {
    const email = await member('signin');
    const b = await browser().signIn(email, PASSWORD);
    const { secret } = await enrol(b);
    await signOut(b);
    clock.advance(STEP);

    const c = browser();
    const password = await submitPassword(c, email, '/admin/team');
    assert.equal(password.status, 303);
    assert.equal(password.headers.get('location'), '/admin/login/code');
    assert.ok(!c.cookies.has('linkqr_session'), 'no session yet');
    const cookie = c.setCookies.find((l) => l.startsWith('linkqr_sign_in='))!;
    assert.match(cookie, /; Path=\/admin\/login; .*HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    // The waiting sign-in is in the database, as a hash of the cookie's token.
    const token = c.cookies.get('linkqr_sign_in')!;
    const ids = (await t.store.db.rows<{ id: string }>('select id from pending_sign_ins')).map((r) => r.id);
    assert.ok(ids.length > 0 && ids.every((id) => /^[0-9a-f]{64}$/.test(id) && id !== token));
    assert.ok(ids.includes(createHash('sha256').update(token).digest('hex')));
    assert.equal((await c.get('/admin/links')).status, 303, 'the admin pages still want a sign-in');

    const page = await c.get('/admin/login/code');
    assert.equal(page.status, 200);
    assert.match(page.text, /autocomplete="one-time-code"/);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'(;|$)/);
    const wrong = await c.post('/admin/login/code', { code: codeAt(secret, clock.now() + 5 * STEP) });
    assert.equal(wrong.status, 400);
    assert.match(fieldError(wrong.text, 'code') ?? '', /That code is not right/);
    assert.ok(!c.cookies.has('linkqr_session'));

    // The form needs its token, as the sign-in form does.
    assert.equal((await c.post('/admin/login/code', { code: codeAt(secret, clock.now()), _csrf: 'x'.repeat(32) })).status, 403);

    const right = await c.post('/admin/login/code', { code: codeAt(secret, clock.now()) });
    assert.equal(right.status, 303, right.text);
    assert.equal(right.headers.get('location'), '/admin/team');
    assert.ok(c.cookies.has('linkqr_session'));
    assert.ok(!c.cookies.has('linkqr_sign_in'), 'the waiting sign-in is over');
    assert.equal((await c.get('/admin/team')).status, 200);
    assert.equal(await t.store.db.row('select id from pending_sign_ins where id = ?', createHash('sha256').update(token).digest('hex')), undefined);

    // Without the password step, the code page has nothing to continue.
    const stranger = browser();
    await stranger.get('/admin/login');
    const none = await stranger.get('/admin/login/code');
    assert.equal(none.status, 400);
    assert.match(alertOf(none.text) ?? '', /This sign-in has expired/);
    assert.equal((await stranger.post('/admin/login/code', { code: codeAt(secret, clock.now() + STEP) })).status, 400);
    assert.ok(!stranger.cookies.has('linkqr_session'));
  });

  test('a code is taken once: the same code again is refused, the next step\'s code works', async () => {
    const email = await member('replay');
    const b = await browser().signIn(email, PASSWORD);
    const { secret } = await enrol(b);
    await signOut(b);

    // The code that turned it on cannot sign in.
    const enrolCode = await signInWithCode(browser(), email, codeAt(secret, clock.now()));
    assert.equal(enrolCode.status, 400);
    assert.match(fieldError(enrolCode.text, 'code') ?? '', /used already/);

    clock.advance(STEP);
    const code = codeAt(secret, clock.now());
    assert.equal((await signInWithCode(browser(), email, code)).status, 303);
    // Seen over someone's shoulder and typed within the same 30 seconds: refused.
    const replay = await signInWithCode(browser(), email, code);
    assert.equal(replay.status, 400);
    assert.match(fieldError(replay.text, 'code') ?? '', /used already/);
    // Nor is the previous step's code (accepted for drift) good after a later one.
    clock.advance(STEP);
    assert.equal((await signInWithCode(browser(), email, codeAt(secret, clock.now() - STEP))).status, 400);
    assert.equal((await signInWithCode(browser(), email, codeAt(secret, clock.now()))).status, 303);
  });

  test('wrong codes count as wrong passwords: the sixth try waits, the password gives no more tries, and the window passes', async () => {
    const email = await member('throttle');
    const b = await browser().signIn(email, PASSWORD);
    const { secret } = await enrol(b);
    await signOut(b);
    clock.advance(STEP);

    const c = browser();
    assert.equal((await submitPassword(c, email)).status, 303);
    await c.get('/admin/login/code');
    for (let i = 0; i < ACCOUNT_FAILURES - 2; i++) assert.equal((await c.post('/admin/login/code', { code: '000000' })).status, 400);
    // Starting over with the password (right) keeps the count of wrong codes.
    assert.equal((await submitPassword(c, email)).status, 303);
    await c.get('/admin/login/code');
    assert.equal((await c.post('/admin/login/code', { code: '111111' })).status, 400);
    assert.equal((await c.post('/admin/login/code', { code: 'not-a-code' })).status, 400);
    const waits = await c.post('/admin/login/code', { code: codeAt(secret, clock.now()) });
    assert.equal(waits.status, 429, 'even the right code waits');
    assert.match(alertOf(waits.text) ?? '', /^Too many sign-in attempts\. Try again in \d+ minutes?\.$/);
    assert.ok(Number(waits.headers.get('retry-after')) > 0);
    // The password form is throttled for this account too, from anywhere.
    const elsewhere = await submitPassword(browser(), email);
    assert.equal(elsewhere.status, 429);
    assert.match(t.logs.join('\n'), /two-factor sign-in throttled/);

    clock.advance(THROTTLE_WINDOW_MS);
    assert.equal((await signInWithCode(browser(), email, codeAt(secret, clock.now()))).status, 303);
  });

  test('a recovery code signs in once, says how many are left, and is audited', async () => {
    const email = await member('recovery');
    const b = await browser().signIn(email, PASSWORD);
    const { recoveryCodes } = await enrol(b);
    await signOut(b);

    const c = browser();
    const res = await signInWithCode(c, email, recoveryCodes[3]!.toUpperCase());
    assert.equal(res.status, 303, res.text);
    const landed = await c.get(res.headers.get('location')!);
    assert.match(flashOf(landed.text) ?? '', /You signed in with a recovery code; 9 are left\./);
    assert.equal(textOf((await c.get('/admin/account')).text, 'recovery-codes-left'), '9');

    const again = await signInWithCode(browser(), email, recoveryCodes[3]!);
    assert.equal(again.status, 400);
    assert.match(fieldError(again.text, 'code') ?? '', /That code is not right/);
    // Typed without its dashes: the same code.
    assert.equal((await signInWithCode(browser(), email, recoveryCodes[4]!.replace(/-/g, ''))).status, 303);

    const used = (await listAudit(t.store.db, acme, 50)).filter((e) => e.action === 'user.2fa_recovery_used');
    assert.deepEqual(
      used.map((e) => e.summary),
      [
        { email, recoveryCodesLeft: 8 },
        { email, recoveryCodesLeft: 9 },
      ],
    );
    assert.ok(used.every((e) => e.actor === e.target), 'the user themself');

    // New codes (after a current code) void the old ones.
    clock.advance(STEP);
    const renewed = await c.post('/admin/account/two-factor/recovery-codes', { 'renew-code': '123456' });
    assert.equal(renewed.status, 422);
    assert.match(fieldError(renewed.text, 'renew-code') ?? '', /not right/);
  });

  test('a sign-in waiting for its code ends after 10 minutes', async () => {
    const email = await member('slow');
    const b = await browser().signIn(email, PASSWORD);
    const { secret } = await enrol(b);
    await signOut(b);
    clock.advance(STEP);
    const c = browser();
    assert.equal((await submitPassword(c, email)).status, 303);
    await c.get('/admin/login/code');
    clock.advance(PENDING_SIGN_IN_MS);
    const late = await c.post('/admin/login/code', { code: codeAt(secret, clock.now()) });
    assert.equal(late.status, 400);
    assert.match(alertOf(late.text) ?? '', /This sign-in has expired/);
    assert.ok(!c.cookies.has('linkqr_session'));
  });

  test('turning it off takes a current code or the password; then the password alone signs in', async () => {
    const email = await member('disable');
    const b = await browser().signIn(email, PASSWORD);
    const { secret } = await enrol(b);

    const blank = await b.post('/admin/account/two-factor/disable', { proof: '' });
    assert.equal(blank.status, 422);
    for (const proof of ['not the password', '000000']) {
      const wrong = await b.post('/admin/account/two-factor/disable', { proof });
      assert.equal(wrong.status, 422, proof);
      assert.equal(fieldError(wrong.text, 'proof'), 'That is neither the code your app shows now nor your password.');
    }
    assert.equal(textOf((await b.get('/admin/account')).text, 'two-factor-status'), 'On');

    const off = await b.post('/admin/account/two-factor/disable', { proof: PASSWORD });
    assert.equal(off.status, 303);
    const page = await b.get('/admin/account');
    assert.equal(flashOf(page.text), 'Two-factor sign-in is off: your password alone signs you in.');
    assert.equal(textOf(page.text, 'two-factor-status'), 'Off');
    assert.equal((await t.store.db.rows('select * from recovery_codes r join users u on u.id = r.user_id where u.email = ?', email)).length, 0);
    await signOut(b);
    const plain = await submitPassword(browser(), email);
    assert.equal(plain.status, 303);
    assert.equal(plain.headers.get('location'), '/admin/links');

    // On again, and off with a code this time.
    const c = await browser().signIn(email, PASSWORD);
    clock.advance(STEP);
    const again = await enrol(c);
    assert.notEqual(again.secret, secret, 'a new key');
    clock.advance(STEP);
    assert.equal((await c.post('/admin/account/two-factor/disable', { proof: codeAt(again.secret, clock.now()) })).status, 303);

    const disabled = (await listAudit(t.store.db, acme, 100)).filter((e) => e.action === 'user.2fa_disable' && e.summary.email === email);
    assert.equal(disabled.length, 2);
  });

  test('an instance admin resets the two-factor sign-in of a user who lost their device; no one else can', async () => {
    const email = await member('lostphone');
    // Also in a workspace of its own owner's, which the instance admin is not part of.
    const globex = (await createWorkspace(t.store, TEST_OPERATOR, 'Globex')).id;
    await createUser(t.store, TEST_OPERATOR, { email: 'globex-owner@example.com', password: PASSWORD, workspace: 'Globex' });
    await addMember(t.store, TEST_OPERATOR, globex, email, 'member');
    const user = await browser().signIn(email, PASSWORD);
    await enrol(user);
    const userId = (await t.store.db.row<{ id: string }>('select id from users where email = ?', email))!.id;

    // A member cannot.
    const refused = await user.post('/admin/instance', { intent: 'two-factor-reset', user: userId });
    assert.equal(refused.status, 403);

    clock.advance(STEP);
    const admin = await browser().signIn(ADMIN, PASSWORD, '/admin/instance');
    const page = await admin.get('/admin/instance');
    assert.match(textOf(page.text, `two-factor-${userId}`) ?? '', /^On Reset$/);
    const reset = await admin.post('/admin/instance', { intent: 'two-factor-reset', user: userId });
    assert.equal(reset.status, 303);
    const after = await admin.get('/admin/instance');
    assert.match(flashOf(after.text) ?? '', /^Two-factor sign-in is off for lostphone@example\.com/);
    assert.equal(textOf(after.text, `two-factor-${userId}`), 'Off');
    assert.equal((await admin.post('/admin/instance', { intent: 'two-factor-reset', user: 'usr_nobody' })).status, 404);

    const plain = await submitPassword(browser(), email);
    assert.equal(plain.headers.get('location'), '/admin/links', 'the password alone signs in');

    const [entry] = (await listAudit(t.store.db, acme, 100)).filter((e) => e.action === 'user.2fa_disable' && e.summary.email === email);
    assert.ok(entry);
    assert.deepEqual(entry.summary, { email, reset: true });
    assert.match(entry.actor, /^user:usr_/);
    assert.notEqual(entry.actor, `user:${userId}`, 'by the admin');
    // The user's other workspace, which the admin is not part of, learns of it without the admin's email or address.
    const [elsewhere] = (await listAudit(t.store.db, globex, 100)).filter((e) => e.action === 'user.2fa_disable' && e.summary.email === email);
    assert.ok(elsewhere);
    assert.equal(elsewhere.actor, 'operator:outside-workspace');
    assert.equal(elsewhere.ip, null);
    const globexPage = await browser().signIn('globex-owner@example.com', PASSWORD, '/admin/audit');
    const audit = await globexPage.get('/admin/audit?action=user.2fa_disable');
    assert.match(audit.text, /Someone outside this workspace/);
    assert.doesNotMatch(audit.text, new RegExp(ADMIN.replace('.', '\\.')));
  });

  test('a password reset ends a sign-in that was waiting for its code: the old password cannot finish it', async () => {
    const email = await member('phished');
    const user = await browser().signIn(email, PASSWORD);
    const { secret } = await enrol(user);
    await signOut(user);
    // Someone with the old password reaches the code page...
    const attacker = browser();
    const waiting = await submitPassword(attacker, email);
    assert.equal(waiting.headers.get('location'), '/admin/login/code');
    // ...the owner resets the password through a one-time link...
    const userId = (await t.store.db.row<{ id: string }>('select id from users where email = ?', email))!.id;
    const { token } = await issuePasswordToken(t.store, userId);
    await usePasswordToken(t.store, token, 'a brand new passphrase');
    // ...and a right code no longer completes the old sign-in.
    clock.advance(STEP);
    const code = await attacker.post('/admin/login/code', { code: codeAt(secret, clock.now()) });
    assert.equal(code.status, 400);
    assert.match(code.text, /This sign-in has expired/);
    assert.equal((await attacker.get('/admin/links')).status, 303, 'no session');
  });

  test('the operator resets it from the command line (an only admin who lost their phone and codes)', async () => {
    const email = await member('cli');
    await enrol(await browser().signIn(email, PASSWORD));
    const r = await runCli(['user', 'reset-two-factor', '--email', email.toUpperCase()], { dataDir: t.dataDir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Two-factor sign-in is off for cli@example\.com: their password alone signs them in until they set it up again/);
    assert.equal(r.stdout, '');
    assert.equal((await submitPassword(browser(), email)).headers.get('location'), '/admin/links');
    const [entry] = (await listAudit(t.store.db, acme, 100)).filter((e) => e.action === 'user.2fa_disable' && e.summary.email === email);
    assert.equal(entry?.actor.startsWith('operator:'), true);

    const again = await runCli(['user', 'reset-two-factor', '--email', email], { dataDir: t.dataDir });
    assert.equal(again.code, 0);
    assert.match(again.stderr, /had no two-factor sign-in: nothing changed/);
    const unknown = await runCli(['user', 'reset-two-factor', '--email', 'nobody@example.com'], { dataDir: t.dataDir });
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, 'linkqr: No user has the email nobody@example.com.\n');
  });

  test('required by the instance: a user without it reaches nothing but the Account page until it is on', async () => {
    const email = await member('required');
    const admin = await browser().signIn(ADMIN, PASSWORD, '/admin/instance');
    // The admin has no two-factor either: once it is required, they too are sent to set it up.
    const on = await admin.post('/admin/instance', { intent: 'settings', requireTwoFactor: 'on' });
    assert.equal(on.status, 303);
    assert.equal(t.server.deps.instanceSettings.get().requireTwoFactor, true);
    try {
      const sent = await admin.get('/admin/instance');
      assert.equal(sent.status, 303);
      assert.equal(sent.headers.get('location'), '/admin/account');

      const b = browser();
      const signedIn = await submitPassword(b, email, '/admin/links');
      assert.equal(signedIn.status, 303);
      for (const path of ['/admin/links', '/admin/settings', '/admin/nope']) {
        const res = await b.get(path);
        assert.equal(res.status, 303, path);
        assert.equal(res.headers.get('location'), '/admin/account', path);
      }
      const hx = await b.request('GET', '/admin/links', { headers: { 'hx-request': 'true' } });
      assert.equal(hx.headers.get('hx-redirect'), '/admin/account');
      const account = await b.get('/admin/account');
      assert.equal(account.status, 200);
      assert.match(alertOf(account.text) ?? '', /This server requires two-factor sign-in/);

      const { secret } = await enrol(b);
      assert.equal((await b.get('/admin/links')).status, 200, 'on: the admin opens');
      // Turning it off again sends them back.
      clock.advance(STEP);
      assert.equal((await b.post('/admin/account/two-factor/disable', { proof: codeAt(secret, clock.now()) })).status, 303);
      assert.equal((await b.get('/admin/links')).status, 303);
      // Sign-out still works.
      assert.equal((await b.post('/admin/logout', {})).status, 303);

      // The setting is audited by the instance settings store.
      const entry = await t.store.db.row<{ summary: string }>("select summary from audit_log where action = 'instance.settings' order by id desc limit 1");
      assert.deepEqual(JSON.parse(entry!.summary), { requireTwoFactor: { from: false, to: true } });
    } finally {
      await t.server.deps.instanceSettings.update(TEST_OPERATOR, { requireTwoFactor: false }, clock.now());
    }
    assert.equal((await admin.get('/admin/instance')).status, 200);
    assert.match((await admin.get('/admin/instance')).text, /id="requireTwoFactor" name="requireTwoFactor" value="on" aria-describedby/, 'unchecked');
  });
});

describe('two-factor secrets and the at-rest key', { skip: sqliteOnly }, () => {
  test('sealed again when LINKQR_SECRET replaces the key file, codes still good; with the key lost, codes are refused and recovery codes still sign in', async (ctx) => {
    const dataDir = tempDataDir();
    ctx.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const clock = fakeClock(Date.UTC(2030, 0, 1, 9));
    const servers: TestServer[] = [];
    ctx.after(() => Promise.all(servers.map((s) => s.close())));
    const start = async (env: Record<string, string> = {}) => {
      const s = await startTestServer({ dataDir, clock, env });
      servers.push(s);
      return s;
    };
    const signIn = async (s: TestServer, code: string) => {
      const b = new AdminClient(s.url);
      await b.get('/admin/login');
      assert.equal((await b.post('/admin/login', { email: ADMIN, password: PASSWORD })).headers.get('location'), '/admin/login/code');
      await b.get('/admin/login/code');
      return b.post('/admin/login/code', { code });
    };
    const storedSecret = async (s: TestServer) => (await s.store.db.row<{ secret: string }>('select secret from user_totp'))!.secret;

    // With the key file of the data dir.
    const first = await start();
    await createUser(first.store, TEST_OPERATOR, { email: ADMIN, password: PASSWORD, workspace: 'Acme' });
    const b = await new AdminClient(first.url).signIn(ADMIN, PASSWORD);
    await b.post('/admin/account/two-factor/start', {});
    const secret = textOf((await b.get('/admin/account')).text, 'totp-secret')!.replace(/\s/g, '');
    const codes = textOf((await b.post('/admin/account/two-factor/confirm', { code: codeAt(secret, clock.now()), password: PASSWORD })).text, 'recovery-codes-text')!.split(' ');
    const underKeyFile = await storedSecret(first);
    await first.close();

    const moved = await start({ LINKQR_SECRET: 'a shared instance secret of at least 32 characters' });
    assert.notEqual((await storedSecret(moved)).split(':')[2], underKeyFile.split(':')[2], 'sealed under the key LINKQR_SECRET gives');
    assert.ok(moved.logs.some((l) => l.includes('secrets sealed under the at-rest key') && l.includes('"totpSecrets":1')));
    clock.advance(STEP);
    assert.equal((await signIn(moved, codeAt(secret, clock.now()))).status, 303);
    await moved.close();

    // Another secret, and the key file gone: nothing here opens the TOTP secret.
    rmSync(join(dataDir, 'linkqr.key'));
    const lost = await start({ LINKQR_SECRET: 'another instance secret, of at least 32 characters' });
    assert.ok(lost.logs.some((l) => l.includes("cannot open these users' two-factor secrets")));
    clock.advance(STEP);
    assert.equal((await signIn(lost, codeAt(secret, clock.now()))).status, 400);
    assert.equal((await signIn(lost, codes[0]!)).status, 303);
  });
});
