import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, test } from 'node:test';
import { createLinkBody } from '../links/links.schema.js';
import type { ImportedLink } from './import-row.js';
import { guardCell, LINK_CSV_COLUMNS, linkCsvHeaderLine, linkCsvStream, linkToCsvLine, linkToCsvRecord, unguardCell, type LinkCsvSource } from './link-csv.js';
import { parseImport } from './parse-import.js';

const link = (overrides: Partial<LinkCsvSource> = {}): LinkCsvSource => ({
  id: 'lnk_0123456789abcdefghij',
  slug: 'spring',
  shortUrl: 'https://go.example.com/spring',
  url: 'https://example.com/landing',
  title: null,
  tags: [],
  status: 'active',
  expiresAt: null,
  expiredUrl: null,
  maxClicks: null,
  redirectCode: 302,
  forwardQuery: true,
  clicks: 0,
  lastClickedAt: null,
  createdAt: '2026-01-05T10:00:00.000Z',
  domain: 'go.example.com',
  ...overrides,
});

/** What importing a link's row must give back: every field createLinkBody takes, plus status. */
function asImported(l: LinkCsvSource): ImportedLink {
  const expected: ImportedLink = { url: l.url, slug: l.slug };
  if (l.title !== null) expected.title = l.title;
  if (l.tags.length > 0) expected.tags = l.tags;
  if (l.expiresAt !== null) expected.expiresAt = l.expiresAt;
  if (l.expiredUrl !== null) expected.expiredUrl = l.expiredUrl;
  if (l.maxClicks !== null) expected.maxClicks = l.maxClicks;
  expected.redirectCode = l.redirectCode as ImportedLink['redirectCode'];
  expected.forwardQuery = l.forwardQuery;
  if (l.domain) expected.domain = l.domain;
  expected.status = l.status as ImportedLink['status'];
  return expected;
}

// Buffer's decoding keeps a byte order mark (TextDecoder, which stream/consumers' text() uses, drops it).
const exportCsv = async (links: LinkCsvSource[], options?: { bom?: boolean }) =>
  (await buffer(Readable.from(links).pipe(linkCsvStream(options)))).toString('utf8');

describe('LinkQR CSV export', () => {
  test('the header names the Link JSON fields, quoted, CRLF-terminated', () => {
    assert.equal(
      linkCsvHeaderLine(),
      '"id","slug","shortUrl","url","title","tags","status","expiresAt","expiredUrl","maxClicks","redirectCode","forwardQuery","clicks","lastClickedAt","createdAt","domain","targets","passwordProtected"\r\n',
    );
  });

  test('a link becomes one cell per column: null as empty, tags joined by ", ", numbers and booleans as text', () => {
    const record = linkToCsvRecord(
      link({ title: 'Spring sale', tags: ['print', 'spring 2026'], maxClicks: 500, forwardQuery: false, clicks: 42, lastClickedAt: '2026-02-01T08:30:00.000Z' }),
    );
    assert.equal(record.length, LINK_CSV_COLUMNS.length);
    assert.deepEqual(Object.fromEntries(LINK_CSV_COLUMNS.map((c, i) => [c, record[i]])), {
      id: 'lnk_0123456789abcdefghij',
      slug: 'spring',
      shortUrl: 'https://go.example.com/spring',
      url: 'https://example.com/landing',
      title: 'Spring sale',
      tags: 'print, spring 2026',
      status: 'active',
      expiresAt: '',
      expiredUrl: '',
      maxClicks: '500',
      redirectCode: '302',
      forwardQuery: 'false',
      clicks: '42',
      lastClickedAt: '2026-02-01T08:30:00.000Z',
      createdAt: '2026-01-05T10:00:00.000Z',
      domain: 'go.example.com',
      targets: '',
      passwordProtected: '',
    });
  });

  test('targets go out as JSON and come back; a protected link is reported, never imported open', () => {
    const text =
      linkCsvHeaderLine() +
      linkToCsvLine(link({ slug: 'get-app', targets: [{ device: 'ios', url: 'https://apps.apple.com/app/id1' }], passwordProtected: false })) +
      linkToCsvLine(link({ slug: 'vault', passwordProtected: true }));
    const [app, vault] = parseImport('csv', text).rows;
    assert.deepEqual(app!.input!.targets, [{ device: 'ios', url: 'https://apps.apple.com/app/id1' }]);
    assert.deepEqual(app!.problems, []);
    assert.deepEqual(vault!.problems.map((p) => p.field), ['passwordProtected']);
  });

  test('a cell a spreadsheet would run as a formula starts with an apostrophe, in the file as written', async () => {
    const csv = await exportCsv([link({ slug: '-minus', title: '=HYPERLINK("https://evil.test","click me")', tags: ['@everyone', 'ok'] })]);
    const row = csv.split('\r\n')[1]!;
    assert.match(row, /,"'-minus",/);
    assert.match(row, /,"'=HYPERLINK\(""https:\/\/evil\.test"",""click me""\)",/);
    assert.match(row, /,"'@everyone, ok",/);
  });

  test('the guard covers = + - @ tab CR NUL, and is undone exactly, apostrophes the value had included', () => {
    const cases: [string, string][] = [
      ['=1+1', "'=1+1"],
      ['+33 1 23 45 67 89', "'+33 1 23 45 67 89"],
      ['-20%', "'-20%"],
      ['@sum(A1)', "'@sum(A1)"],
      ['\tcmd', "'\tcmd"],
      ['\rcmd', "'\rcmd"],
      ['\0x', "'\0x"],
      ["'=already", "''=already"],
      ["''-twice", "'''-twice"],
      ["'90s hits", "'90s hits"],
      ['plain', 'plain'],
      ['', ''],
      ['a=b', 'a=b'],
    ];
    for (const [value, cell] of cases) {
      assert.equal(guardCell(value), cell, JSON.stringify(value));
      assert.equal(unguardCell(cell), value, JSON.stringify(cell));
    }
    // Every short string over the characters that matter goes there and back.
    const alphabet = ["'", '=', '-', 'a', '\t', ' '];
    const strings = [''];
    for (let length = 1; length <= 4; length++) {
      for (const s of strings.filter((x) => x.length === length - 1)) strings.push(...alphabet.map((ch) => s + ch));
    }
    for (const s of strings) assert.equal(unguardCell(guardCell(s)), s, JSON.stringify(s));
  });

  test('no links: the header alone; bom: true starts with a byte order mark', async () => {
    assert.equal(await exportCsv([]), linkCsvHeaderLine());
    const withBom = await exportCsv([link()], { bom: true });
    assert.ok(withBom.startsWith(`\uFEFF"id",`));
    assert.equal(withBom.split('\r\n').length, 3);
  });
});

