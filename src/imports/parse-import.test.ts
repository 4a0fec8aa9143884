import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ImportFormatError } from './import-row.js';
import { IMPORT_FORMATS, parseImport, type ImportFormat } from './parse-import.js';

const rowsOf = (data: string, format: ImportFormat = 'csv') => parseImport(format, data).rows;
const refused = (format: ImportFormat, data: string, message: RegExp, maxRows?: number) =>
  assert.throws(
    () => parseImport(format, data, { maxRows }),
    (e: unknown) => e instanceof ImportFormatError && message.test(e.message),
  );

describe('a CSV from elsewhere', () => {
  test('columns are found by any usual name, in any case and spacing; the rest is ignored', () => {
    const rows = rowsOf('Long URL,Short Code,TITLE,Tags,Expires,Clicks\nhttps://example.com/a,summer,Summer sale, a ,2030-06-30,12\n');
    assert.deepEqual(rows, [
      {
        line: 2,
        input: { url: 'https://example.com/a', slug: 'summer', title: 'Summer sale', tags: ['a'], expiresAt: '2030-06-30T00:00:00.000Z' },
        problems: [],
      },
    ]);
    assert.deepEqual(rowsOf('destination;alias\r\nhttps://example.com/b;b\r\n')[0]?.input, { url: 'https://example.com/b', slug: 'b' });
    assert.deepEqual(rowsOf('keyword\ttarget\nk\thttps://example.com/c\n')[0]?.input, { url: 'https://example.com/c', slug: 'k' });
  });

  test('a spreadsheet save: byte order mark, semicolons, CRLF, a quoted line break (a title is one line: a space), blank and empty rows at the end', () => {
    const rows = rowsOf('\uFEFFurl;title\r\nhttps://example.com/1;"Two\r\nlines; quoted"\r\n\r\nhttps://example.com/2;"a ""b"""\r\n;\r\n\r\n\r\n');
    assert.deepEqual(
      rows.map((r) => [r.line, r.input?.title]),
      [
        [2, 'Two lines; quoted'],
        [5, 'a "b"'],
      ],
    );
  });

  test('lines ended by CR alone (classic Mac OS) are lines too', () => {
    const rows = rowsOf('url,title\rhttps://example.com/1,"a\rb"\rhttps://example.com/2,c\r');
    assert.deepEqual(
      rows.map((r) => [r.line, r.input?.title]),
      [
        [2, 'a b'],
        [4, 'c'],
      ],
    );
  });

  test('without a slug column, the slug and domain come from a short URL column', () => {
    const [row] = rowsOf('url,short_link\nhttps://example.com/,https://S.Example.org/Promo-1/\n');
    assert.deepEqual(row?.input, { url: 'https://example.com/', slug: 'Promo-1', domain: 's.example.org' });
  });

  test('a file of URLs alone, one per line and no header, is a list of links', () => {
    const rows = rowsOf('https://example.com/1\nhttps://example.com/2\n');
    assert.deepEqual(
      rows.map((r) => [r.line, r.input?.url]),
      [
        [1, 'https://example.com/1'],
        [2, 'https://example.com/2'],
      ],
    );
  });

  test('a row without a URL is kept, with nothing to create and the reason; a row of blanks is no row', () => {
    const rows = rowsOf('url,slug\n,lonely\n   ,\nhttps://example.com/,ok\n');
    assert.deepEqual(rows[0], { line: 2, problems: [{ field: 'url', message: 'is missing: a link needs a destination URL' }] });
    assert.deepEqual(rows[1], { line: 4, input: { url: 'https://example.com/', slug: 'ok' }, problems: [] });
    assert.equal(rows.length, 2);
  });

  test('a value that cannot be read is left out and reported; the rest of the row stands', () => {
    const [row] = rowsOf(
      'url,expiresAt,maxClicks,redirectCode,forwardQuery,status\nhttps://example.com/,next tuesday,1e3,303,maybe,archived\n',
    );
    assert.deepEqual(row?.input, { url: 'https://example.com/' });
    assert.deepEqual(
      row?.problems.map((p) => p.field),
      ['expiresAt', 'maxClicks', 'redirectCode', 'forwardQuery', 'status'],
    );
    assert.match(row!.problems[0]!.message, /"next tuesday" is not a date and time LinkQR reads; write it as ISO 8601/);
  });

  test('dates: ISO 8601 with any offset, and a time without one is UTC, never the server own zone', () => {
    const expires = (value: string) => rowsOf(`url,expiresAt\nhttps://example.com/,${value}\n`)[0]?.input?.expiresAt;
    assert.equal(expires('2030-01-31 12:00'), '2030-01-31T12:00:00.000Z');
    assert.equal(expires('2030-01-31T12:00:00+02:00'), '2030-01-31T10:00:00.000Z');
    assert.equal(expires('2030-01-31T12:00:00+0200'), '2030-01-31T10:00:00.000Z');
    assert.equal(expires('2030-01-31T12:00:00.250Z'), '2030-01-31T12:00:00.250Z');
    assert.equal(expires('2030-01-31'), '2030-01-31T00:00:00.000Z');
    assert.equal(expires('31/01/2030'), undefined);
    assert.equal(expires('2030-02-30'), undefined);
    assert.equal(expires('2030-01-31T24:30'), undefined);
  });

  test('yes/no and 1/0 are read as true/false; numbers must be whole digits', () => {
    const [row] = rowsOf('url,forwardQuery,maxClicks,redirectCode\nhttps://example.com/,No,0042,307\n');
    assert.deepEqual(row?.input, { url: 'https://example.com/', forwardQuery: false, maxClicks: 42, redirectCode: 307 });
  });

  test('a slug LinkQR cannot take is reported, kept as it was, not changed', () => {
    const rows = rowsOf('url,slug\nhttps://example.com/1,api\nhttps://example.com/2,with space\nhttps://example.com/3,' + 'x'.repeat(65) + '\n');
    assert.deepEqual(
      rows.map((r) => [r.input?.slug?.slice(0, 10), r.problems]),
      [
        ['api', [{ field: 'slug', message: '"api" is reserved by LinkQR' }]],
        ['with space', [{ field: 'slug', message: '"with space" does not fit LinkQR slugs: 1–64 letters, digits, "-" and "_"' }]],
        ['xxxxxxxxxx', [{ field: 'slug', message: `"${'x'.repeat(65)}" does not fit LinkQR slugs: 1–64 letters, digits, "-" and "_"` }]],
      ],
    );
  });

  test('the same slug twice on one domain: the second is reported with the line of the first', () => {
    const rows = rowsOf('url,slug,domain\nhttps://a.example/,promo,go.example.com\nhttps://b.example/,promo,s.example.com\nhttps://c.example/,promo,go.example.com\n');
    assert.deepEqual(
      rows.map((r) => r.problems),
      [[], [], [{ field: 'slug', message: '"promo" is also the slug of line 2' }]],
    );
  });

  test('a row with more cells than the header (an unquoted comma) is reported, not guessed at', () => {
    const rows = rowsOf('url,title,tags\nhttps://example.com/,Hello, world,greeting\nhttps://example.com/2,ok,,,\n');
    assert.deepEqual(rows[0]?.problems, [
      { field: 'row', message: 'has 4 cells where the header has 3: a value holding the separator must be in double quotes' },
    ]);
    assert.deepEqual(rows[1]?.problems, []);
  });
});

