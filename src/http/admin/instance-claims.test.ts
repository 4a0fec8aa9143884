import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listAudit } from '../../audit/audit.js';
import { listUnverifiedClaims } from '../../domains/domain-claims.js';
import { createUser } from '../../users/users.service.js';
import { requireWorkspace } from '../../workspaces/workspaces.service.js';
import { AdminClient, textOf } from '../../testing/admin-client.js';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';
import { startReceiver } from '../../testing/receiver.js';

const PASSWORD = 'correct horse battery';
const ROOT_ADMIN = 'root@example.com';
const OWNER = 'olga@example.com';

describe('admin Instance page: unverified domains, released by an instance admin', () => {
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  /** Keys of Acme (the instance admin's workspace) and Globex (Olga's, where the admin is no member). */
  let acme: string;
  let globex: string;
  let globexId: string;
  const api = (key: string, method: string, path: string, body?: unknown) => t.request(method, path, { key, body });
  const claimed = async () => (await listUnverifiedClaims(t.store.db)).map((c) => c.hostname);

  before(async () => {
    receiver = await startReceiver();
    t = await startTestServer({ env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' } });
    // The first user is the instance admin.
    await createUser(t.store, TEST_OPERATOR, { email: ROOT_ADMIN, password: PASSWORD, workspace: 'Acme' });
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Globex' });
    globexId = (await requireWorkspace(t.store, 'Globex')).id;
    acme = await t.key({ workspace: 'Acme' });
    globex = await t.key({ workspace: 'Globex' });
    assert.equal((await api(globex, 'POST', '/api/v1/webhooks', { url: `${receiver.url}/globex`, events: ['link.deleted'] })).status, 201);
    for (const hostname of ['claimed.acme.test', 'kept.acme.test']) assert.equal((await api(globex, 'POST', '/api/v1/domains', { hostname })).status, 201);
    assert.equal((await api(globex, 'POST', '/api/v1/links', { url: 'https://evil.test/spring', slug: 'spring', domain: 'claimed.acme.test' })).status, 201);
    assert.equal((await api(acme, 'POST', '/api/v1/domains', { hostname: 'own.acme.test' })).status, 201);
    const proven = await api(acme, 'POST', '/api/v1/domains', { hostname: 'proven.acme.test' });
    assert.equal((await t.verifyDomain(acme, proven.json.id)).status, 200);
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  test('lists each unverified domain with its workspace and links; Release (confirmed first) removes it and its links, audited in that workspace', async () => {
    const admin = await new AdminClient(t.url).signIn(ROOT_ADMIN, PASSWORD, '/admin/instance');
    const page = await admin.get('/admin/instance');
    assert.match(
      textOf(page.text, 'claims-table')!,
      /^Domain Workspace Links Added Actions claimed\.acme\.test Globex 1 \d{4}-\d\d-\d\d Release kept\.acme\.test Globex 0 \d{4}-\d\d-\d\d Release own\.acme\.test Acme 0 \d{4}-\d\d-\d\d Release$/,
      'oldest first; a verified domain is not listed',
    );
    assert.match(
      page.text,
      /<form method="post" action="\/admin\/instance" data-confirm="Release claimed\.acme\.test\? The domain is removed from Globex, with its 1 link on it, and any workspace can add the name\." data-confirm-button="Release">/,
    );

    // As htmx sends it, once the dialog is confirmed.
    const res = await admin.htmx('/admin/instance', { intent: 'domain-release', hostname: 'claimed.acme.test' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('hx-redirect'), '/admin/instance');
    const after = await admin.get('/admin/instance');
    assert.match(after.text, /Released claimed\.acme\.test: the unverified domain of Globex and its 1 link are removed; any workspace can add it now\./);
    assert.doesNotMatch(textOf(after.text, 'claims-table')!, /claimed\.acme\.test/);
    assert.deepEqual((await api(globex, 'GET', '/api/v1/links')).json.data, []);
    const entry = (await listAudit(t.store.db, globexId, 10)).find((e) => e.action === 'domain.release');
    assert.equal(entry?.actor, 'operator:outside-workspace', "Globex's log does not name an admin from outside it");
    assert.equal(entry!.ip, null);
    assert.deepEqual(entry!.summary, { hostname: 'claimed.acme.test', linksRemoved: 1 });
    const hook = await receiver.waitForEvent('link.deleted');
    assert.deepEqual((JSON.parse(hook.body) as { data: { domain: string; slug: string } }).data.domain, 'claimed.acme.test');
    assert.equal((await api(acme, 'POST', '/api/v1/domains', { hostname: 'claimed.acme.test' })).status, 201, 'another workspace can add the name');

    // Without JavaScript, a domain of the admin's own workspace: there they are named.
    const plain = await admin.post('/admin/instance', { intent: 'domain-release', hostname: 'own.acme.test' });
    assert.equal(plain.status, 303);
    assert.equal(plain.headers.get('location'), '/admin/instance');
    const acmeId = (await requireWorkspace(t.store, 'Acme')).id;
    assert.match((await listAudit(t.store.db, acmeId, 10)).find((e) => e.action === 'domain.release')?.actor ?? '', /^user:usr_/);
    assert.deepEqual(await claimed(), ['kept.acme.test', 'claimed.acme.test']);
  });

  test('anyone but an instance admin is refused, and nothing is released', async () => {
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/links');
    const res = await owner.post('/admin/instance', { intent: 'domain-release', hostname: 'kept.acme.test' });
    assert.equal(res.status, 403);
    assert.match(res.text, /Only instance admins can do this\./);
    const htmx = await owner.htmx('/admin/instance', { intent: 'domain-release', hostname: 'kept.acme.test' });
    assert.equal(htmx.status, 403);
    assert.deepEqual(await claimed(), ['kept.acme.test', 'claimed.acme.test']);
    const admin = await new AdminClient(t.url).signIn(ROOT_ADMIN, PASSWORD, '/admin/instance');
    assert.equal((await admin.request('POST', '/admin/instance', { form: { intent: 'domain-release', hostname: 'kept.acme.test' } })).status, 403, 'no CSRF token');
    assert.deepEqual(await claimed(), ['kept.acme.test', 'claimed.acme.test']);
  });

  test('a verified domain or a name no one holds is said on the page, not a server error; with none left, the section says so', async () => {
    const admin = await new AdminClient(t.url).signIn(ROOT_ADMIN, PASSWORD, '/admin/instance');
    const refusals: [string, RegExp][] = [
      ['proven.acme.test', /proven\.acme\.test is verified: workspace &quot;Acme&quot; proved by its DNS record that it controls the name, so it is not released\./],
      ['gone.acme.test', /The domain gone\.acme\.test was not found\./],
      ['', /&quot;&quot; is not a domain name such as go\.example\.com\./],
    ];
    for (const [hostname, message] of refusals) {
      const res = await admin.post('/admin/instance', { intent: 'domain-release', hostname });
      assert.equal(res.status, 303, hostname);
      const page = await admin.get('/admin/instance');
      assert.match(page.text, /<div class="flash flash-error" role="alert" data-flash>/, hostname);
      assert.match(page.text, message);
    }
    assert.equal((await api(acme, 'GET', '/api/v1/domains')).json.data.find((d: { hostname: string }) => d.hostname === 'proven.acme.test')?.verified, true);

    for (const hostname of await claimed()) await admin.htmx('/admin/instance', { intent: 'domain-release', hostname });
    const empty = await admin.get('/admin/instance');
    assert.equal(textOf(empty.text, 'claims-table'), undefined);
    assert.match(textOf(empty.text, 'claims')!, /^Unverified domains 0 Every domain a workspace added is verified: no name is held without proof\./);
  });
});
