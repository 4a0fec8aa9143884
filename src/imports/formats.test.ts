import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createLinkBody } from '../links/links.schema.js';
import type { ImportRow } from './import-row.js';
import { parseImport, type ImportFormat } from './parse-import.js';

// Exports as each tool writes them (see the format modules for where each shape is documented).
const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8');
const rowsOf = (format: ImportFormat, name: string) => parseImport(format, fixture(name)).rows;
const inputs = (rows: ImportRow[]) => rows.map((r) => r.input);
const problems = (rows: ImportRow[]) => rows.map((r) => r.problems.map((p) => p.field));

describe('Shlink', () => {
  test('the web client CSV (2023 on): shortCode, domain, tags by "|", quotes doubled', () => {
    const rows = rowsOf('shlink', 'shlink-short_urls.csv');
    assert.deepEqual(inputs(rows), [
      {
        url: 'https://shop.acme.test/sale?utm_source=qr',
        slug: 'spring-sale',
        title: 'Spring sale — 20% off',
        tags: ['marketing', 'spring 2024'],
        domain: 's.acme.test',
      },
      { url: 'https://acme.test/blog/why-we-moved', slug: 'Xk3p9', title: 'Why we moved, and what "moving" meant', domain: 's.acme.test' },
      { url: 'https://docs.acme.test/v2/', slug: 'docs/v2', title: 'Docs v2', tags: ['docs'], domain: 'go.acme.test' },
      { url: 'https://intranet.acme.test/', slug: 'admin', tags: ['internal', 'ops'], domain: 's.acme.test' },
    ]);
    assert.deepEqual(
      rows.map((r) => r.line),
      [2, 3, 4, 5],
    );
    // A multi-segment short code and a slug LinkQR reserves are reported, not changed.
    assert.deepEqual(problems(rows), [[], [], ['slug'], ['slug']]);
  });

  test('the web client CSV of 2022: no shortCode column (taken from shortUrl), tags by ","', () => {
    assert.deepEqual(inputs(rowsOf('shlink', 'shlink-short_urls-2022.csv')), [
      { url: 'https://shop.acme.test/summer', slug: 'summer', title: 'Summer', tags: ['marketing', 'summer'], domain: 's.acme.test' },
      { url: 'https://acme.test/careers', slug: 'jobs', domain: 's.acme.test' },
    ]);
  });

  test('the CSV shlink-importer reads: "Long URL", "Short code", tags by ","', () => {
    const rows = parseImport('shlink', 'Long URL,Short code,Title,Tags\nhttps://example.com/,abc,Home,"a,b"\n').rows;
    assert.deepEqual(inputs(rows), [{ url: 'https://example.com/', slug: 'abc', title: 'Home', tags: ['a', 'b'] }]);
  });

  test('the REST list: meta.validUntil, meta.maxVisits and forwardQuery too; a null domain is the short URL host', () => {
    assert.deepEqual(inputs(rowsOf('shlink', 'shlink-short-urls.json')), [
      {
        url: 'https://store.steampowered.com',
        slug: '12C18',
        title: 'Welcome to Steam',
        tags: ['games', 'tech'],
        expiresAt: '2030-12-31T23:00:00.000Z',
        maxClicks: 100,
        forwardQuery: true,
        domain: 's.test',
      },
      { url: 'https://www.google.com', slug: '123bA', forwardQuery: false, domain: 'example.com' },
    ]);
    // Pages joined into one array, and Shlink 1's originalUrl.
    const joined = parseImport('shlink', '[{"shortCode": "old", "originalUrl": "https://example.com/", "tags": []}]').rows;
    assert.deepEqual(inputs(joined), [{ url: 'https://example.com/', slug: 'old' }]);
  });
});

describe('Kutt', () => {
  test('the API list: target, address, description, expire_in as SQLite (UTC) or ISO, domain or the host of link', () => {
    const rows = rowsOf('kutt', 'kutt-links.json');
    assert.deepEqual(inputs(rows), [
      {
        url: 'https://news.acme.test/2025/launch',
        slug: 'launch',
        title: 'Launch announcement',
        expiresAt: '2031-06-30T23:59:00.000Z',
        domain: 'kutt.acme.test',
      },
      { url: 'https://acme.test/pricing', slug: 'pgdate', expiresAt: '2030-01-01T00:00:00.000Z', domain: 'l.acme.test' },
      { url: 'https://payroll.acme.test/', slug: 'payroll', title: 'Payroll portal', domain: 'kutt.acme.test' },
      { url: 'https://phish.example/login', slug: 'free-gift', domain: 'kutt.acme.test' },
    ]);
    // A password would be lost and a banned link revived: both are stopped for a person to decide.
    assert.deepEqual(problems(rows), [[], [], ['password'], ['banned']]);
  });
});

