import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listAudit } from '../audit/audit.js';
import { createUser } from '../users/users.service.js';
import { requireWorkspace } from '../workspaces/workspaces.service.js';
import { AdminClient } from '../testing/admin-client.js';
import { runCli, startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';

// These tests run the built bundle: `npm run build` first.

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a brand new passphrase';
const OWNER = 'ada@example.com';

describe('linkqr user reset-password', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
  });
  after(() => t.close());

  test('prints only a one-time link on LINKQR_BASE_URL; it sets a new password and ends the sessions', async () => {
    const signedIn = await new AdminClient(t.url).signIn(OWNER, PASSWORD);
    const r = await runCli(['user', 'reset-password', '--email', 'Ada@Example.com'], { dataDir: t.dataDir, env: { LINKQR_BASE_URL: 'https://go.example.com/' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^https:\/\/go\.example\.com\/admin\/set-password\?token=[A-Za-z0-9_-]{43}\n$/, 'one line: the link');
    assert.match(r.stderr, /One-time link for ada@example\.com to choose a new password: it works once, within 24 hours, and signs them out everywhere when used\./);
    assert.doesNotMatch(r.stderr, /LINKQR_BASE_URL is not set/);

    // The link, opened on this server (the base URL is only its public name).
    const path = new URL(r.stdout.trim()).pathname + new URL(r.stdout.trim()).search;
    const visitor = new AdminClient(t.url);
    assert.equal((await visitor.get(path)).status, 200);
    const token = new URL(r.stdout.trim()).searchParams.get('token')!;
    const done = await visitor.request('POST', '/admin/set-password', { form: { token, password: NEW_PASSWORD, confirm: NEW_PASSWORD } });
    assert.equal(done.status, 200, done.text);
    assert.equal((await signedIn.get('/admin/links')).status, 303, 'the old session ended');
    await new AdminClient(t.url).signIn(OWNER, NEW_PASSWORD);

    const acme = (await requireWorkspace(t.store, 'Acme')).id;
    const [set, issued] = await listAudit(t.store.db, acme, 2);
    assert.equal(set!.action, 'user.password_set');
    assert.equal(issued!.action, 'user.password_reset_issued');
    assert.match(issued!.actor, /^operator:cli:/);
    assert.deepEqual(issued!.summary, { email: OWNER, via: 'cli', delivery: 'link' });
  });

  test("without LINKQR_BASE_URL the link uses the server's default address, and says so", async () => {
    const r = await runCli(['user', 'reset-password', '--email', OWNER], { dataDir: t.dataDir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^http:\/\/127\.0\.0\.1:8080\/admin\/set-password\?token=[A-Za-z0-9_-]{43}\n$/);
    assert.match(r.stderr, /LINKQR_BASE_URL is not set: the link uses the server's own address, http:\/\/127\.0\.0\.1:8080\./);
  });

  test('an unknown email: a clear error, exit 1, nothing on stdout, no link made', async () => {
    const before = (await t.store.db.row<{ n: number }>('select count(*) as n from password_tokens'))!.n;
    const r = await runCli(['user', 'reset-password', '--email', 'nobody@example.com'], { dataDir: t.dataDir });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'linkqr: No user has the email nobody@example.com: "linkqr user create" makes one.\n');
    assert.equal((await t.store.db.row<{ n: number }>('select count(*) as n from password_tokens'))!.n, before);
  });

  test('--email is required; --help shows the usage', async () => {
    const missing = await runCli(['user', 'reset-password'], { dataDir: t.dataDir });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Usage: linkqr user reset-password --email E/);
    const help = await runCli(['user', 'reset-password', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: linkqr user reset-password --email E\n/);
    assert.match(help.stdout, /print a one-time link/);
    const general = await runCli(['--help']);
    assert.match(general.stdout, /^ {2}user reset-password +print a one-time link/m);
  });
});
