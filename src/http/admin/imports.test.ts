import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createUser } from '../../users/users.service.js';
import { AdminClient, fieldError, textOf } from '../../testing/admin-client.js';
import { eventually, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';

const PASSWORD = 'correct horse battery';
const CSV = 'url,slug,title\nhttps://example.com/a,admin-a,A\nftp://x,bad,\nhttps://example.com/b,,B\n';

describe('admin: import links (check, then import) and the CSV downloads', () => {
  let t: TestServer;
  let owner: AdminClient;

  before(async () => {
    t = await startTestServer();
    await createUser(t.store, TEST_OPERATOR, { email: 'o@example.com', password: PASSWORD, workspace: 'Acme' });
    await createUser(t.store, TEST_OPERATOR, { email: 'v@example.com', password: PASSWORD, workspace: 'Acme', role: 'viewer' });
    owner = await new AdminClient(t.url).signIn('o@example.com', PASSWORD, '/admin/links/import');
  });
  after(() => t.close());

  test('the check reports every row; importing creates the good ones; the report names the rest by line', async () => {
    const empty = await owner.post('/admin/links/import', { format: 'csv', data: '', dryRun: 'on' });
    assert.equal(empty.status, 422);
    assert.equal(fieldError(empty.text, 'import-data'), 'Must not be empty');

    const checked = await owner.post('/admin/links/import', { format: 'csv', data: CSV, dryRun: 'on' });
    assert.equal(checked.status, 303);
    const page = checked.headers.get('location')!;
    assert.match(page, /^\/admin\/imports\/imp_\w{20}$/);
    const done = await eventually(async () => {
      const res = await owner.get(page);
      return /can be imported/.test(res.text) ? res : undefined;
    });
    assert.match(textOf(done.text, 'import-job')!, /2 of 3 rows can be imported\. 1 row is not importable: see below\. Import 2 links/);
    assert.match(textOf(done.text, 'import-job')!, /3 bad url must be an absolute http:\/\/ or https:\/\/ URL/);

    const run = await owner.post(`${page}/run`, {});
    assert.equal(run.status, 303);
    const imported = await eventually(async () => {
      const res = await owner.get(run.headers.get('location')!);
      return /Created 2 links/.test(res.text) ? res : undefined;
    });
    assert.match(textOf(imported.text, 'import-job')!, /Created 2 links from 3 rows\. 1 row is skipped/);

    // The Links page offers both; the export is the links as CSV, with a BOM for Excel.
    const links = await owner.get('/admin/links?q=example');
    assert.match(links.text, /href="\/admin\/links\/import"/);
    assert.match(links.text, /id="links-export" href="\/admin\/links\/export\?q=example"/);
    // Bytes, not text: a decoder drops the byte order mark the export starts with for Excel.
    const bytes = async (path: string) => {
      const res = await fetch(`${t.url}${path}`, { headers: { cookie: [...owner.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
      return { res, body: Buffer.from(await res.arrayBuffer()) };
    };
    const csv = await bytes('/admin/links/export?q=admin-a');
    assert.equal(csv.res.headers.get('content-type'), 'text/csv; charset=utf-8');
    assert.deepEqual([...csv.body.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
    assert.ok(csv.body.toString('utf8').startsWith('\uFEFF"id","slug"'));
    assert.equal(csv.body.toString('utf8').trim().split('\r\n').length, 2);

    const clicks = await bytes('/admin/analytics/export');
    assert.equal(clicks.res.status, 200);
    assert.ok(clicks.body.toString('utf8').startsWith('\uFEFF"clickedAt","linkId"'));
    assert.match((await owner.get('/admin/analytics')).text, /id="clicks-export" href="\/admin\/analytics\/export\?from=/);
  });

  test('a viewer can download but not import', async () => {
    const viewer = await new AdminClient(t.url).signIn('v@example.com', PASSWORD, '/admin/links');
    assert.doesNotMatch((await viewer.get('/admin/links')).text, /href="\/admin\/links\/import"/);
    assert.equal((await viewer.get('/admin/links/import')).status, 403);
    assert.equal((await viewer.post('/admin/links/import', { format: 'csv', data: CSV })).status, 403);
    assert.equal((await viewer.get('/admin/links/export')).status, 200);
  });
});
