import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { issueSetupToken, SETUP_TOKEN_TTL_MS } from '../../setup/setup.service.js';
import { AdminClient } from '../../testing/admin-client.js';
import { eventually, fakeClock, spawnServer, startTestServer, tempDataDir, type TestServer } from '../../testing/harness.js';

const form = (fields: Record<string, string>) => ({
  rawBody: new URLSearchParams(fields).toString(),
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
});

describe('first-run setup page', () => {
  const clock = fakeClock();
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ clock });
  });
  after(() => t.close());

  test('refuses missing, wrong and expired tokens; a new token voids the old one', async () => {
    const first = (await issueSetupToken(t.store))!;
    assert.equal((await t.request('GET', '/setup')).status, 403);
    assert.equal((await t.request('GET', '/setup?token=nope')).status, 403);
    assert.equal((await t.request('GET', `/setup?token=${first}`)).status, 200);

    const second = (await issueSetupToken(t.store))!;
    assert.equal((await t.request('GET', `/setup?token=${first}`)).status, 403, 'a restart issues a new token and voids the old');
    assert.equal((await t.request('GET', `/setup?token=${second}`)).status, 200);

    clock.advance(SETUP_TOKEN_TTL_MS);
    const expired = await t.request('GET', `/setup?token=${second}`);
    assert.equal(expired.status, 403);
    assert.match(expired.text, /expired/);
  });

  test('shows the form with strict headers, errors beside fields, then creates the owner once', async () => {
    const token = (await issueSetupToken(t.store))!;
    const page = await t.request('GET', `/setup?token=${token}`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer', 'the token in the URL must not leak as a referrer');
    assert.match(page.text, /name="token" value="[^"]+"/);

    const mismatch = await t.request('POST', '/setup', form({ token, email: 'owner@example.com', password: 'long enough pw', confirm: 'other', workspace: 'Acme' }));
    assert.equal(mismatch.status, 400);
    assert.match(mismatch.text, /id="confirm-error">does not match the password</);
    assert.match(mismatch.text, /value="owner@example.com"/, 'typed values are kept');
    assert.doesNotMatch(mismatch.text, /long enough pw/, 'passwords are never echoed');

    const invalid = await t.request('POST', '/setup', form({ token, email: 'not-an-email', password: 'short', confirm: 'short', workspace: '' }));
    assert.equal(invalid.status, 400);
    assert.match(invalid.text, /id="email-error"/);
    assert.match(invalid.text, /id="password-error">must be at least 10 characters</);

    // The new owner is signed in at once, in their workspace.
    const browser = new AdminClient(t.url);
    const done = await browser.request('POST', '/setup', { form: { token, email: 'Owner@Example.com', password: 'long enough pw', confirm: 'long enough pw', workspace: 'Acme' } });
    assert.equal(done.status, 303);
    assert.equal(done.headers.get('location'), '/admin/links');
    assert.match(browser.setCookies.join('\n'), /^linkqr_session=[A-Za-z0-9_-]{43};.*; HttpOnly; SameSite=Lax$/m);
    const home = await browser.get('/admin/links');
    assert.equal(home.status, 200);
    assert.match(home.text, /Your account and the workspace &quot;Acme&quot; are ready\./);
    assert.equal((await browser.get('/admin/team')).status, 200);

    const user = await t.store.db.rows<{ id: string; email: string; is_instance_admin: number }>('select id, email, is_instance_admin from users');
    assert.deepEqual(user.map((u) => [u.email, u.is_instance_admin]), [['owner@example.com', 1]]);
    const membership = await t.store.db.rows('select w.name, m.role from memberships m join workspaces w on w.id = m.workspace_id where m.user_id = ?', user[0]!.id);
    assert.deepEqual(membership, [{ name: 'Acme', role: 'owner' }]);

    // Gone once used: GET and a replayed POST both answer 404, and no second user appears.
    assert.equal((await t.request('GET', `/setup?token=${token}`)).status, 404);
    const replay = await t.request('POST', '/setup', form({ token, email: 'second@example.com', password: 'long enough pw', confirm: 'long enough pw', workspace: 'B' }));
    assert.equal(replay.status, 404);
    assert.equal(await issueSetupToken(t.store), undefined, 'no token once a user exists');
    assert.equal((await t.store.db.row<{ n: number }>('select count(*) as n from users'))!.n, 1);

    // The session is an ordinary one: signing out ends it, and the password signs in again.
    assert.equal((await browser.post('/admin/logout', {})).status, 303);
    assert.equal((await browser.get('/admin/links')).status, 303);
    await new AdminClient(t.url).signIn('owner@example.com', 'long enough pw');
  });
});

describe('linkqr serve on an instance without users', () => {
  test('prints a working setup link on stderr and never puts the token in the JSON log lines', async () => {
    const dataDir = tempDataDir();
    const server = await spawnServer(dataDir);
    try {
      const output = await eventually(async () => {
        const { output } = await server.peek();
        return /setup\?token=[A-Za-z0-9_-]+\n/.test(output) && output;
      });
      const m = /(http:\/\/[^\s]+\/setup\?token=([A-Za-z0-9_-]+))/.exec(output);
      assert.ok(m, output);
      const res = await fetch(m[1]!);
      assert.equal(res.status, 200);
      for (const line of output.split('\n').filter((l) => l.startsWith('{'))) assert.ok(!line.includes(m[2]!), `token in log line: ${line}`);
    } finally {
      const { code } = await server.stop();
      assert.equal(code, 0);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