describe('YOURLS', () => {
  test('action=stats JSON: link_1, link_2… in order, the keyword from shorturl, its host as domain', () => {
    const rows = rowsOf('yourls', 'yourls-stats.json');
    assert.deepEqual(inputs(rows), [
      { url: 'https://ozh.org/', slug: 'ozh', title: 'Ozh RICHARD — ozh.org', domain: 'sho.rt' },
      { url: 'https://yourls.org/', slug: '1', title: 'YOURLS | Your Own URL Shortener', domain: 'sho.rt' },
      { url: 'https://example.com/page', slug: 'my.page', domain: 'sho.rt' },
    ]);
    assert.deepEqual(problems(rows), [[], [], ['slug']]);
  });

  test('a site under a path: the keyword is the last segment; action=url-stats gives one link', () => {
    const one = '{"statusCode":200,"message":"success","link":{"shorturl":"https://example.com/s/abc","url":"https://example.org/","title":"","timestamp":"2024-01-01 00:00:00","ip":"::1","clicks":"0"}}';
    assert.deepEqual(inputs(parseImport('yourls', one).rows), [{ url: 'https://example.org/', slug: 'abc', domain: 'example.com' }]);
  });

  test('the shlink-import plugin list (keyword given)', () => {
    assert.deepEqual(inputs(rowsOf('yourls', 'yourls-shlink-list.json')), [
      { url: 'https://ozh.org/', slug: 'ozh', title: 'Ozh RICHARD' },
      { url: 'https://en.wikipedia.org/wiki/URL_shortening', slug: 'wiki', title: 'URL shortening - Wikipedia' },
    ]);
  });

  test('the yourls_url table: CSV with or without header, phpMyAdmin JSON', () => {
    const expected = [
      { url: 'https://ozh.org/', slug: 'ozh', title: 'Ozh RICHARD' },
      { url: 'https://shop.example/summer', slug: 'summer-2024', title: 'Summer, 2024' },
    ];
    assert.deepEqual(inputs(rowsOf('yourls', 'yourls-url-table.csv')), expected);
    const headerless = fixture('yourls-url-table.csv').split('\n').slice(1).join('\n');
    const rows = parseImport('yourls', headerless).rows;
    assert.deepEqual(inputs(rows), expected);
    assert.deepEqual(
      rows.map((r) => r.line),
      [1, 2],
    );
    const phpMyAdmin = JSON.stringify([
      { type: 'header', version: '5.2.1', comment: 'Export to JSON plugin for PHPMyAdmin' },
      { type: 'database', name: 'yourls' },
      { type: 'table', name: 'yourls_url', database: 'yourls', data: [{ keyword: 'ozh', url: 'https://ozh.org/', title: 'Ozh RICHARD', timestamp: '2024-05-02 11:30:12', ip: '127.0.0.1', clicks: '112' }] },
    ]);
    assert.deepEqual(inputs(parseImport('yourls', phpMyAdmin).rows), [expected[0]]);
  });

  test('the YOURLS-Import-Export plugin CSV: source /keyword/, target, hits', () => {
    assert.deepEqual(inputs(rowsOf('yourls', 'yourls-import-export.csv')), [
      { url: 'https://ozh.org/', slug: 'ozh' },
      { url: 'https://en.wikipedia.org/wiki/URL_shortening,_again', slug: 'wiki' },
    ]);
  });
});

describe('Bitly', () => {
  const skates = { url: 'https://www.acme.test/products/rocket-skates?utm_source=twitter', slug: '3Qx7ZpA', title: 'Rocket Skates | ACME', tags: ['social', 'q2-launch'] };

  test('the API list: the custom back-half when there is one; bit.ly is no domain to keep, a branded one is', () => {
    assert.deepEqual(inputs(rowsOf('bitly', 'bitly-bitlinks.json')), [
      skates,
      { url: 'https://www.acme.test/products/anvils', slug: 'anvils', title: 'Anvils', domain: 'acme.co' },
    ]);
  });

  test('a CSV with the API field names', () => {
    assert.deepEqual(inputs(rowsOf('bitly', 'bitly-links.csv')), [
      skates,
      { url: 'https://www.acme.test/products/anvils', slug: 'anvils', title: 'Anvils, heavy', domain: 'acme.co' },
    ]);
  });

  test('a CSV with the web app labels (Link, Custom Link, Destination URL), with a byte order mark', () => {
    assert.deepEqual(inputs(rowsOf('bitly', 'bitly-app-export.csv')), [
      { url: 'https://www.acme.test/products/rocket-skates', slug: '3Qx7ZpA', title: 'Rocket Skates', tags: ['social'] },
      { url: 'https://www.acme.test/products/anvils', slug: 'anvils', title: 'Anvils', domain: 'acme.co' },
    ]);
  });
});

describe('what every format gives, createLinkBody takes', () => {
  const all: [ImportFormat, string][] = [
    ['shlink', 'shlink-short_urls.csv'],
    ['shlink', 'shlink-short_urls-2022.csv'],
    ['shlink', 'shlink-short-urls.json'],
    ['kutt', 'kutt-links.json'],
    ['yourls', 'yourls-stats.json'],
    ['yourls', 'yourls-shlink-list.json'],
    ['yourls', 'yourls-url-table.csv'],
    ['yourls', 'yourls-import-export.csv'],
    ['bitly', 'bitly-bitlinks.json'],
    ['bitly', 'bitly-links.csv'],
    ['bitly', 'bitly-app-export.csv'],
  ];
  for (const [format, name] of all) {
    test(`${format}: ${name}`, () => {
      for (const row of rowsOf(format, name)) {
        if (!row.input || row.problems.length > 0) continue;
        // domain and status are the service's to apply (see ImportedLink).
        const { domain: _domain, status: _status, ...fields } = row.input;
        const body: unknown = fields;
        const parsed = createLinkBody.safeParse(body);
        assert.ok(parsed.success, `line ${row.line}: ${parsed.error?.message}`);
      }
    });
  }
});
