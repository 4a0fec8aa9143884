import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, test } from 'node:test';
import { withLongestStall } from '../testing/longest-stall.js';
import { DEFAULT_MAX_ROWS, ImportFormatError } from './import-row.js';
import { linkCsvStream, type LinkCsvSource } from './link-csv.js';
import { parseImport, parseImportInSlices } from './parse-import.js';

// Times are reported (run with LINKQR_TEST_REPORTER=spec to see them), not asserted: they say
// what a request of the largest size costs on this machine, not what every machine must do. The
// one bound asserted is how long reading may hold the event loop (LONGEST_STALL_MS).

function* links(count: number): Generator<LinkCsvSource> {
  for (let i = 0; i < count; i++) {
    yield {
      id: `lnk_${String(i).padStart(20, '0')}`,
      slug: `s${i.toString(36)}`,
      shortUrl: `https://go.example.com/s${i.toString(36)}`,
      url: `https://shop.example.com/products/${i}?utm_source=newsletter&utm_medium=email&utm_campaign=spring`,
      title: i % 3 === 0 ? `Product ${i}, "special" edition` : i % 3 === 1 ? `=SUM(A${i})` : null,
      tags: i % 2 === 0 ? ['newsletter', 'spring 2026'] : [],
      status: 'active',
      expiresAt: i % 5 === 0 ? '2030-01-31T12:00:00.000Z' : null,
      expiredUrl: null,
      maxClicks: i % 7 === 0 ? 1000 : null,
      redirectCode: 302,
      forwardQuery: true,
      clicks: i,
      lastClickedAt: null,
      createdAt: '2026-01-05T10:00:00.000Z',
      domain: 'go.example.com',
    };
  }
}

const exportCsv = async (count: number) => (await buffer(Readable.from(links(count)).pipe(linkCsvStream()))).toString('utf8');

/** The response of Shlink's GET /rest/v3/short-urls with `count` short URLs, as Shlink writes them. */
const shlinkJson = (count: number) =>
  JSON.stringify({
    shortUrls: {
      data: Array.from({ length: count }, (_, i) => ({
        shortCode: `s${i.toString(36)}`,
        shortUrl: `https://go.example.com/s${i.toString(36)}`,
        longUrl: `https://shop.example.com/products/${i}?utm_source=newsletter&utm_medium=email&utm_campaign=spring`,
        dateCreated: '2026-01-05T10:00:00+00:00',
        visitsSummary: { total: i, nonBots: i, bots: 0 },
        tags: i % 2 === 0 ? ['newsletter', 'spring-2026'] : [],
        meta: { validSince: null, validUntil: i % 5 === 0 ? '2030-01-31T12:00:00+00:00' : null, maxVisits: i % 7 === 0 ? 1000 : null },
        domain: null,
        title: `Product ${i}, "special" edition`,
        crawlable: false,
        forwardQuery: true,
        hasRedirectRules: false,
      })),
      pagination: { currentPage: 1, pagesCount: 1, itemsPerPage: count, itemsInCurrentPage: count, totalItems: count },
    },
  });

// Read at once, 100,000 rows hold the event loop for about a second (CSV) or half of one (JSON);
// in slices, the most work done in one turn is a garbage collection's (20-60 ms). 250 ms leaves
// room for a slow machine and still fails the reading at once by far. What is asserted is this
// process's CPU time between two turns: on a busy machine the wall-clock waits also hold the time
// other processes had the CPU (reported, not asserted).
const LONGEST_STALL_MS = 250;

describe('an import of the largest size allowed', () => {
  test(`${DEFAULT_MAX_ROWS.toLocaleString('en-US')} rows: exported through the stream and read back, timed`, async (t) => {
    let started = performance.now();
    const csv = await exportCsv(DEFAULT_MAX_ROWS);
    const exportMs = performance.now() - started;

    started = performance.now();
    const { rows } = parseImport('csv', csv);
    const parseMs = performance.now() - started;

    assert.equal(rows.length, DEFAULT_MAX_ROWS);
    assert.equal(rows.filter((r) => r.problems.length > 0).length, 0);
    assert.equal(rows.at(-1)?.line, DEFAULT_MAX_ROWS + 1);
    assert.equal(rows[1]?.input?.title, '=SUM(A1)');
    t.diagnostic(`${(Buffer.byteLength(csv) / 1e6).toFixed(1)} MB; export ${exportMs.toFixed(0)} ms; parseImport ${parseMs.toFixed(0)} ms`);
  });

  test(`${DEFAULT_MAX_ROWS.toLocaleString('en-US')} rows of CSV read in slices, as the server reads them: the same rows, the event loop never held ${LONGEST_STALL_MS} ms`, async (t) => {
    const csv = await exportCsv(DEFAULT_MAX_ROWS);
    const { result, longestMs, longestBusyMs, totalMs } = await withLongestStall(() => parseImportInSlices('csv', csv));
    t.diagnostic(`${(csv.length / 1e6).toFixed(1)} MB; read in ${totalMs.toFixed(0)} ms; the longest stall ${longestMs.toFixed(0)} ms; the most work in one turn ${longestBusyMs.toFixed(0)} ms`);
    assert.ok(longestBusyMs < LONGEST_STALL_MS, `the event loop was held by ${longestBusyMs.toFixed(0)} ms of work`);
    assert.deepEqual(result.rows, parseImport('csv', csv).rows);
  });

  test(`a Shlink JSON of ${DEFAULT_MAX_ROWS.toLocaleString('en-US')} short URLs read in slices: the same rows, the event loop never held ${LONGEST_STALL_MS} ms`, async (t) => {
    const json = shlinkJson(DEFAULT_MAX_ROWS);
    const { result, longestMs, longestBusyMs, totalMs } = await withLongestStall(() => parseImportInSlices('shlink', json));
    t.diagnostic(`${(json.length / 1e6).toFixed(1)} MB; read in ${totalMs.toFixed(0)} ms; the longest stall ${longestMs.toFixed(0)} ms; the most work in one turn ${longestBusyMs.toFixed(0)} ms`);
    assert.ok(longestBusyMs < LONGEST_STALL_MS, `the event loop was held by ${longestBusyMs.toFixed(0)} ms of work`);
    assert.equal(result.rows.length, DEFAULT_MAX_ROWS);
    assert.equal(result.rows.filter((r) => r.problems.length > 0).length, 0);
    assert.deepEqual(result.rows, parseImport('shlink', json).rows);
  });

  test('one row more is refused before any row is mapped', async (t) => {
    const csv = await exportCsv(DEFAULT_MAX_ROWS + 1);
    const started = performance.now();
    assert.throws(() => parseImport('csv', csv), ImportFormatError);
    t.diagnostic(`refused in ${(performance.now() - started).toFixed(0)} ms`);
  });
});
