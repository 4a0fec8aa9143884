import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { eventually, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';
import { startReceiver } from '../../testing/receiver.js';
import { findWorkspaceByName } from '../../workspaces/workspaces.repo.js';
import { setWorkspacePlan, upsertPlan } from '../../workspaces/plans.js';
import { listAudit } from '../../audit/audit.js';

describe('imports: a dry run reports, the import creates, every row accounted for', () => {
  let t: TestServer;
  let key: string;
  const finished = (id: string, k = key) =>
    eventually(async () => {
      const res = await t.request('GET', `/api/v1/imports/${id}`, { key: k });
      return res.json.status === 'done' || res.json.status === 'failed' ? res.json : undefined;
    });
  const rows = async (id: string, query = '') => (await t.request('GET', `/api/v1/imports/${id}/rows${query}`, { key })).json;

  before(async () => {
    t = await startTestServer({ env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' } });
    key = await t.key();
    await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/taken', slug: 'taken' } });
  });
  after(() => t.close());

  const CSV = [
    'url,slug,title,tags',
    'https://example.com/one,one,First,"a, b"',
    'https://example.com/two,,Second,',
    'ftp://example.com/bad,bad,Not http,',
    'https://example.com/again,taken,Slug taken,',
    'https://example.com/admin,admin,Reserved,',
    '',
  ].join('\r\n');

  test('dry run: what would be created and every problem, nothing written; then for real', async () => {
    const before = (await t.request('GET', '/api/v1/links?limit=100', { key })).json.data.length;
    const queued = await t.request('POST', '/api/v1/imports', { key, body: { format: 'csv', data: CSV, dryRun: true } });
    assert.equal(queued.status, 202, queued.text);
    assert.equal(queued.headers.get('location'), `/api/v1/imports/${queued.json.id}`);
    const dry = await finished(queued.json.id);
    assert.deepEqual({ status: dry.status, dryRun: dry.dryRun, total: dry.total, processed: dry.processed, created: dry.created, skipped: dry.skipped }, { status: 'done', dryRun: true, total: 5, processed: 5, created: 2, skipped: 3 });
    const report = await rows(dry.id);
    assert.deepEqual(report.data.map((r: { line: number; outcome: string }) => [r.line, r.outcome]), [[2, 'would_create'], [3, 'would_create'], [4, 'invalid'], [5, 'conflict'], [6, 'invalid']]);
    assert.equal(report.data[2].problems[0].field, 'url');
    assert.deepEqual(report.data[3].problems, [{ field: 'slug', message: 'is already in use on 127.0.0.1' }]);
    assert.match(report.data[4].problems[0].message, /reserved/);
    assert.equal((await t.request('GET', '/api/v1/links?limit=100', { key })).json.data.length, before, 'a dry run writes no link');

    const real = await finished((await t.request('POST', '/api/v1/imports', { key, body: { format: 'csv', data: CSV } })).json.id);
    assert.deepEqual({ status: real.status, created: real.created, skipped: real.skipped }, { status: 'done', created: 2, skipped: 3 });
    const created = await rows(real.id, '?outcome=created');
    assert.equal(created.data.length, 2);
    const one = (await t.request('GET', `/api/v1/links/${created.data[0].linkId}`, { key })).json;
    assert.deepEqual({ slug: one.slug, title: one.title, tags: one.tags }, { slug: 'one', title: 'First', tags: ['a', 'b'] });
    assert.match(created.data[1].slug, /^[0-9A-Za-z]{7}$/, 'a row without a slug gets one');
    const entry = (await listAudit(t.store.db, (await findWorkspaceByName(t.store.db, 'Acme'))!.id, 1))[0]!;
    assert.equal(entry.action, 'links.import');
    assert.deepEqual(entry.summary, { format: 'csv', status: 'done', rows: 5, created: 2, skipped: 3 });
  });

  test('other tools\' exports: a Shlink JSON and a Kutt JSON', async () => {
    const shlink = JSON.stringify({ shortUrls: { data: [{ shortCode: 'sh-1', longUrl: 'https://example.com/shlink', title: 'From Shlink', tags: ['x'], meta: { maxVisits: 5 }, domain: null }] } });
    const job = await finished((await t.request('POST', '/api/v1/imports', { key, body: { format: 'shlink', data: shlink } })).json.id);
    assert.equal(job.created, 1, JSON.stringify(await rows(job.id)));
    const link = (await t.request('GET', '/api/v1/links?q=sh-1', { key })).json.data[0];
    assert.deepEqual({ url: link.url, maxClicks: link.maxClicks, tags: link.tags }, { url: 'https://example.com/shlink', maxClicks: 5, tags: ['x'] });

    const kutt = JSON.stringify({ data: [{ address: 'kt-1', target: 'https://example.com/kutt', description: 'From Kutt' }] });
    const k = await finished((await t.request('POST', '/api/v1/imports', { key, body: { format: 'kutt', data: kutt } })).json.id);
    assert.equal(k.created, 1, JSON.stringify(await rows(k.id)));
  });

  test('a file that is not the format chosen fails with a message; a domain not added is refused at once', async () => {
    const bad = await finished((await t.request('POST', '/api/v1/imports', { key, body: { format: 'shlink', data: 'not json' } })).json.id);
    assert.equal(bad.status, 'failed');
    assert.match(bad.error, /no longUrl column; found: not json/, 'Shlink exports are CSV or JSON: neither here');
    const refused = await t.request('POST', '/api/v1/imports', { key, body: { format: 'csv', data: CSV, domain: 'nope.example' } });
    assert.equal(refused.status, 400);
    assert.equal(refused.json.errors[0].field, 'domain');
  });

  test("the plan's link limit: rows beyond it are reported, not created", async () => {
    const small = await t.key({ workspace: 'Small' });
    await upsertPlan(t.store.db, TEST_OPERATOR, 'three-links', { features: {}, limits: { links: 3 } }, Date.now());
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, (await findWorkspaceByName(t.store.db, 'Small'))!.id, 'three-links', Date.now());
    await t.request('POST', '/api/v1/links', { key: small, body: { url: 'https://example.com/existing' } });
    const data = ['url', ...Array.from({ length: 4 }, (_, i) => `https://example.com/limit-${i}`)].join('\n');
    for (const dryRun of [true, false]) {
      const job = await finished((await t.request('POST', '/api/v1/imports', { key: small, body: { format: 'csv', data, dryRun } })).json.id, small);
      assert.deepEqual({ created: job.created, skipped: job.skipped }, { created: 2, skipped: 2 }, `dryRun ${dryRun}`);
      const over = (await t.request('GET', `/api/v1/imports/${job.id}/rows?outcome=over_limit`, { key: small })).json.data;
      assert.match(over[0].problems[0].message, /"three-links" plan allows 3 links/);
    }
  });

  test('each link created sends link.created, signed', async () => {
    const receiver = await startReceiver();
    try {
      const endpoint = (await t.request('POST', '/api/v1/webhooks', { key, body: { url: `${receiver.url}/hooks`, events: ['link.created'] } })).json;
      await finished((await t.request('POST', '/api/v1/imports', { key, body: { format: 'csv', data: 'url,slug\nhttps://example.com/hooked,hooked-import\n' } })).json.id);
      await receiver.waitFor(1);
      const payload = new Webhook(endpoint.secret).verify(receiver.received[0]!.body, receiver.received[0]!.headers as Record<string, string>) as { data: { slug: string } };
      assert.equal(payload.data.slug, 'hooked-import');
    } finally {
      await receiver.close();
    }
  });

  test('imports finished 30 days ago are deleted with their report by the retention job; their links stay', async () => {
    const job = await finished((await t.request('POST', '/api/v1/imports', { key, body: { format: 'csv', data: 'url,slug\nhttps://example.com/kept,kept-after-retention\n' } })).json.id);
    await t.store.db.exec('update imports set finished_at = ? where id = ?', Date.now() - 31 * 86_400_000, job.id);
    const run = await t.server.scheduler.run('retention');
    assert.equal(run.status === 'ok' && (run.result as { imports: number }).imports, 1);
    assert.equal((await t.request('GET', `/api/v1/imports/${job.id}`, { key })).status, 404);
    assert.equal((await t.store.db.row<{ n: number }>('select count(*) as n from import_rows where import_id = ?', job.id))!.n, 0);
    assert.equal((await t.request('GET', '/api/v1/links?q=kept-after-retention', { key })).json.data.length, 1);
  });

  test('an import of another workspace answers 404; a links:read key may read, not start', async () => {
    const other = await t.key({ workspace: 'Other' });
    const job = (await t.request('POST', '/api/v1/imports', { key, body: { format: 'csv', data: CSV, dryRun: true } })).json;
    assert.equal((await t.request('GET', `/api/v1/imports/${job.id}`, { key: other })).status, 404);
    const reader = await t.key({ scopes: ['links:read'], name: 'reader' });
    assert.equal((await t.request('GET', `/api/v1/imports/${job.id}`, { key: reader })).status, 200);
    assert.equal((await t.request('POST', '/api/v1/imports', { key: reader, body: { format: 'csv', data: CSV } })).status, 403);
  });
});
