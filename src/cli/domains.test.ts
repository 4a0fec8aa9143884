import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listAudit } from '../audit/audit.js';
import { rawHttp, runCli, startTestServer, type TestServer } from '../testing/harness.js';
import { startReceiver } from '../testing/receiver.js';
import { findWorkspaceByName } from '../workspaces/workspaces.repo.js';

// Runs the built bundle (`npm run build` first), beside a running server on the same database.

describe('linkqr domain release: an unverified claim on a hostname is freed', () => {
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  /** A workspace that added a name it does not control. */
  let squatter: string;
  /** The name's real owner, in another workspace. */
  let owner: string;
  const cli = (...args: string[]) => runCli(args, { dataDir: t.dataDir });
  const api = (key: string, method: string, path: string, body?: unknown) => t.request(method, path, { key, body });

  before(async () => {
    receiver = await startReceiver();
    t = await startTestServer({ env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' } });
    squatter = await t.key({ workspace: 'Squatter' });
    owner = await t.key({ workspace: 'Acme' });
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  test('removes the domain and its links (link.deleted to the workspace webhooks), audits it there, and the owner can add the name', async () => {
    assert.equal((await api(squatter, 'POST', '/api/v1/webhooks', { url: `${receiver.url}/squatter`, events: ['link.deleted'] })).status, 201);
    assert.equal((await api(squatter, 'POST', '/api/v1/domains', { hostname: 'go.acme.test' })).status, 201);
    for (const slug of ['spring', 'summer']) {
      assert.equal((await api(squatter, 'POST', '/api/v1/links', { url: `https://evil.test/${slug}`, slug, domain: 'go.acme.test' })).status, 201);
    }
    assert.equal((await api(squatter, 'POST', '/api/v1/links', { url: 'https://evil.test/base', slug: 'base-stays' })).status, 201);
    const taken = await api(owner, 'POST', '/api/v1/domains', { hostname: 'go.acme.test' });
    assert.equal(taken.status, 409);
    assert.equal(taken.json.code, 'domain_taken');

    // Any case, a trailing dot: the name as the domain table holds it.
    const r = await cli('domain', 'release', 'GO.Acme.Test.');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^Released go\.acme\.test from workspace "Squatter": its unverified domain and 2 links on it are removed; any workspace can add it now\.\n$/);

    assert.deepEqual((await api(squatter, 'GET', '/api/v1/domains')).json.data, []);
    assert.deepEqual((await api(squatter, 'GET', '/api/v1/links')).json.data.map((l: { slug: string }) => l.slug), ['base-stays'], 'links on other domains stay');
    const squatterId = (await findWorkspaceByName(t.store.db, 'Squatter'))!.id;
    const entry = (await listAudit(t.store.db, squatterId, 10)).find((e) => e.action === 'domain.release');
    assert.match(entry?.actor ?? '', /^operator:cli:/, 'the operator, as for other CLI changes');
    assert.match(entry!.target, /^domain:dom_/);
    assert.deepEqual(entry!.summary, { hostname: 'go.acme.test', linksRemoved: 2 });

    await receiver.waitFor(2);
    const deleted = receiver.events().map((hook) => JSON.parse(hook.body) as { type: string; data: { slug: string; domain: string; shortUrl: string } });
    assert.deepEqual(deleted.map((e) => [e.type, e.data.domain, e.data.slug]).sort(), [['link.deleted', 'go.acme.test', 'spring'], ['link.deleted', 'go.acme.test', 'summer']]);
    assert.equal(deleted.find((e) => e.data.slug === 'spring')!.data.shortUrl, 'http://go.acme.test/spring');

    // The real owner adds the name, proves it, and gets its slugs on it.
    const added = await api(owner, 'POST', '/api/v1/domains', { hostname: 'go.acme.test' });
    assert.equal(added.status, 201, added.text);
    assert.equal((await t.verifyDomain(owner, added.json.id)).status, 200);
    assert.equal((await api(owner, 'POST', '/api/v1/links', { url: 'https://acme.test/spring', slug: 'spring', domain: 'go.acme.test' })).status, 201);
    assert.equal((await rawHttp(t.url, 'GET', '/spring', { host: 'go.acme.test' })).headers.location, 'https://acme.test/spring');
  });

  test('a verified domain, an unknown name and a non-name are refused, exit 1, and nothing changes', async () => {
    const verified = await cli('domain', 'release', 'go.acme.test');
    assert.equal(verified.code, 1, verified.stderr);
    assert.equal(verified.stdout, '');
    assert.match(verified.stderr, /^linkqr: go\.acme\.test is verified: workspace "Acme" proved by its DNS record that it controls the name, so it is not released\./);
    assert.equal((await api(owner, 'GET', '/api/v1/domains')).json.data[0]?.hostname, 'go.acme.test');
    assert.equal((await rawHttp(t.url, 'GET', '/spring', { host: 'go.acme.test' })).headers.location, 'https://acme.test/spring', 'its links stay');

    const unknown = await cli('domain', 'release', 'nobody.acme.test');
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, 'linkqr: The domain nobody.acme.test was not found.\n');
    const notAName = await cli('domain', 'release', 'https://go.acme.test/x');
    assert.equal(notAName.code, 1);
    assert.match(notAName.stderr, /^linkqr: "https:\/\/go\.acme\.test\/x" is not a domain name such as go\.example\.com\.\n$/);
    const missing = await cli('domain', 'release');
    assert.equal(missing.code, 2, 'HOSTNAME is required');
  });

  test('--json: one object naming what was removed; an internationalised name is found in any form', async () => {
    const claim = await api(squatter, 'POST', '/api/v1/domains', { hostname: 'bücher.acme.test' });
    assert.equal(claim.json.hostname, 'xn--bcher-kva.acme.test');
    const r = await cli('domain', 'release', 'BÜCHER.acme.test', '--json');
    assert.equal(r.code, 0, r.stderr);
    const squatterId = (await findWorkspaceByName(t.store.db, 'Squatter'))!.id;
    assert.deepEqual(JSON.parse(r.stdout), { hostname: 'xn--bcher-kva.acme.test', workspaceId: squatterId, workspace: 'Squatter', linksRemoved: 0 });
    assert.match(r.stdout, /^[^\n]+\n$/, 'one line');
    assert.equal((await api(squatter, 'GET', `/api/v1/domains/${claim.json.id}`)).status, 404);
  });

  test('--help lists it', async () => {
    const help = await cli('--help');
    assert.match(help.stdout, /^ {2}domain release +free a hostname a workspace added but never verified/m);
    const own = await cli('domain', 'release', '--help');
    assert.match(own.stdout, /^Usage: linkqr domain release HOSTNAME \[--json\]$/m);
  });
});
