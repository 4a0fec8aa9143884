import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { listAudit } from '../../audit/audit.js';
import { rawHttp, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';
import { startReceiver } from '../../testing/receiver.js';
import { findWorkspaceByName } from '../../workspaces/workspaces.repo.js';
import { setWorkspacePlan, upsertPlan } from '../../workspaces/plans.js';

const DOMAIN_FIELDS = ['createdAt', 'hostname', 'id', 'notFoundRedirect', 'rootRedirect', 'updatedAt', 'verification', 'verified', 'verifiedAt'];

describe('domains: API, links on them, redirects by Host', () => {
  let t: TestServer;
  let key: string;
  let other: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  /** A request as a visitor of `host` makes it: the Host header names the domain. */
  const visit = (host: string, path: string, method = 'GET') => rawHttp(t.url, method, path, { host });

  before(async () => {
    receiver = await startReceiver();
    t = await startTestServer({ env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' } });
    key = await t.key();
    other = await t.key({ workspace: 'Other' });
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  test('a domain is added in canonical form, listed, read and changed; its Domain JSON has the SPEC fields', async () => {
    const created = await t.request('POST', '/api/v1/domains', { key, body: { hostname: ' Go.Acme.Test. ' } });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(Object.keys(created.json).sort(), DOMAIN_FIELDS);
    assert.equal(created.json.hostname, 'go.acme.test');
    assert.equal(created.json.rootRedirect, null);
    assert.equal(created.headers.get('location'), `/api/v1/domains/${created.json.id}`);
    assert.equal(created.json.verified, false);
    assert.equal(created.json.verification.name, '_linkqr.go.acme.test');
    assert.match(created.json.verification.value, /^linkqr-verification=[0-9A-Za-z]{24}$/);
    const verified = await t.verifyDomain(key, created.json.id);
    assert.equal(verified.status, 200, verified.text);
    assert.equal(verified.json.verified, true);
    const idn = await t.request('POST', '/api/v1/domains', { key, body: { hostname: 'bücher.test' } });
    assert.equal(idn.json.hostname, 'xn--bcher-kva.test');

    const list = await t.request('GET', '/api/v1/domains', { key });
    assert.deepEqual(list.json.data.map((d: { hostname: string }) => d.hostname), ['go.acme.test', 'xn--bcher-kva.test']);
    assert.equal((await t.request('GET', `/api/v1/domains/${created.json.id}`, { key })).json.hostname, 'go.acme.test');

    const changed = await t.request('PATCH', `/api/v1/domains/${created.json.id}`, { key, body: { notFoundRedirect: 'https://acme.test/missing' } });
    assert.equal(changed.status, 200, changed.text);
    assert.equal(changed.json.notFoundRedirect, 'https://acme.test/missing');
    const rename = await t.request('PATCH', `/api/v1/domains/${created.json.id}`, { key, body: { hostname: 'new.acme.test' } });
    assert.equal(rename.status, 400);
    assert.equal(rename.json.errors[0].field, 'hostname');

    const entries = await listAudit(t.store.db, (await findWorkspaceByName(t.store.db, 'Acme'))!.id, 50);
    assert.ok(entries.some((e) => e.action === 'domain.create'));
    assert.ok(entries.some((e) => e.action === 'domain.verify'));
    assert.ok(entries.some((e) => e.action === 'domain.update'));
  });

  test('refusals: not a domain name, the server\'s own host, a name another workspace has, ids of other workspaces, read-only keys', async () => {
    for (const hostname of ['10.0.0.1', 'localhost', 'https://x.test', 'x.test:8443', 'x.test/path']) {
      const res = await t.request('POST', '/api/v1/domains', { key, body: { hostname } });
      assert.equal(res.status, 400, hostname);
      assert.equal(res.json.errors[0].field, 'hostname');
    }
    const own = await t.request('POST', '/api/v1/domains', { key, body: { hostname: 'localhost.test' } });
    assert.equal(own.status, 201, 'a name that only starts like the base host is fine');
    const taken = await t.request('POST', '/api/v1/domains', { key: other, body: { hostname: 'GO.acme.test' } });
    assert.equal(taken.status, 409);
    assert.equal(taken.json.code, 'domain_taken');
    const theirs = (await t.request('GET', '/api/v1/domains', { key })).json.data[0].id;
    assert.equal((await t.request('GET', `/api/v1/domains/${theirs}`, { key: other })).status, 404);
    assert.equal((await t.request('DELETE', `/api/v1/domains/${theirs}`, { key: other })).status, 404);
    const reader = await t.key({ scopes: ['links:read'], name: 'reader' });
    const refused = await t.request('POST', '/api/v1/domains', { key: reader, body: { hostname: 'read.acme.test' } });
    assert.equal(refused.status, 403);
    assert.equal(refused.json.code, 'insufficient_scope');
    assert.match(refused.json.detail, /links:write/);
  });

  test('links live on a domain: the short URL and QR URL use it, slugs are unique per domain, visitors are routed by Host', async () => {
    const onBase = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/base', slug: 'spring' } });
    assert.equal(onBase.json.domain, '127.0.0.1');
    assert.equal(onBase.json.shortUrl, `${t.url}/spring`);
    const onDomain = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/acme', slug: 'spring', domain: 'GO.ACME.TEST' } });
    assert.equal(onDomain.status, 201, onDomain.text);
    assert.equal(onDomain.json.domain, 'go.acme.test');
    assert.equal(onDomain.json.shortUrl, 'http://go.acme.test/spring');
    assert.equal(onDomain.json.qrUrl, 'http://go.acme.test/spring?qr=1');

    const again = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/x', slug: 'spring', domain: 'go.acme.test' } });
    assert.equal(again.status, 409);
    assert.equal(again.json.code, 'slug_taken');
    assert.deepEqual(again.json.errors, [{ field: 'slug', message: 'is already in use on go.acme.test' }]);

    assert.equal((await visit('go.acme.test', '/spring')).headers.location, 'https://example.com/acme');
    assert.equal((await visit('Go.Acme.Test:443', '/spring/')).headers.location, 'https://example.com/acme', 'any case, a port, a trailing slash');
    assert.equal((await visit('127.0.0.1', '/spring')).headers.location, 'https://example.com/base');
    assert.equal((await visit('unknown.test', '/spring')).headers.location, 'https://example.com/base', 'any other host serves the base links');

    // Another workspace's domain cannot get this workspace's links, nor the other way round.
    const foreign = await t.request('POST', '/api/v1/links', { key: other, body: { url: 'https://example.com/', domain: 'go.acme.test' } });
    assert.equal(foreign.status, 400);
    assert.match(foreign.json.errors[0].message, /^is not a domain of this workspace/);

    // The base host named explicitly, by name or as the short URLs show it (with its port).
    const explicit = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/', domain: new URL(t.url).host } });
    assert.equal(explicit.status, 201, explicit.text);
    assert.equal(explicit.json.shortUrl, `${t.url}/${explicit.json.slug}`);
  });

  test('moving a link to another domain moves its redirect at once', async () => {
    const link = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/move', slug: 'move' } })).json;
    assert.equal((await visit('127.0.0.1', '/move')).status, 302, 'cached on the base host');
    const moved = await t.request('PATCH', `/api/v1/links/${link.id}`, { key, body: { domain: 'go.acme.test' } });
    assert.equal(moved.status, 200, moved.text);
    assert.equal(moved.json.shortUrl, 'http://go.acme.test/move');
    assert.equal((await visit('127.0.0.1', '/move')).status, 404);
    assert.equal((await visit('go.acme.test', '/move')).headers.location, 'https://example.com/move');
    const clash = await t.request('PATCH', `/api/v1/links/${link.id}`, { key, body: { slug: 'spring' } });
    assert.equal(clash.status, 409, 'spring is taken on go.acme.test');
  });

  test('an unverified domain gets nothing: no redirects, no TLS; a TXT record without the token is not enough', async () => {
    const squatted = (await t.request('POST', '/api/v1/domains', { key: other, body: { hostname: 'claimed.acme.test', notFoundRedirect: 'https://evil.test/' } })).json;
    await t.request('POST', '/api/v1/links', { key: other, body: { url: 'https://evil.test/x', slug: 'spring', domain: 'claimed.acme.test' } });
    assert.equal((await visit('claimed.acme.test', '/spring')).headers.location, 'https://example.com/base', "the base host's link, not the claimer's");
    assert.equal((await visit('claimed.acme.test', '/nothing')).status, 404);
    assert.equal((await t.request('GET', '/.well-known/linkqr/tls-allowed?domain=claimed.acme.test')).status, 404);

    const missing = await t.request('POST', `/api/v1/domains/${squatted.id}/verify`, { key: other });
    assert.equal(missing.status, 409);
    assert.equal(missing.json.code, 'domain_not_verified');
    assert.match(missing.json.detail, /_linkqr\.claimed\.acme\.test has no TXT record yet/);
    t.txt.set('_linkqr.claimed.acme.test', ['linkqr-verification=someone-elses-token']);
    const wrong = await t.request('POST', `/api/v1/domains/${squatted.id}/verify`, { key: other });
    assert.match(wrong.json.detail, /has TXT records, but none holds linkqr-verification=/);
    assert.equal((await t.request('GET', `/api/v1/domains/${squatted.id}`, { key: other })).json.verified, false);
  });

  test("a domain's `/` and unknown paths: its own redirects, or a page naming it and the 404 page", async () => {
    const domain = (await t.request('POST', '/api/v1/domains', { key, body: { hostname: 'plain.acme.test' } })).json;
    await t.verifyDomain(key, domain.id);
    const root = await visit('plain.acme.test', '/');
    assert.equal(root.status, 200);
    assert.match(root.body.toString(), /plain\.acme\.test/);
    assert.doesNotMatch(root.body.toString(), /\/admin/, "an added domain's visitors are not shown the admin");
    assert.match((await visit('127.0.0.1', '/')).body.toString(), /href="\/admin"/);
    assert.equal((await visit('plain.acme.test', '/nothing-here')).status, 404);

    await t.request('PATCH', `/api/v1/domains/${domain.id}`, { key, body: { rootRedirect: 'https://acme.test/', notFoundRedirect: 'https://acme.test/oops?from=short' } });
    const redirected = await visit('plain.acme.test', '/');
    assert.equal(redirected.status, 302);
    assert.equal(redirected.headers.location, 'https://acme.test/');
    assert.equal(redirected.headers['cache-control'], 'private, max-age=0');
    const unknown = await visit('plain.acme.test', '/nothing-here');
    assert.equal(unknown.status, 302);
    assert.equal(unknown.headers.location, 'https://acme.test/oops?from=short');
    assert.equal((await visit('plain.acme.test', '/not/a/slug')).headers.location, 'https://acme.test/oops?from=short');
    assert.equal((await visit('127.0.0.1', '/nothing-here')).status, 404, 'the base host keeps its 404 page');
    assert.equal((await visit('plain.acme.test', '/nothing-here', 'HEAD')).status, 302);
  });

  test('the TLS ask endpoint answers 200 for names served here and 404 otherwise, as domains come and go', async () => {
    const ask = (domain: string) => t.request('GET', `/.well-known/linkqr/tls-allowed?domain=${encodeURIComponent(domain)}`);
    assert.equal((await ask('go.acme.test')).status, 200);
    assert.equal((await ask('GO.acme.test')).status, 200);
    assert.equal((await ask('127.0.0.1')).status, 200, 'the base URL host');
    assert.equal((await ask('evil.test')).status, 404);
    assert.equal((await t.request('GET', '/.well-known/linkqr/tls-allowed')).status, 404);

    const domain = (await t.request('POST', '/api/v1/domains', { key, body: { hostname: 'brief.acme.test' } })).json;
    assert.equal((await ask('brief.acme.test')).status, 404, 'not before it is verified');
    await t.verifyDomain(key, domain.id);
    assert.equal((await ask('brief.acme.test')).status, 200);
    assert.equal((await t.request('DELETE', `/api/v1/domains/${domain.id}`, { key })).status, 204);
    assert.equal((await ask('brief.acme.test')).status, 404);
  });

  test('a domain with links cannot be deleted; once empty it can, and its host serves the base links again', async () => {
    const domain = (await t.request('POST', '/api/v1/domains', { key, body: { hostname: 'busy.acme.test' } })).json;
    await t.verifyDomain(key, domain.id);
    const link = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/busy', slug: 'busy', domain: 'busy.acme.test' } })).json;
    const refused = await t.request('DELETE', `/api/v1/domains/${domain.id}`, { key });
    assert.equal(refused.status, 409);
    assert.equal(refused.json.code, 'domain_in_use');
    assert.match(refused.json.detail, /1 link live on busy\.acme\.test/);
    assert.equal((await visit('busy.acme.test', '/busy')).status, 302);

    await t.request('DELETE', `/api/v1/links/${link.id}`, { key });
    assert.equal((await t.request('DELETE', `/api/v1/domains/${domain.id}`, { key })).status, 204);
    assert.equal((await t.request('GET', `/api/v1/domains/${domain.id}`, { key })).status, 404);
    assert.equal((await visit('busy.acme.test', '/spring')).headers.location, 'https://example.com/base');
  });

  test("webhook payloads carry the link's domain and short URL", async () => {
    const endpoint = await t.request('POST', '/api/v1/webhooks', { key, body: { url: `${receiver.url}/hooks`, events: ['link.created'] } });
    await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/hooked', slug: 'hooked', domain: 'go.acme.test' } });
    await receiver.waitFor(1);
    const hook = receiver.received[0]!;
    const payload = new Webhook(endpoint.json.secret).verify(hook.body, hook.headers as Record<string, string>) as { data: { domain: string; shortUrl: string } };
    assert.equal(payload.data.domain, 'go.acme.test');
    assert.equal(payload.data.shortUrl, 'http://go.acme.test/hooked');
  });

  test("the plan's domains limit is enforced and shown in the usage", async () => {
    const limited = await t.key({ workspace: 'Limited' });
    await upsertPlan(t.store.db, TEST_OPERATOR, 'one-domain', { features: {}, limits: { domains: 1 } }, Date.now());
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, (await findWorkspaceByName(t.store.db, 'Limited'))!.id, 'one-domain', Date.now());
    assert.equal((await t.request('POST', '/api/v1/domains', { key: limited, body: { hostname: 'one.limited.test' } })).status, 201);
    const refused = await t.request('POST', '/api/v1/domains', { key: limited, body: { hostname: 'two.limited.test' } });
    assert.equal(refused.status, 403);
    assert.equal(refused.json.code, 'plan_limit_reached');
    assert.equal(refused.json.limit, 'domains');
    assert.deepEqual((await t.request('GET', '/api/v1/me', { key: limited })).json.workspace.usage.limits.domains, { used: 1, max: 1 });
  });
});
