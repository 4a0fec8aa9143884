import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, startTestServer, type TestServer } from '../../testing/harness.js';
import { withLongestStall } from '../../testing/longest-stall.js';

// The server that reads an import also answers redirects: reading 100,000 rows at once held its
// event loop for most of a second. The bound (on this process's CPU time between two turns, as
// in src/imports/import-scale.test.ts) leaves room for a slow machine and still fails that: the
// most work done in one turn is a garbage collection's or the upload's, 20-100 ms.
const LONGEST_STALL_MS = 250;
const ROWS = 100_000;

describe('a 100,000-row import through the API keeps the server answering', () => {
  let t: TestServer;
  let key: string;
  before(async () => {
    t = await startTestServer();
    key = await t.key();
  });
  after(() => t.close());

  test('the dry run reads and checks every row, the event loop never held for long', async (ctx) => {
    const csv = ['url,slug,title,tags', ...Array.from({ length: ROWS }, (_, i) => `https://example.com/products/${i}?utm_source=newsletter,p${i.toString(36)},Product ${i},"a, b"`)].join('\r\n');
    const { result: job, longestMs, longestBusyMs, totalMs } = await withLongestStall(async () => {
      const queued = await t.request('POST', '/api/v1/imports', { key, body: { format: 'csv', data: csv, dryRun: true } });
      assert.equal(queued.status, 202, queued.text);
      return eventually(async () => {
        const res = await t.request('GET', `/api/v1/imports/${queued.json.id}`, { key });
        return res.json.status === 'done' || res.json.status === 'failed' ? res.json : undefined;
      }, 240_000);
    });
    ctx.diagnostic(`${(csv.length / 1e6).toFixed(1)} MB; sent, read and checked in ${totalMs.toFixed(0)} ms; the longest stall ${longestMs.toFixed(0)} ms; the most work in one turn ${longestBusyMs.toFixed(0)} ms`);
    assert.deepEqual({ status: job.status, total: job.total, created: job.created, skipped: job.skipped }, { status: 'done', total: ROWS, created: ROWS, skipped: 0 });
    assert.ok(longestBusyMs < LONGEST_STALL_MS, `the event loop was held by ${longestBusyMs.toFixed(0)} ms of work`);
  });
});
