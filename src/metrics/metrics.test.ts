import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../testing/harness.js';

const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15';

/** The value of one sample line, e.g. sample(text, 'linkqr_redirects_total{outcome="redirected"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GET /metrics', () => {
  let t: TestServer;
  let key: string;
  before(async () => {
    t = await startTestServer({ clicks: { flushDelayMs: 60_000 } });
    key = await t.key();
  });
  after(() => t.close());

  test('is Prometheus text with redirects by outcome, latency, click buffer depth and flush duration', async () => {
    // A click of a link with maxClicks is written before its redirect; one of a link without waits for the batch.
    const limited = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/m', maxClicks: 1 } })).json;
    const open = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/o' } })).json;
    for (let i = 0; i < 2; i++) await t.request('GET', `/${limited.slug}`, { headers: { 'user-agent': BROWSER } });
    await t.request('GET', `/${open.slug}`, { headers: { 'user-agent': BROWSER } });
    await t.request('GET', '/no-such-slug');

    let res = await t.request('GET', '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.equal(sample(res.text, 'linkqr_redirects_total{outcome="redirected"}'), 2);
    assert.equal(sample(res.text, 'linkqr_redirects_total{outcome="exhausted"}'), 1);
    assert.equal(sample(res.text, 'linkqr_redirects_total{outcome="not_found"}'), 1);
    assert.equal(sample(res.text, 'linkqr_http_request_duration_seconds_count{route="/:slug",method="GET",status="3xx"}'), 2);
    assert.equal(sample(res.text, 'linkqr_http_request_duration_seconds_count{route="/:slug",method="GET",status="4xx"}'), 2);
    assert.equal(sample(res.text, 'linkqr_http_request_duration_seconds_count{route="/api/v1/links",method="POST",status="2xx"}'), 2);
    assert.equal(sample(res.text, 'linkqr_click_buffer_depth'), 1, 'one click waits for the (long) batch delay');
    assert.equal(sample(res.text, 'linkqr_click_flush_duration_seconds_count'), 1, 'the limited link\'s click was written at once');
    assert.equal(sample(res.text, 'linkqr_storage_available'), 1);
    // The limited link: read once, then cached; the open link read once; the unknown slug read (and not cached).
    assert.equal(sample(res.text, 'linkqr_redirect_cache_requests_total{result="hit"}'), 1);
    assert.equal(sample(res.text, 'linkqr_redirect_cache_requests_total{result="miss"}'), 3);
    assert.equal(sample(res.text, 'linkqr_redirect_cache_entries'), 2);
    assert.equal(sample(res.text, 'linkqr_redirect_cache_max_entries'), 100_000);
    assert.ok((sample(res.text, 'linkqr_process_resident_memory_bytes') ?? 0) > 0, 'process metrics are there too');

    await t.flushClicks();
    await t.request('GET', `/${open.slug}`, { headers: { 'user-agent': BROWSER } });
    res = await t.request('GET', '/metrics');
    assert.equal(sample(res.text, 'linkqr_redirect_cache_requests_total{result="hit"}'), 2, 'counted across scrapes');
    assert.equal(sample(res.text, 'linkqr_redirect_cache_requests_total{result="miss"}'), 3);
    await t.flushClicks();
    res = await t.request('GET', '/metrics');
    assert.equal(sample(res.text, 'linkqr_click_buffer_depth'), 0);
    assert.equal(sample(res.text, 'linkqr_click_flush_duration_seconds_count'), 3);
    assert.equal(sample(res.text, 'linkqr_clicks_written_total'), 3);
    assert.equal(sample(res.text, 'linkqr_click_rollups_pending_batches'), 0, 'a flush applies the rollups too');
    assert.equal(sample(res.text, 'linkqr_click_rollups_lag_seconds'), 0);
    // A batch 90 s old that is never applied (this version cannot read it): what the gauges are for.
    const { db, clock } = t.store;
    await db.exec('insert into pending_rollups (created_at, rollups) values (?, ?)', clock.now() - 90_000, '{"left": "by the test"}');
    try {
      res = await t.request('GET', '/metrics');
      assert.equal(sample(res.text, 'linkqr_click_rollups_pending_batches'), 1);
      const lag = sample(res.text, 'linkqr_click_rollups_lag_seconds') ?? 0;
      assert.ok(lag >= 90 && lag < 100, `lag ${lag}`);
    } finally {
      await db.exec('delete from pending_rollups');
    }
  });

  test('route labels are patterns, never ids', async () => {
    const link = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/p' } })).json;
    await t.request('GET', `/api/v1/links/${link.id}`, { key });
    const res = await t.request('GET', '/metrics');
    assert.equal(sample(res.text, 'linkqr_http_request_duration_seconds_count{route="/api/v1/links/:id",method="GET",status="2xx"}'), 1);
    assert.doesNotMatch(res.text, new RegExp(link.id));
  });

  test('a request is counted under its route\'s full pattern whatever its status: 401, 404, 400, 405', async () => {
    const before = await t.request('GET', '/metrics');
    const count = (text: string, route: string, method: string, status: string) =>
      sample(text, `linkqr_http_request_duration_seconds_count{route="${route}",method="${method}",status="${status}"}`) ?? 0;
    const link = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/q' } })).json;
    await t.request('GET', `/api/v1/links/${link.id}`); // no key: 401 before the route runs
    await t.request('GET', '/api/v1/links/lnk_00000000000000000000', { key }); // unknown id: 404 from the route
    await t.request('PATCH', `/api/v1/links/${link.id}`, { key, body: { url: 'nope' } }); // 400
    await t.request('GET', '/api/v1/links?limit=0', { key }); // 400 on the list
    await t.request('PUT', '/api/v1/links', { key, contract: false }); // 405
    await t.request('GET', '/api/v1/no-such-route', { key }); // no route at all
    const res = await t.request('GET', '/metrics');
    const added = (route: string, method: string, status: string) => count(res.text, route, method, status) - count(before.text, route, method, status);
    assert.equal(added('/api/v1/links/:id', 'GET', '4xx'), 2, 'the 401 and the 404');
    assert.equal(added('/api/v1/links/:id', 'PATCH', '4xx'), 1);
    assert.equal(added('/api/v1/links', 'GET', '4xx'), 1);
    assert.equal(added('/api/v1/links', 'PUT', '4xx'), 1);
    assert.equal(added('unmatched', 'GET', '4xx'), 1);
    assert.doesNotMatch(res.text, /route="\/links/, 'never a pattern without its /api/v1 prefix');
  });

  test('methods the server does not answer are counted as "other", not as series of their own', async () => {
    for (const method of ['PROPFIND', 'MKCOL', 'LOCK']) await t.request(method, '/api/v1/links', { key, contract: false });
    const res = await t.request('GET', '/metrics');
    assert.equal(sample(res.text, 'linkqr_http_request_duration_seconds_count{route="/api/v1/links",method="other",status="4xx"}'), 3);
    assert.doesNotMatch(res.text, /method="(PROPFIND|MKCOL|LOCK)"/);
  });
});
