import assert from 'node:assert/strict';
import { AdminClient } from '../../testing/admin-client.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { addMember } from '../../workspaces/members.service.js';
import { createWorkspace } from '../../workspaces/workspaces.service.js';
import { createUser } from '../../users/users.service.js';
import { ACCOUNT_FAILURES, IP_FAILURES, THROTTLE_WINDOW_MS } from '../../sessions/login-throttle.js';
import { SESSION_IDLE_MS, SESSION_MAX_AGE_MS } from '../../sessions/sessions.service.js';
import { fakeClock, type HttpResult, ROOT, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';

const PASSWORD = 'correct horse battery';
const OWNER = 'owner@example.com';
const VIEWER = 'viewer@example.com';
const LONER = 'loner@example.com';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * The shared admin client, with plain form posts (these tests send the CSRF token, or leave it
 * out, themselves) and the sign-in form submitted as is.
 */
class Browser extends AdminClient {
  override post = (path: string, form: Record<string, string>, headers?: Record<string, string>) => this.request('POST', path, { form, headers });

  /** Opens the sign-in page (for its CSRF cookie and field) and submits it. */
  async submitLogin(email: string, password: string, next?: string): Promise<HttpResult> {
    const page = await this.get(`/admin/login${next === undefined ? '' : `?next=${encodeURIComponent(next)}`}`);
    assert.equal(page.status, 200, page.text);
    return this.post('/admin/login', { email, password, _csrf: this.csrf!, ...(next === undefined ? {} : { next }) });
  }

  /** Signs in and opens a page, so `csrf` holds the session's token. */
  async signedIn(email = OWNER): Promise<this> {
    const res = await this.submitLogin(email, PASSWORD);
    assert.equal(res.status, 303, res.text);
    assert.equal((await this.get('/admin/links')).status, 200);
    return this;
  }

  get sessionToken() {
    return this.cookies.get('linkqr_session');
  }
}

function sessionCookie(b: Browser): string {
  const line = b.setCookies.find((c) => c.startsWith('linkqr_session='));
  assert.ok(line, `a session cookie in ${JSON.stringify(b.setCookies)}`);
  return line;
}

const flashOf = (html: string) => /<div class="flash[^"]*"[^>]*>[\s\S]*?<p>([^<]*)<\/p>/.exec(html)?.[1];
const alertOf = (html: string) => /<p class="alert"[^>]*>([^<]*)<\/p>/.exec(html)?.[1];
const currentWorkspace = (html: string) =>
  /<option value="[^"]+" selected>([^<]+)<\/option>/.exec(html)?.[1] ?? /<p class="workspace-name">([^<]+)<\/p>/.exec(html)?.[1];
const countSessions = async (t: TestServer) => (await t.store.db.row<{ n: number }>('select count(*) as n from sessions'))!.n;
const workspaceIdOf = async (t: TestServer, name: string) => (await t.store.db.row<{ id: string }>('select id from workspaces where name = ?', name))!.id;

/** Owner of Acme and admin of Globex; a viewer of Acme; someone in no workspace; Initech, which none of them is in. */
async function seed(t: TestServer) {
  await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
  await createUser(t.store, TEST_OPERATOR, { email: VIEWER, password: PASSWORD, workspace: 'Acme', role: 'viewer' });
  await createUser(t.store, TEST_OPERATOR, { email: LONER, password: PASSWORD });
  const globex = await createWorkspace(t.store, TEST_OPERATOR, 'Globex');
  await addMember(t.store, TEST_OPERATOR, globex.id, OWNER, 'admin');
  await createWorkspace(t.store, TEST_OPERATOR, 'Initech');
}

