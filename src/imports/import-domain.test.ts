import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ImportJobRow } from '../db/schema.js';
import { releaseDomainClaim } from '../domains/domain-claims.js';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { findWorkspaceByName } from '../workspaces/workspaces.repo.js';
import { getImport, IMPORT_LEASE_MS, processImport, startImport } from './imports.service.js';

// An import given a domain checked it once, when queued, and put every later chunk's links on it:
// deleted or released meanwhile, the name kept links that would redirect for whichever workspace
// verifies it next. The runner is driven here as `linkqr links import` drives it, with the
// domain removed in its `renew` step, which runs between two chunks (500 rows each).

describe("an import's domain removed while the import runs", () => {
  let t: TestServer;
  let key: string;
  let workspaceId: string;
  before(async () => {
    t = await startTestServer();
    key = await t.key();
    workspaceId = (await findWorkspaceByName(t.store.db, 'Acme'))!.id;
  });
  after(() => t.close());

  const deps = () => ({ ...t.server.deps, importsChanged: () => {} });
  const linksOn = async (hostname: string) => Number((await t.store.db.row<{ n: number }>('select count(*) as n from links where domain = ?', hostname))!.n);

  /** Queued and claimed at once, as the CLI does: the server's runner leaves it to this test. */
  async function claimed(urls: string[], domain: string): Promise<ImportJobRow> {
    const data = ['url', ...urls].join('\n');
    const started = await startImport(deps(), workspaceId, TEST_OPERATOR, { format: 'csv', data, domain });
    await t.store.db.exec("update imports set status = 'running', lease_until = ? where id = ?", Date.now() + IMPORT_LEASE_MS, started.id);
    return (await t.store.db.first(t.store.db.q.selectFrom('imports').selectAll().where('id', '=', started.id)))!;
  }

  /** Runs the import to its end, calling `between` after its first chunk. */
  async function run(job: ImportJobRow, between: () => Promise<void>) {
    let chunks = 0;
    await processImport(deps(), job, async () => {
      if (++chunks === 1) await between();
    });
    return getImport(t.server.deps, workspaceId, job.id);
  }

  test('deleted by the workspace after the first chunk: no link is put on it, and the import says why it stopped', async () => {
    const domain = (await t.request('POST', '/api/v1/domains', { key, body: { hostname: 'go.deleted.test' } })).json;
    // The first chunk makes no link (a domain with links cannot be deleted); the second would.
    const urls = [...Array.from({ length: 500 }, (_, i) => `ftp://example.com/not-http-${i}`), ...Array.from({ length: 20 }, (_, i) => `https://example.com/after-${i}`)];
    const job = await claimed(urls, 'go.deleted.test');
    const done = await run(job, async () => {
      assert.equal((await t.request('DELETE', `/api/v1/domains/${domain.id}`, { key })).status, 204);
    });
    assert.equal(await linksOn('go.deleted.test'), 0);
    assert.deepEqual({ status: done.status, processed: done.processed, created: done.created }, { status: 'failed', processed: 500, created: 0 });
    assert.match(done.error!, /^the domain go\.deleted\.test was removed from this workspace while the import ran/);
  });

  test('released by an operator after the first chunk: the links it had go with it, none is made after', async () => {
    assert.equal((await t.request('POST', '/api/v1/domains', { key, body: { hostname: 'go.released.test' } })).status, 201);
    const job = await claimed(Array.from({ length: 520 }, (_, i) => `https://example.com/released-${i}`), 'go.released.test');
    const done = await run(job, async () => {
      assert.equal(await linksOn('go.released.test'), 500);
      const released = await releaseDomainClaim(t.server.deps, TEST_OPERATOR, 'go.released.test');
      assert.equal(released.linksRemoved, 500);
    });
    assert.equal(await linksOn('go.released.test'), 0);
    assert.deepEqual({ status: done.status, processed: done.processed, created: done.created }, { status: 'failed', processed: 500, created: 500 });
    assert.match(done.error!, /go\.released\.test was removed from this workspace .*released by an operator/);
  });

  test('still there: every chunk goes on it', async () => {
    assert.equal((await t.request('POST', '/api/v1/domains', { key, body: { hostname: 'go.kept.test' } })).status, 201);
    const job = await claimed(Array.from({ length: 520 }, (_, i) => `https://example.com/kept-${i}`), 'go.kept.test');
    const done = await run(job, async () => {});
    assert.deepEqual({ status: done.status, created: done.created, error: done.error }, { status: 'done', created: 520, error: null });
    assert.equal(await linksOn('go.kept.test'), 520);
  });
});
