import assert from 'node:assert/strict';
import { test } from 'node:test';
import { insertLink } from '../links/links.repo.js';
import { domainColumn, newLinkRow } from '../links/links.service.js';
import { rawHttp, startTestServer, TEST_OPERATOR } from '../testing/harness.js';
import { releaseDomainClaim } from './domain-claims.js';

test('a link being put on a domain while its claim is released goes with the claim: it never redirects on the name once its owner verifies it', async (ctx) => {
  const t = await startTestServer();
  ctx.after(() => t.close());
  const squatter = await t.key({ workspace: 'Squatter' });
  const owner = await t.key({ workspace: 'Acme' });
  const claim = await t.request('POST', '/api/v1/domains', { key: squatter, body: { hostname: 'go.acme.test' } });
  assert.equal(claim.status, 201);
  const squatterWs = (await t.store.db.row<{ workspace_id: string }>('select workspace_id from domains where id = ?', claim.json.id))!.workspace_id;
  assert.equal((await t.request('POST', '/api/v1/links', { key: squatter, body: { url: 'https://evil.test/a', slug: 'spring', domain: 'go.acme.test' } })).status, 201);

  // What creating a link does in its transaction: the domain is checked, then the row inserted;
  // the release comes in between.
  let checked!: () => void;
  const domainChecked = new Promise<void>((resolve) => (checked = resolve));
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const creating = t.store.db.write(async (tx) => {
    const domain = await domainColumn(tx, t.url, squatterWs, 'go.acme.test');
    checked();
    await gate;
    await insertLink(tx, newLinkRow(squatterWs, TEST_OPERATOR, { url: 'https://evil.test/b', slug: 'hijack' }, Date.now(), domain));
  });
  await domainChecked;
  const releasing = releaseDomainClaim({ db: t.store.db, clock: t.store.clock, baseUrl: () => t.url, linkChanged: () => {}, outboxChanged: () => {} }, TEST_OPERATOR, 'go.acme.test');
  await new Promise((resolve) => setTimeout(resolve, 100));
  open();
  await creating;
  assert.equal((await releasing).linksRemoved, 2, 'the link put on the domain meanwhile is removed with the claim');
  assert.deepEqual(await t.store.db.rows("select slug from links where domain = 'go.acme.test'"), []);

  const added = await t.request('POST', '/api/v1/domains', { key: owner, body: { hostname: 'go.acme.test' } });
  assert.equal(added.status, 201);
  assert.equal((await t.verifyDomain(owner, added.json.id)).status, 200);
  assert.equal((await rawHttp(t.url, 'GET', '/hijack', { host: 'go.acme.test' })).status, 404);
  // And should another workspace's link ever be on the name (written past every check), it is
  // not served there: only the links of the workspace that verified the domain are.
  const stray = newLinkRow(squatterWs, TEST_OPERATOR, { url: 'https://evil.test/c', slug: 'stray' }, Date.now(), 'go.acme.test');
  await insertLink(t.store.db, stray);
  assert.equal((await rawHttp(t.url, 'GET', '/stray', { host: 'go.acme.test' })).status, 404);
  const ownerWs = (await t.store.db.row<{ workspace_id: string }>('select workspace_id from domains where id = ?', added.json.id))!.workspace_id;
  await insertLink(t.store.db, newLinkRow(ownerWs, TEST_OPERATOR, { url: 'https://acme.test/d', slug: 'real' }, Date.now(), 'go.acme.test'));
  const real = await rawHttp(t.url, 'GET', '/real', { host: 'go.acme.test' });
  assert.equal(real.status, 302);
  assert.equal(real.headers.location, 'https://acme.test/d');
});