describe('admin sign-in, sessions and CSRF', () => {
  const clock = fakeClock(Date.UTC(2030, 0, 1, 9));
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ clock });
    await seed(t);
  });
  after(() => t.close());

  test('without a session, admin pages send the visitor to sign in and back', async () => {
    const cases = [
      { method: 'GET', path: '/admin', location: '/admin/login?next=%2Fadmin' },
      { method: 'GET', path: '/admin/audit?page=2', location: '/admin/login?next=%2Fadmin%2Faudit%3Fpage%3D2' },
      { method: 'GET', path: '/admin/no-such-page', location: '/admin/login?next=%2Fadmin%2Fno-such-page' },
      // A form post is not replayed after signing in.
      { method: 'POST', path: '/admin/workspace', location: '/admin/login' },
      { method: 'POST', path: '/admin/logout', location: '/admin/login' },
    ];
    for (const c of cases) {
      const res = await t.request(c.method, c.path);
      assert.equal(res.status, 303, `${c.method} ${c.path}`);
      assert.equal(res.headers.get('location'), c.location, `${c.method} ${c.path}`);
    }
    // htmx would follow a 303 inside its request and swap the sign-in page into a fragment.
    const fragment = await t.request('GET', '/admin/links', { headers: { 'hx-request': 'true' } });
    assert.equal(fragment.status, 401);
    assert.equal(fragment.headers.get('hx-redirect'), '/admin/login?next=%2Fadmin%2Flinks');
    // A made-up cookie is no session either.
    const forged = await t.request('GET', '/admin/links', { headers: { cookie: `linkqr_session=${'A'.repeat(43)}` } });
    assert.equal(forged.status, 303);
  });

  test('signing in sets an HttpOnly, SameSite=Lax session cookie (not Secure over http) and goes to next', async () => {
    const b = new Browser(t.url);
    const res = await b.submitLogin(OWNER, PASSWORD, '/admin/audit');
    assert.equal(res.status, 303, res.text);
    assert.equal(res.headers.get('location'), '/admin/audit');
    const cookie = sessionCookie(b);
    assert.match(cookie, /^linkqr_session=[A-Za-z0-9_-]{43};/);
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Lax/);
    assert.match(cookie, /; Path=\//);
    assert.doesNotMatch(cookie, /; Secure/i);
    assert.ok(!b.cookies.has('linkqr_login_csrf'), 'the sign-in form token is spent');

    // Only the token's hash is stored.
    const ids = (await t.store.db.rows<{ id: string }>('select id from sessions')).map((r) => r.id);
    assert.ok(ids.every((id) => /^[0-9a-f]{64}$/.test(id) && id !== b.sessionToken));

    const page = await b.get('/admin/audit');
    assert.equal(page.status, 200);
    for (const label of ['Links', 'Analytics', 'API &amp; Webhooks', 'Team', 'Settings', 'Audit log', 'Instance']) {
      assert.match(page.text, new RegExp(`<span>${label}</span>`), label);
    }
    assert.match(page.text, /owner@example\.com/);
    assert.match(page.text, /action="\/admin\/logout"/);

    // Signed in already: the sign-in page sends you on.
    const again = await b.get('/admin/login?next=%2Fadmin%2Fteam');
    assert.equal(again.status, 303);
    assert.equal(again.headers.get('location'), '/admin/team');
  });

  test('a wrong password and an unknown email get the same answer', async () => {
    const wrong = new Browser(t.url);
    const unknown = new Browser(t.url);
    const a = await wrong.submitLogin(OWNER, 'not the password');
    const b = await unknown.submitLogin('nobody@example.com', 'not the password');
    for (const res of [a, b]) {
      assert.equal(res.status, 400);
      assert.equal(alertOf(res.text), 'Email or password is incorrect.');
      assert.doesNotMatch(res.text, /not the password/, 'passwords are never echoed');
    }
    const normalise = (r: HttpResult, email: string, csrf: string) => r.text.replaceAll(email, 'EMAIL').replaceAll(csrf, 'CSRF');
    assert.equal(normalise(a, OWNER, wrong.csrf!), normalise(b, 'nobody@example.com', unknown.csrf!));
    assert.ok(!wrong.sessionToken && !unknown.sessionToken);
  });

  test('the sign-in form needs its own token (login CSRF): missing or different is refused', async () => {
    const b = new Browser(t.url);
    await b.get('/admin/login');
    const cases: { name: string; form: Record<string, string> }[] = [
      { name: 'no token', form: { email: OWNER, password: PASSWORD } },
      { name: 'another token', form: { email: OWNER, password: PASSWORD, _csrf: 'x'.repeat(32) } },
    ];
    for (const c of cases) {
      const res = await b.post('/admin/login', c.form);
      assert.equal(res.status, 403, c.name);
      assert.match(alertOf(res.text) ?? '', /expired/, c.name);
      assert.ok(!b.sessionToken, c.name);
    }
    // Without the cookie (another site's form): refused, and the page comes with a fresh token that works.
    const stranger = await t.request('POST', '/admin/login', {
      rawBody: new URLSearchParams({ email: OWNER, password: PASSWORD, _csrf: b.csrf! }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(stranger.status, 403);
    const retry = await b.post('/admin/login', { email: OWNER, password: PASSWORD, _csrf: b.csrf! });
    assert.equal(retry.status, 303);
  });

  test('an open redirect through next is refused', async () => {
    const cases: [next: string, location: string][] = [
      ['https://evil.example/', '/admin/links'],
      ['//evil.example/admin', '/admin/links'],
      ['/\\evil.example', '/admin/links'],
      ['https://evil.example/admin/links', '/admin/links'],
      ['javascript:alert(1)', '/admin/links'],
      ['/admin@evil.example', '/admin/links'],
      ['/admin/../..//evil.example', '/admin/links'],
      ['/admin/login', '/admin/links'],
      ['/public/admin.css', '/admin/links'],
      ['/admin/audit?page=2', '/admin/audit?page=2'],
    ];
    for (const [next, location] of cases) {
      const b = new Browser(t.url);
      const res = await b.submitLogin(OWNER, PASSWORD, next);
      assert.equal(res.status, 303, next);
      assert.equal(res.headers.get('location'), location, next);
    }
  });

  test('signing in again starts a new session and ends the one the browser had', async () => {
    const b = await new Browser(t.url).signedIn();
    const old = b.sessionToken!;
    // A second tab opened the sign-in form before the first one signed in.
    const tab = new Browser(t.url);
    await tab.get('/admin/login');
    tab.cookies.set('linkqr_session', old);
    assert.equal((await tab.post('/admin/login', { email: OWNER, password: PASSWORD, _csrf: tab.csrf! })).status, 303);
    assert.notEqual(tab.sessionToken, old);
    const replay = await t.request('GET', '/admin/links', { headers: { cookie: `linkqr_session=${old}` } });
    assert.equal(replay.status, 303, 'the old token signs nobody in');

    // A token planted before sign-in (session fixation) is not adopted.
    const planted = 'P'.repeat(43);
    const victim = new Browser(t.url);
    victim.cookies.set('linkqr_session', planted);
    await victim.submitLogin(OWNER, PASSWORD);
    assert.notEqual(victim.sessionToken, planted);
  });

  test('sign-out needs the CSRF token, then ends the session', async () => {
    const b = await new Browser(t.url).signedIn();
    const token = b.sessionToken!;
    for (const [name, form] of [
      ['missing', {}],
      ['wrong', { _csrf: 'not-the-token' }],
    ] as const) {
      const res = await b.post('/admin/logout', form);
      assert.equal(res.status, 403, name);
      assert.match(res.text, /This form has expired/, name);
    }
    assert.equal((await b.get('/admin/links')).status, 200, 'still signed in');

    const sessions = await countSessions(t);
    const out = await b.post('/admin/logout', { _csrf: b.csrf! });
    assert.equal(out.status, 303);
    assert.equal(out.headers.get('location'), '/admin/login?signed_out=1');
    assert.ok(b.setCookies.some((c) => /^linkqr_session=;.*Expires=Thu, 01 Jan 1970/.test(c)), 'the cookie is cleared');
    assert.equal(await countSessions(t), sessions - 1, 'the session row is gone');
    const page = await b.get('/admin/login?signed_out=1');
    assert.match(page.text, /You have signed out/);
    const replay = await t.request('GET', '/admin/links', { headers: { cookie: `linkqr_session=${token}` } });
    assert.equal(replay.status, 303, 'the old cookie signs nobody in');
  });

  test('switching workspace: CSRF checked, only to workspaces of the user, flash shown once', async () => {
    const b = await new Browser(t.url).signedIn();
    const globex = await workspaceIdOf(t, 'Globex');
    assert.equal(currentWorkspace((await b.get('/admin/links')).text), 'Acme');

    for (const [name, form] of [
      ['missing', { workspace: globex }],
      ['wrong', { workspace: globex, _csrf: 'nope' }],
    ] as const) {
      assert.equal((await b.post('/admin/workspace', form)).status, 403, name);
    }
    assert.equal(currentWorkspace((await b.get('/admin/links')).text), 'Acme', 'refused switches change nothing');

    // Another workspace's id, and an id that does not exist, answer the same.
    for (const id of [await workspaceIdOf(t, 'Initech'), 'wsp_doesnotexist']) {
      const res = await b.post('/admin/workspace', { workspace: id, _csrf: b.csrf! });
      assert.equal(res.status, 404, id);
      assert.doesNotMatch(res.text, /Initech/);
    }

    const res = await b.post('/admin/workspace', { workspace: globex, next: '/admin/team', _csrf: b.csrf! });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/admin/team');
    const landed = await b.get('/admin/team');
    assert.equal(currentWorkspace(landed.text), 'Globex');
    assert.equal(flashOf(landed.text), 'You are now working in Globex.');
    assert.match(landed.text, /Admin · Instance admin/, 'the role shown is the one in Globex');
    assert.equal(flashOf((await b.get('/admin/team')).text), undefined, 'a flash shows once');

    // htmx sends the token as a header (hx-headers on <body>) and gets HX-Redirect instead of a 303.
    const acme = await workspaceIdOf(t, 'Acme');
    const hx = await b.post('/admin/workspace', { workspace: acme, next: 'https://evil.example' }, { 'hx-request': 'true', 'x-csrf-token': b.csrf! });
    assert.equal(hx.status, 200);
    assert.equal(hx.headers.get('hx-redirect'), '/admin/links');
    assert.equal(currentWorkspace((await b.get('/admin/links')).text), 'Acme');
  });

  test('a sign-in lands in the workspace the user joined first, not in one a stranger added them to', async () => {
    const email = 'zed@example.com';
    await createUser(t.store, TEST_OPERATOR, { email, password: PASSWORD, workspace: 'Zeta' });
    clock.advance(MINUTE);
    // Acme's owner adds them: Acme comes first by name, and they are only a viewer there.
    await addMember(t.store, TEST_OPERATOR, await workspaceIdOf(t, 'Acme'), email, 'viewer');
    const b = await new Browser(t.url).signedIn(email);
    assert.equal(currentWorkspace((await b.get('/admin/links')).text), 'Zeta');
    assert.equal((await b.get('/admin/api')).status, 200, 'their own workspace, with their role in it');
  });

  test('roles: a viewer sees no Audit log or Instance entry and is refused both pages', async () => {
    const b = await new Browser(t.url).signedIn(VIEWER);
    const page = await b.get('/admin/links');
    assert.doesNotMatch(page.text, /<span>Audit log<\/span>/);
    assert.doesNotMatch(page.text, /<span>Instance<\/span>/);
    assert.doesNotMatch(page.text, /<span>API &amp; Webhooks<\/span>/);
    for (const path of ['/admin/audit', '/admin/instance']) {
      const res = await b.get(path);
      assert.equal(res.status, 403, path);
      assert.match(res.text, /class="sidebar"/, 'refusals are pages inside the layout');
    }
  });

  test('the audit log lists the workspace entries with who did what', async () => {
    const b = await new Browser(t.url).signedIn();
    const page = await b.get('/admin/audit');
    assert.equal(page.status, 200);
    assert.match(page.text, /<code class="tag">workspace\.create<\/code>/);
    assert.match(page.text, /email: viewer@example\.com/);
    assert.match(page.text, /role: viewer/);
    assert.doesNotMatch(page.text, /name: Globex/, 'only the current workspace');
  });

  test('a user in no workspace is told so, and can still sign out', async () => {
    const b = new Browser(t.url);
    assert.equal((await b.submitLogin(LONER, PASSWORD)).status, 303);
    for (const path of ['/admin/links', '/admin/audit']) {
      const page = await b.get(path);
      assert.equal(page.status, 200);
      assert.match(page.text, /You are not in a workspace yet/);
    }
    assert.equal((await b.post('/admin/logout', { _csrf: b.csrf! })).status, 303);
  });

  test('sessions end after 12 idle hours and 30 days after sign-in; the retention job deletes them', async () => {
    const idle = await new Browser(t.url).signedIn();
    clock.advance(SESSION_IDLE_MS - MINUTE);
    assert.equal((await idle.get('/admin/links')).status, 200, 'a request within 12 hours keeps it alive');
    clock.advance(SESSION_IDLE_MS - MINUTE);
    assert.equal((await idle.get('/admin/links')).status, 200);
    clock.advance(SESSION_IDLE_MS);
    const expired = await idle.get('/admin/settings');
    assert.equal(expired.status, 303);
    assert.equal(expired.headers.get('location'), '/admin/login?next=%2Fadmin%2Fsettings&expired=1');
    assert.match((await idle.get(expired.headers.get('location')!)).text, /Your session has expired/);

    const busy = await new Browser(t.url).signedIn();
    const started = clock.now();
    while (clock.now() + 11 * HOUR < started + SESSION_MAX_AGE_MS) {
      clock.advance(11 * HOUR);
      assert.equal((await busy.get('/admin/links')).status, 200);
    }
    clock.set(started + SESSION_MAX_AGE_MS);
    assert.equal((await busy.get('/admin/links')).status, 303, 'at 30 days, however busy');

    await new Browser(t.url).signedIn();
    const before = await countSessions(t);
    clock.advance(SESSION_IDLE_MS + MINUTE);
    const outcome = await t.server.scheduler.run('retention');
    assert.equal(outcome.status, 'ok');
    assert.equal(outcome.status === 'ok' && outcome.result.expiredSessions, before);
    assert.equal(await countSessions(t), 0);
  });

  test('security headers on every admin page; no inline script or event handler in them', async () => {
    const b = await new Browser(t.url).signedIn();
    const pages = ['/admin/login', '/admin/links', '/admin/analytics', '/admin/api', '/admin/team', '/admin/settings', '/admin/audit', '/admin/instance', '/admin/nope'];
    for (const path of pages) {
      const res = path === '/admin/login' ? await t.request('GET', path) : await b.get(path);
      assert.ok([200, 404].includes(res.status), `${path}: ${res.status}`);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'(;|$)/, path);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(res.headers.get('referrer-policy'), 'same-origin', path);
      assert.equal(res.headers.get('cache-control'), 'no-store', path);
      assert.doesNotMatch(res.text, /<script(?![^>]*\bsrc=)[^>]*>/i, `${path}: inline <script>`);
      assert.doesNotMatch(res.text, /<[^>]+\son[a-z]+\s*=/i, `${path}: inline event handler`);
    }
    const setup = await t.request('GET', '/setup');
    assert.equal(setup.headers.get('referrer-policy'), 'no-referrer', 'the setup page keeps no-referrer');
  });

  test('htmx (the pinned htmx.org, vendored) and admin.js are served', async () => {
    for (const path of ['/public/vendor/htmx.min.js', '/public/admin.js']) {
      const res = await t.request('GET', path);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /^text\/javascript/);
    }
    // public/vendor/htmx.min.js is committed (the single executable embeds public/ as it is).
    // After changing the htmx.org version in package.json: npm run vendor:htmx.
    const served = (await t.request('GET', '/public/vendor/htmx.min.js')).text;
    assert.equal(served, readFileSync(join(ROOT, 'node_modules/htmx.org/dist/htmx.min.js'), 'utf8'), 'run npm run vendor:htmx');
    const pinned = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies['htmx.org'];
    assert.match(pinned ?? '', /^2\.\d+\.\d+$/, 'an exact 2.x version: htmx 4 changes how error responses swap');
  });

  test('session tokens and CSRF tokens never appear in the logs', async () => {
    const b = await new Browser(t.url).signedIn();
    await b.post('/admin/workspace', { workspace: await workspaceIdOf(t, 'Globex'), _csrf: b.csrf! });
    const secrets = [b.sessionToken!, b.csrf!];
    await b.post('/admin/logout', { _csrf: b.csrf! });
    assert.ok(t.logs.length > 0);
    for (const line of t.logs) for (const s of secrets) assert.ok(!line.includes(s), `secret in log line: ${line}`);
    assert.ok(t.logs.some((l) => l.includes('"msg":"signed in"')));
  });
});