describe('LinkQR CSV round trip', () => {
  const tricky = [
    link(),
    link({
      id: 'lnk_00000000000000000002',
      slug: 'quotes',
      title: 'He said "hi", then left',
      url: 'https://example.com/search?q=%22a,b%22&x=1',
      tags: ['a|b', 'semi;colon', 'ünïcödé'],
    }),
    link({ id: 'lnk_00000000000000000003', slug: 'lines', title: 'Line one\nLine two\r\nLine "three", last' }),
    link({
      id: 'lnk_00000000000000000004',
      slug: '-dash',
      title: '=HYPERLINK("https://evil.test","click")',
      tags: ['=sum', '@mention', '-minus', '+plus'],
      expiresAt: '2030-01-31T12:00:00.000Z',
      expiredUrl: 'https://example.com/over',
      maxClicks: 1,
      redirectCode: 308,
      forwardQuery: false,
      status: 'disabled',
    }),
    link({ id: 'lnk_00000000000000000005', slug: '_apostrophes', title: "'=already guarded by hand", tags: ["''-two"] }),
    link({ id: 'lnk_00000000000000000006', slug: 'unicode', title: "'90s 日本語のタイトル 🎉 — naïve café", tags: ['日本', '🎉'], redirectCode: 301 }),
    link({ id: 'lnk_00000000000000000007', slug: 'nodomain', domain: null, maxClicks: 9_007_199_254_740_991 }),
  ];

  // A title with line breaks (stored before titles were one line) comes back as one line.
  const oneLine = (l: LinkCsvSource) => (l.slug === 'lines' ? { ...asImported(l), title: 'Line one Line two Line "three", last' } : asImported(l));

  test('importing the export gives back every value createLinkBody takes, and status', async () => {
    const csv = await exportCsv(tricky);
    const { rows } = parseImport('csv', csv);
    assert.deepEqual(
      rows.map((r) => r.problems),
      tricky.map(() => []),
    );
    assert.deepEqual(
      rows.map((r) => r.input),
      tricky.map(oneLine),
    );
  });

  test('and createLinkBody takes what comes back', async () => {
    for (const row of parseImport('csv', await exportCsv(tricky)).rows) {
      const { domain: _domain, status: _status, ...fields } = row.input!;
      const parsed = createLinkBody.safeParse(fields);
      assert.ok(parsed.success, `line ${row.line}: ${parsed.error?.message}`);
    }
  });

  test('rows are numbered by the line they start on, a title with line breaks taking several', async () => {
    const { rows } = parseImport('csv', await exportCsv(tricky));
    assert.deepEqual(
      rows.map((r) => r.line),
      [2, 3, 4, 7, 8, 9, 10],
    );
  });

  test('with the byte order mark Excel needs, too', async () => {
    const { rows } = parseImport('csv', await exportCsv(tricky, { bom: true }));
    assert.deepEqual(
      rows.map((r) => r.input),
      tricky.map(oneLine),
    );
  });
});
