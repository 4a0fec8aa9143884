import { Transform } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import type { Link } from '../links/link-presenter.js';
import { CsvColumns, extraCellsProblem, readCsvRecords, type CsvRecord } from './csv-table.js';
import { checkRowCount, ImportFormatError, type ImportRow } from './import-row.js';
import { shortUrlParts, toImportRow, type RawLink } from './raw-link.js';
import { mapSteps, runSteps, type Steps } from './steps.js';

/*
 * LinkQR's own CSV: one link per row, columns named as in the Link JSON so the file reads like the
 * API. Export writes it; import reads it back, and reads any CSV with a URL column.
 *
 * - Tags are one cell, joined by ", ": a tag cannot hold a comma (createLinkBody), while "|" and
 *   ";" are allowed in tags, so the comma is the one separator that splits them back exactly.
 * - Every non-empty cell is quoted (RFC 4180), so a separator inside a value never starts a new
 *   cell, whatever separator the spreadsheet assumes.
 * - Formula injection (OWASP "CSV Injection"): a cell that starts with = + - @ tab, CR or NUL is
 *   run as a formula by Excel, LibreOffice and Google Sheets, so it gets a leading apostrophe,
 *   which they read as "this is text". Titles, tags and slugs (a slug may start with "-") can.
 *   To make that reversible, a value that already starts with apostrophes followed by one of
 *   those characters gets one more; import removes one apostrophe from exactly those cells. A
 *   value that merely starts with an apostrophe ("'90s hits") is written and read as it is.
 */

/** The header, in order. New columns go at the end, so scripts that index columns keep working. */
export const LINK_CSV_COLUMNS = [
  'id',
  'slug',
  'shortUrl',
  'url',
  'title',
  'tags',
  'status',
  'expiresAt',
  'expiredUrl',
  'maxClicks',
  'redirectCode',
  'forwardQuery',
  'clicks',
  'lastClickedAt',
  'createdAt',
  'domain',
  'targets',
  'passwordProtected',
] as const;

/** What an export needs of a link: its Link JSON; `domain` while links gain one. */
export type LinkCsvSource = Pick<
  Link,
  | 'id'
  | 'slug'
  | 'shortUrl'
  | 'url'
  | 'title'
  | 'tags'
  | 'status'
  | 'expiresAt'
  | 'expiredUrl'
  | 'maxClicks'
  | 'redirectCode'
  | 'forwardQuery'
  | 'clicks'
  | 'lastClickedAt'
  | 'createdAt'
> & { domain?: string | null; targets?: unknown[]; passwordProtected?: boolean };

const FORMULA_START = /^[=+\-@\t\r\0]/;
const GUARDED = /^'+[=+\-@\t\r\0]/;

/** A cell as written: with the apostrophe that keeps a spreadsheet from running it (see above). */
export const guardCell = (value: string) => (FORMULA_START.test(value) || GUARDED.test(value) ? `'${value}` : value);

/** The value guardCell was given. */
export const unguardCell = (cell: string) => (GUARDED.test(cell) ? cell.slice(1) : cell);

export const TAG_SEPARATOR = ', ';

/** One link as the cells of a row, in LINK_CSV_COLUMNS order, guarded. Null is an empty cell. */
export function linkToCsvRecord(link: LinkCsvSource): string[] {
  const cells: Record<(typeof LINK_CSV_COLUMNS)[number], string | number | boolean | null | undefined> = {
    id: link.id,
    slug: link.slug,
    shortUrl: link.shortUrl,
    url: link.url,
    title: link.title,
    tags: link.tags.join(TAG_SEPARATOR),
    status: link.status,
    expiresAt: link.expiresAt,
    expiredUrl: link.expiredUrl,
    maxClicks: link.maxClicks,
    redirectCode: link.redirectCode,
    forwardQuery: link.forwardQuery,
    clicks: link.clicks,
    lastClickedAt: link.lastClickedAt,
    createdAt: link.createdAt,
    domain: link.domain,
    targets: link.targets && link.targets.length > 0 ? JSON.stringify(link.targets) : '',
    passwordProtected: link.passwordProtected,
  };
  return LINK_CSV_COLUMNS.map((column) => guardCell(String(cells[column] ?? '')));
}

const toLine = (cells: readonly string[]) => stringify([cells], { quoted: true, record_delimiter: '\r\n' });

/** The header line, CRLF-terminated. */
export const linkCsvHeaderLine = () => toLine(LINK_CSV_COLUMNS);

/** One link as a CSV line, CRLF-terminated. */
export const linkToCsvLine = (link: LinkCsvSource) => toLine(linkToCsvRecord(link));

/**
 * A stream that takes links (object mode) and gives CSV text: the header first, then a line per
 * link, so an export can go from a database cursor to the response without holding the links.
 * An export of no links is the header alone. `bom` starts the text with a UTF-8 byte order mark,
 * which Excel needs to read non-ASCII text as UTF-8 (other tools may show it as a stray character
 * in the first header name; LinkQR's import skips it).
 */