describe('admin sign-in throttling', () => {
  const clock = fakeClock(Date.UTC(2030, 0, 1, 9));
  let t: TestServer;
  before(async () => {
    // X-Forwarded-For from loopback is trusted here, so each scenario can come from its own address.
    t = await startTestServer({ clock, env: { LINKQR_TRUST_PROXY: 'loopback' } });
    await seed(t);
  });
  after(() => t.close());

  const from = (ip: string) => new Browser(t.url, { 'x-forwarded-for': ip });
  const tooMany = (res: HttpResult) => {
    assert.equal(res.status, 429, res.text);
    assert.match(alertOf(res.text) ?? '', /^Too many sign-in attempts\. Try again in \d+ minutes?\.$/);
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    return alertOf(res.text);
  };

  test('per account: after 5 failures even the right password waits; an unknown email behaves the same', async () => {
    for (const email of [OWNER, 'ghost@example.com']) {
      const b = from('198.51.100.1');
      for (let i = 0; i < ACCOUNT_FAILURES; i++) assert.equal((await b.submitLogin(email, `wrong ${i}`)).status, 400, `${email} #${i}`);
      const message = tooMany(await b.submitLogin(email, PASSWORD));
      assert.equal(message, 'Too many sign-in attempts. Try again in 15 minutes.', email);
      // The account, not the address: another address is refused too.
      tooMany(await from('198.51.100.2').submitLogin(email.toUpperCase(), PASSWORD));
    }
    clock.advance(THROTTLE_WINDOW_MS);
    assert.equal((await from('198.51.100.1').submitLogin(OWNER, PASSWORD)).status, 303, 'the window has passed');
  });

  test('guesses sent all at once are counted one by one: 5 are tried, the others wait', async () => {
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => from('198.51.100.9').submitLogin('together@example.com', `guess ${i}`)));
    assert.deepEqual(answers.map((r) => r.status).sort(), [...Array(5).fill(400), ...Array(7).fill(429)]);
  });

  test('per account: a success clears the failures', async () => {
    const attempt = (password: string) => from('198.51.100.3').submitLogin(VIEWER, password);
    for (let i = 0; i < ACCOUNT_FAILURES - 1; i++) assert.equal((await attempt('wrong')).status, 400);
    assert.equal((await attempt(PASSWORD)).status, 303);
    for (let i = 0; i < ACCOUNT_FAILURES - 1; i++) assert.equal((await attempt('wrong')).status, 400);
    assert.equal((await attempt(PASSWORD)).status, 303, 'four more failures are allowed, not one');
  });

  test('per address: 20 failures on any accounts, then every sign-in from it waits; other addresses do not', async () => {
    const b = from('203.0.113.7');
    for (let i = 0; i < IP_FAILURES; i++) assert.equal((await b.submitLogin(`user${i}@example.com`, 'wrong')).status, 400, `#${i}`);
    tooMany(await b.submitLogin(LONER, PASSWORD));
    assert.equal((await from('203.0.113.8').submitLogin(LONER, PASSWORD)).status, 303);
    clock.advance(5 * MINUTE);
    assert.equal(tooMany(await b.submitLogin(LONER, PASSWORD)), 'Too many sign-in attempts. Try again in 10 minutes.', 'the window slides');
  });

  test('behind a trusted proxy that says https, the session cookie is Secure', async () => {
    const b = from('198.51.100.9');
    await b.get('/admin/login');
    await b.post('/admin/login', { email: LONER, password: PASSWORD, _csrf: b.csrf! }, { 'x-forwarded-proto': 'https' });
    assert.match(sessionCookie(b), /; Secure/);
  });
});

describe('admin cookies without a trusted proxy', () => {
  test('X-Forwarded-Proto from an untrusted client does not make the cookie Secure', async () => {
    const t = await startTestServer();
    try {
      await seed(t);
      const b = new Browser(t.url, { 'x-forwarded-proto': 'https' });
      assert.equal((await b.submitLogin(OWNER, PASSWORD)).status, 303);
      assert.doesNotMatch(sessionCookie(b), /; Secure/i);
    } finally {
      await t.close();
    }
  });
});
