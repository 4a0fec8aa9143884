import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, test } from 'node:test';
import { DEFAULT_MAX_ROWS, ImportFormatError } from './import-row.js';
import { linkCsvStream, type LinkCsvSource } from './link-csv.js';
import { parseImport } from './parse-import.js';

// Times are reported (run with LINKQR_TEST_REPORTER=spec to see them), not asserted: they say
// what a request of the largest size costs on this machine, not what every machine must do.

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

  test('one row more is refused before any row is mapped', async (t) => {
    const csv = await exportCsv(DEFAULT_MAX_ROWS + 1);
    const started = performance.now();
    assert.throws(() => parseImport('csv', csv), ImportFormatError);
    t.diagnostic(`refused in ${(performance.now() - started).toFixed(0)} ms`);
  });
});