describe('a document that cannot be read is refused whole, saying why', () => {
  test('empty, or a header with no rows', () => {
    for (const format of IMPORT_FORMATS) refused(format, '\uFEFF \r\n', /is empty/);
    refused('csv', 'url,slug\r\n\r\n', /^the CSV holds no links$/);
    refused('shlink', '{"shortUrls": {"data": []}}', /^the Shlink JSON holds no links$/);
    refused('yourls', '{"stats": {"total_links": "0", "total_clicks": 0}, "statusCode": "200"}', /^the YOURLS JSON holds no links$/);
  });

  test('no URL column: the columns found are named', () => {
    refused('csv', 'name,link\nx,y\n', /^the CSV has no "url" column \(nor long_url, destination or target\); found: name, link$/);
    refused('bitly', 'Title,Link\nx,https://bit.ly/x\n', /^the Bitly CSV has no long_url \(or "Destination URL"\) column; found: Title, Link$/);
    refused('shlink', 'shortUrl,title\n', /^the Shlink CSV has no longUrl column; found: shortUrl, title$/);
    refused('yourls', 'keyword,title\nk,t\n', /^the YOURLS CSV has no url column; found: keyword, title$/);
  });

  test('a quoted value that never closes', () => {
    refused('csv', 'url,title\nhttps://example.com/,"unfinished\nhttps://example.com/2,next\n', /a value opened with a quote near line \d+ is never closed/);
  });

  test('not JSON, or JSON without the list the tool returns', () => {
    refused('kutt', '{"data": [', /^the Kutt JSON is not valid JSON: /);
    refused('shlink', '{"shortUrl": "https://s.test/x"}', /^the Shlink JSON has no list of links: expected the response of GET \/rest\/v3\/short-urls/);
    refused('bitly', '{"links": "none"}', /^the Bitly JSON has no list of links/);
    refused('yourls', '{"statusCode": 200}', /^the YOURLS JSON has no list of links/);
  });

  test('Kutt has no CSV: the message says what to send instead', () => {
    refused('kutt', 'address,target\nx,https://example.com/\n', /^Kutt has no CSV export: send the JSON of its API, GET \/api\/v2\/links/);
  });

  test('more links than maxRows, in any format; exactly maxRows is fine', () => {
    const csv = (n: number) => `url\n${Array.from({ length: n }, (_, i) => `https://example.com/${i}`).join('\n')}\n`;
    assert.equal(parseImport('csv', csv(3), { maxRows: 3 }).rows.length, 3);
    refused('csv', csv(4), /^the CSV has more than 3 links; split it into parts of at most that many$/, 3);
    refused('csv', 'https://example.com/1\nhttps://example.com/2\n', /more than 1 links/, 1);
    refused('kutt', JSON.stringify({ data: [{}, {}] }), /^the Kutt JSON has more than 1 links/, 1);
    assert.throws(() => parseImport('csv', csv(1), { maxRows: 0 }), RangeError);
  });

  test('a JSON item that is not an object is a row of its own, with the reason', () => {
    const { rows } = parseImport('kutt', '[42, {"target": "https://example.com/", "address": "ok"}]');
    assert.deepEqual(rows[0], { line: 1, problems: [{ field: 'row', message: 'is not a JSON object' }] });
    assert.deepEqual(rows[1], { line: 2, input: { url: 'https://example.com/', slug: 'ok' }, problems: [] });
  });
});
