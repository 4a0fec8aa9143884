import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { type CsvRecord, readCsvRecords } from './csv-table.js';
import { runSteps } from './steps.js';

const fixtures = readdirSync(join(__dirname, 'fixtures'))
  .filter((name) => name.endsWith('.csv'))
  .map((name) => [name, readFileSync(join(__dirname, 'fixtures', name), 'utf8')] as const);

// What files from spreadsheets and other tools do at the places a piece may end.
const AWKWARD: [string, string][] = [
  ['CRLF', 'url,title\r\nhttps://example.com/1,one\r\nhttps://example.com/2,two\r\n'],
  ['CR alone', 'url,title\rhttps://example.com/1,"a\rb"\rhttps://example.com/2,c\r'],
  ['quoted line breaks, doubled quotes', 'url;title\r\nhttps://example.com/1;"Two\r\nlines; ""quoted"""\r\n\r\n\r\nhttps://example.com/2;x\r\n;\r\n'],
  ['byte order mark, tabs', '\uFEFFkeyword\ttarget\nk\thttps://example.com/c\n'],
  ['characters of 2, 3 and 4 bytes', 'url,title\nhttps://example.com/é,"Café — 20% 🎉"\nhttps://例え.jp/,日本語\n'],
  ['a stray quote, rows of unequal length', 'url,title\nhttps://example.com/1,say "hi"\nhttps://example.com/2\nhttps://example.com/3,a,b,c\n'],
  ['no line break at the end', 'url\nhttps://example.com/1\nhttps://example.com/2'],
];

const read = (text: string, limit: number, pieceBytes?: number) => runSteps(readCsvRecords(text, limit, pieceBytes));
const failure = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  assert.fail('expected the CSV to be refused');
};

describe('reading a CSV a piece at a time', () => {
  // csv-parse is fed pieces of the file (csv-table.ts); a piece may end anywhere, even inside a
  // character: every size must read as the whole file does.
  const SIZES = [1, 2, 3, 4, 5, 7, 64, 1000];

  test('pieces of every size give the records of the whole file, lines included', () => {
    for (const [name, text] of [...fixtures, ...AWKWARD]) {
      const whole = read(text, 1000, Number.MAX_SAFE_INTEGER);
      assert.ok(whole.length > 1, name);
      for (const size of SIZES) assert.deepEqual(read(text, 1000, size), whole, `${name}, pieces of ${size} bytes`);
    }
  });

  test('the whole file reads as csv-parse reads it at once', () => {
    for (const [name, text] of [...fixtures, ...AWKWARD]) {
      const source = text.replace(/^\uFEFF/, '');
      const delimiter = name === 'byte order mark, tabs' ? '\t' : name.startsWith('quoted line breaks') ? ';' : ',';
      const cells = (parse(source, { delimiter, relax_column_count: true, relax_quotes: true, skip_empty_lines: true }) as string[][]).filter((r) =>
        r.some((cell) => cell.trim() !== ''),
      );
      assert.deepEqual(
        read(text, 1000).map((r: CsvRecord) => r.cells),
        cells,
        name,
      );
    }
  });

  test('the record limit stops at the same record; a broken file is refused with the same message', () => {
    const text = AWKWARD[2]![1];
    for (const size of SIZES) assert.deepEqual(read(text, 2, size), read(text, 2), `limit, pieces of ${size} bytes`);
    const broken = 'url,title\nhttps://example.com/,"unfinished\nhttps://example.com/2,next\n';
    const message = failure(() => read(broken, 1000));
    assert.match(message, /never closed/);
    for (const size of SIZES) assert.equal(failure(() => read(broken, 1000, size)), message, `pieces of ${size} bytes`);
  });

  test('a character that is two UTF-16 units is not cut where the text is encoded in pieces', () => {
    // The text is encoded a million characters at a time: put an emoji across that boundary.
    const filler = 'x'.repeat((1 << 20) - 'url\nhttps://example.com/'.length - 1);
    const url = `https://example.com/${filler}🎉`;
    assert.equal(`url\n${url}`.charCodeAt((1 << 20) - 1), 0xd83c);
    assert.deepEqual(read(`url\n${url}\n`, 10), [
      { line: 1, cells: ['url'] },
      { line: 2, cells: [url] },
    ]);
  });
});