export function linkCsvStream(options: { bom?: boolean } = {}): Transform {
  const head = () => `${options.bom ? '\uFEFF' : ''}${linkCsvHeaderLine()}`;
  let started = false;
  return new Transform({
    writableObjectMode: true,
    transform(link: LinkCsvSource, _encoding, done) {
      try {
        const line = linkToCsvLine(link);
        done(null, started ? line : head() + line);
        started = true;
      } catch (error) {
        done(error as Error);
      }
    },
    flush(done) {
      done(null, started ? undefined : head());
    },
  });
}

/** The names each field's column is known by (compared as headerKey does), most specific first. */
export const CSV_COLUMN_NAMES = {
  url: ['url', 'long_url', 'longUrl', 'destination', 'destination_url', 'target', 'target_url', 'original_url'],
  slug: ['slug', 'short_code', 'shortcode', 'keyword', 'alias', 'back_half'],
  shortUrl: ['shortUrl', 'short_link'],
  title: ['title', 'name'],
  tags: ['tags', 'tag', 'labels'],
  expiresAt: ['expiresAt', 'expires', 'expiry', 'expiration', 'expiration_date', 'valid_until'],
  expiredUrl: ['expiredUrl'],
  maxClicks: ['maxClicks', 'max_visits', 'click_limit'],
  redirectCode: ['redirectCode', 'redirect_type'],
  forwardQuery: ['forwardQuery'],
  domain: ['domain'],
  status: ['status'],
  targets: ['targets'],
  passwordProtected: ['passwordProtected'],
} as const;

const startsWithHttp = (cell: string | undefined) => /^\s*https?:\/\//i.test(cell ?? '');

/**
 * Reads the `csv` format: LinkQR's own export, or any CSV with a URL column under one of the
 * names above (any letter case, spaces, "_" or "-"). A one-column file of URLs without a header
 * is read as a list of URLs. Tags split on commas only; a file without a slug column takes the
 * slug (and, without a domain column, the domain) from a shortUrl column.
 */
export function* readLinkCsv(text: string, maxRows: number): Steps<ImportRow[]> {
  // trim() takes a byte order mark for white space, without copying the text (a replace() would: 80 ms for 60 MB).
  if (text.trim() === '') throw new ImportFormatError('the CSV is empty');
  const records = yield* readCsvRecords(text, maxRows + 2);
  for (const record of records) {
    // In place: a copy of every record would be 100,000 more objects to hold.
    record.cells.forEach((cell, i) => {
      record.cells[i] = unguardCell(cell);
    });
    yield;
  }
  const [first, ...rest] = records;
  if (!first) throw new ImportFormatError('the CSV is empty');
  const columns = new CsvColumns(first.cells);

  if (columns.index(CSV_COLUMN_NAMES.url) === undefined) {
    if (first.cells.length === 1 && startsWithHttp(first.cells[0])) {
      checkRowCount(records.length, maxRows, 'CSV');
      return yield* mapSteps(records, (r) => toImportRow(r.line, { url: r.cells[0] }, problemsOf(r, 1)));
    }
    throw new ImportFormatError(`the CSV has no "url" column (nor long_url, destination or target); found: ${columns.list()}`);
  }
  checkRowCount(rest.length, maxRows, 'CSV');

  const cell = Object.fromEntries(Object.entries(CSV_COLUMN_NAMES).map(([field, names]) => [field, columns.cell(names)])) as {
    [F in keyof typeof CSV_COLUMN_NAMES]: (r: CsvRecord) => string | undefined;
  };
  const hasSlug = columns.index(CSV_COLUMN_NAMES.slug) !== undefined;
  const hasDomain = columns.index(CSV_COLUMN_NAMES.domain) !== undefined;

  return yield* mapSteps(rest, (r) => {
    const fromShortUrl = hasSlug && hasDomain ? {} : shortUrlParts(cell.shortUrl(r));
    const raw: RawLink = {
      url: cell.url(r),
      slug: hasSlug ? cell.slug(r) : fromShortUrl.slug,
      title: cell.title(r),
      tags: cell.tags(r)?.split(','),
      expiresAt: cell.expiresAt(r),
      expiredUrl: cell.expiredUrl(r),
      maxClicks: cell.maxClicks(r),
      redirectCode: cell.redirectCode(r),
      forwardQuery: cell.forwardQuery(r),
      domain: hasDomain ? cell.domain(r) : fromShortUrl.domain,
      status: cell.status(r),
      targets: cell.targets(r),
      passwordProtected: cell.passwordProtected(r),
    };
    return toImportRow(r.line, raw, problemsOf(r, first.cells.length));
  });
}

/** readLinkCsv at once, for a text known to be small. */
export const parseLinkCsv = (text: string, maxRows: number): ImportRow[] => runSteps(readLinkCsv(text, maxRows));

const problemsOf = (record: CsvRecord, columns: number) => {
  const problem = extraCellsProblem(record, columns);
  return problem ? [problem] : [];
};
