import { CsvError, type Info, type Options, Parser } from 'csv-parse';
import { ImportFormatError, type ImportProblem } from './import-row.js';
import type { Steps } from './steps.js';

/** One CSV record and the line of the source it starts on (1-based). */
export interface CsvRecord {
  line: number;
  cells: string[];
}

const LF = 0x0a;
const CR = 0x0d;
/** Characters scanned or encoded between two yields: about a millisecond of work. */
const PIECE_CHARS = 1 << 20;
/** Bytes handed to the CSV parser at a time: a few milliseconds of its work. */
const PIECE_BYTES = 64 * 1024;

/**
 * The separator of the header line: the most frequent of `,` `;` and tab outside quotes. A
 * spreadsheet saves `;` where the decimal separator is a comma (most of Europe); `,` when unsure.
 */
function* detectDelimiter(text: string): Steps<string> {
  const counts = new Map([[',', 0], [';', 0], ['\t', 0]]);
  let quoted = false;
  // By index, yielding now and then: a quote never closed makes the header the whole file.
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === '\n' || ch === '\r')) break;
    else if (!quoted && counts.has(ch)) counts.set(ch, counts.get(ch)! + 1);
    if (i % PIECE_CHARS === PIECE_CHARS - 1) yield;
  }
  let best = ',';
  for (const [delimiter, n] of counts) if (n > counts.get(best)!) best = delimiter;
  return best;
}

/** Buffer.from(text, 'utf8'), a piece at a time (60 MB at once takes 40 ms). */
function* utf8(text: string): Steps<Buffer> {
  const buf = Buffer.allocUnsafe(Buffer.byteLength(text, 'utf8'));
  let written = 0;
  for (let from = 0; from < text.length; ) {
    let to = Math.min(from + PIECE_CHARS, text.length);
    // A surrogate pair is one character: cut in two, each half would be written as U+FFFD.
    const last = text.charCodeAt(to - 1);
    if (to < text.length && last >= 0xd800 && last <= 0xdbff) to--;
    written += buf.write(text.slice(from, to), written, 'utf8');
    from = to;
    yield;
  }
  return buf;
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

/** A record as csv-parse gives it with `info: true`: with where it ends. */
interface ParsedRecord {
  record: string[];
  info: Info;
}

/**
 * csv-parse's parser itself, which its sync `parse` and its stream both drive: fed a piece at a
 * time (`end` false), it keeps what a piece stops in the middle of (a quoted value, a CR that
 * may start a CRLF) for the next, so pieces read as the whole file would. The package offers it
 * only as its stream's `api`; a stream would hand the records over in its own later turns.
 * csv-table.test.ts reads files in pieces of every size and compares them with the whole.
 */
interface CsvCore {
  parse(piece: Buffer | undefined, end: boolean, push: (record: ParsedRecord) => void, close: () => void): Error | undefined;
}

function csvCore(options: Options): CsvCore {
  const core = (new Parser(options) as unknown as { api?: Partial<CsvCore> }).api;
  if (typeof core?.parse !== 'function') throw new Error('csv-parse has no Parser#api.parse any more: src/imports/csv-table.ts feeds it pieces');
  return core as CsvCore;
}

function refuse(error: Error | undefined) {
  if (error instanceof CsvError) throw new ImportFormatError(describe(error));
  if (error) throw error;
}

/**
 * Every non-blank record of a CSV text, the first being the header where there is one. Reads at
 * most `limit` records, so an oversized file costs no more than the limit. Lenient where files
 * from spreadsheets differ: a UTF-8 byte order mark, CRLF or CR line ends, `;` or tab separators,
 * a stray quote inside an unquoted value, rows shorter or longer than the header, blank lines
 * and rows of empty cells (a spreadsheet's trailing ",,,,") are skipped. Yields between pieces
 * of `pieceBytes` (see steps.ts).
 */
export function* readCsvRecords(text: string, limit: number, pieceBytes = PIECE_BYTES): Steps<CsvRecord[]> {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  // Offsets from the parser are in bytes: counting lines over the same bytes keeps them exact.
  const buf = yield* utf8(source);
  const core = csvCore({
    delimiter: yield* detectDelimiter(source),
    info: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    to: limit,
  });
  const records: CsvRecord[] = [];
  let end = 0; // where the previous record ended
  let counted = 0; // buf[0, counted) has `breaks` line breaks
  let breaks = 0;
  // Each record is made a CsvRecord as it comes: csv-parse's `info` for it (a dozen fields) is
  // dropped at once, not kept for 100,000 rows (what survives is what garbage collection copies).
  const push = ({ record, info }: ParsedRecord) => {
    let start = end;
    // Blank lines before a record are skipped by the parser but counted here.
    while (start < info.bytes && (buf[start] === LF || buf[start] === CR)) start++;
    breaks += lineBreaks(buf, counted, start);
    counted = start;
    end = info.bytes;
    if (record.some((cell) => cell.trim() !== '')) records.push({ line: breaks + 1, cells: record });
  };
  // Called when `limit` records are read: the rest of the file is not looked at.
  let closed = false;
  const close = () => {
    closed = true;
  };
  for (let at = 0; at < buf.length && !closed; at += pieceBytes) {
    refuse(core.parse(buf.subarray(at, at + pieceBytes), false, push, close));
    yield;
  }
  if (!closed) refuse(core.parse(undefined, true, push, close));
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
