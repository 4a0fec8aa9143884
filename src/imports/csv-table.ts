import { CsvError, parse, type Info } from 'csv-parse/sync';
import { ImportFormatError, type ImportProblem } from './import-row.js';

/** One CSV record and the line of the source it starts on (1-based). */
export interface CsvRecord {
  line: number;
  cells: string[];
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * The separator of the header line: the most frequent of `,` `;` and tab outside quotes. A
 * spreadsheet saves `;` where the decimal separator is a comma (most of Europe); `,` when unsure.
 */
function detectDelimiter(text: string): string {
  const counts = new Map([[',', 0], [';', 0], ['\t', 0]]);
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === '\n' || ch === '\r')) break;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
  }
  let best = ',';
  for (const [delimiter, n] of counts) if (n > counts.get(best)!) best = delimiter;
  return best;
}

/** Line breaks (LF, CRLF, or a lone CR) in buf[from, to). */
function lineBreaks(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    if (buf[i] === LF || (buf[i] === CR && buf[i + 1] !== LF)) n++;
  }
  return n;
}

function describe(error: CsvError): string {
  // csv-parse's line count runs ahead inside quoted values that hold CRLF: "near".
  const where = `near line ${error.lines}`;
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return `the CSV could not be read: a value opened with a quote ${where} is never closed`;
    case 'CSV_INVALID_CLOSING_QUOTE':
      return `the CSV could not be read: a quoted value ${where} has text after its closing quote (a quote inside a value is written "")`;
    default:
      return `the CSV could not be read ${where}: ${error.message}`;
  }
}

/**
 * Every non-blank record of a CSV text, the first being the header where there is one. Reads at
 * most `limit` records, so an oversized file costs no more than the limit. Lenient where files
 * from spreadsheets differ: a UTF-8 byte order mark, CRLF or CR line ends, `;` or tab separators,
 * a stray quote inside an unquoted value, rows shorter or longer than the header, blank lines
 * and rows of empty cells (a spreadsheet's trailing ",,,,") are skipped.
 */
export function readCsvRecords(text: string, limit: number): CsvRecord[] {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  // Offsets from the parser are in bytes: counting lines over the same bytes keeps them exact.
  const buf = Buffer.from(source, 'utf8');
  let parsed: { record: string[]; info: Info }[];
  try {
    // The typings do not model `info: true`, which wraps each record with where it ends.
    parsed = parse(buf, {
      delimiter: detectDelimiter(source),
      info: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      to: limit,
    }) as unknown as typeof parsed;
  } catch (error) {
    if (error instanceof CsvError) throw new ImportFormatError(describe(error));
    throw error;
  }
  const records: CsvRecord[] = [];
  let end = 0; // where the previous record ended
  let counted = 0; // buf[0, counted) has `breaks` line breaks
  let breaks = 0;
  for (const { record, info } of parsed) {
    let start = end;
    // Blank lines before a record are skipped by the parser but counted here.
    while (start < info.bytes && (buf[start] === LF || buf[start] === CR)) start++;
    breaks += lineBreaks(buf, counted, start);
    counted = start;
    end = info.bytes;
    if (record.some((cell) => cell.trim() !== '')) records.push({ line: breaks + 1, cells: record });
  }
  return records;
}

/** A header name compared as people write it: `Long URL`, `long_url` and `longUrl` are one. */
export const headerKey = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * Finds columns by name. Each field lists the names it is known by, most specific first: the
 * first of them the header has wins, so `url` beats `target` when a file has both.
 */
export class CsvColumns {
  private readonly indexByKey = new Map<string, number>();
  constructor(readonly header: readonly string[]) {
    header.forEach((name, i) => {
      const key = headerKey(name);
      if (key !== '' && !this.indexByKey.has(key)) this.indexByKey.set(key, i);
    });
  }

  index(names: readonly string[]): number | undefined {
    for (const name of names) {
      const i = this.indexByKey.get(headerKey(name));
      if (i !== undefined) return i;
    }
    return undefined;
  }

  /** A reader of that column's cell in a record; a missing column or cell reads as undefined. */
  cell(names: readonly string[]): (record: CsvRecord) => string | undefined {
    const i = this.index(names);
    return i === undefined ? () => undefined : (record) => record.cells[i];
  }

  /** For error messages: the header as found. */
  list(): string {
    const names = this.header.map((h) => h.trim()).filter((h) => h !== '');
    return names.length === 0 ? '(no names)' : names.join(', ');
  }
}

/**
 * A record with non-empty cells past the header's last column was most likely split by a comma
 * that needed quotes, so its values may sit in the wrong columns: reported, not guessed at.
 */
export function extraCellsProblem(record: CsvRecord, columns: number): ImportProblem | undefined {
  if (record.cells.slice(columns).every((cell) => cell.trim() === '')) return undefined;
  return {
    field: 'row',
    message: `has ${record.cells.length} cells where the header has ${columns}: a value holding the separator must be in double quotes`,
  };
}
