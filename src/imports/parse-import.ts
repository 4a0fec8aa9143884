import { parseBitlyExport } from './bitly.js';
import { DEFAULT_MAX_ROWS, type ImportRow } from './import-row.js';
import { parseKuttExport } from './kutt.js';
import { readLinkCsv } from './link-csv.js';
import { parseShlinkExport } from './shlink.js';
import { runSteps, runStepsInSlices, type Steps } from './steps.js';
import { parseYourlsExport } from './yourls.js';

/** The formats an import reads: `csv` is LinkQR's own export or any CSV with a URL column. */
export const IMPORT_FORMATS = ['csv', 'bitly', 'shlink', 'kutt', 'yourls'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export interface ImportOptions {
  /** More links than this and the document is refused whole (ImportFormatError). */
  maxRows?: number;
}

const PARSERS: Record<ImportFormat, (data: string, maxRows: number) => Steps<ImportRow[]>> = {
  csv: readLinkCsv,
  bitly: parseBitlyExport,
  shlink: parseShlinkExport,
  kutt: parseKuttExport,
  yourls: parseYourlsExport,
};

/**
 * Reads another tool's export (or LinkQR's own) into one row per link, in source order: the
 * fields to create it with and the problems found, each row on its own. Throws ImportFormatError
 * when the document as a whole cannot be read as `format`. Pure: no database, no clock, so a dry
 * run and the real import read a file the same way. At once: for what is small, or a test.
 */
export function parseImport(format: ImportFormat, data: string, options: ImportOptions = {}): { rows: ImportRow[] } {
  return runSteps(readImport(format, data, options));
}

/**
 * parseImport a slice at a time, other callbacks running between two slices (steps.ts): how the
 * server reads a file, so that redirects are not held while it does (100,000 rows take a second).
 */
export function parseImportInSlices(format: ImportFormat, data: string, options: ImportOptions = {}): Promise<{ rows: ImportRow[] }> {
  return runStepsInSlices(readImport(format, data, options));
}

function* readImport(format: ImportFormat, data: string, options: ImportOptions): Steps<{ rows: ImportRow[] }> {
  const maxRows = options.maxRows ?? DEFAULT_MAX_ROWS;
  if (!Number.isSafeInteger(maxRows) || maxRows < 1) throw new RangeError(`maxRows must be a positive integer, not ${maxRows}`);
  const rows = yield* PARSERS[format](data, maxRows);
  yield* reportRepeatedSlugs(rows);
  return { rows };
}

/**
 * A slug can name one link per domain: the second row with the same slug would fail when created,
 * so it is reported here, where a dry run shows it with the line of the first.
 */
function* reportRepeatedSlugs(rows: readonly ImportRow[]): Steps<void> {
  const firstLine = new Map<string, number>();
  for (const row of rows) {
    yield;
    if (row.input?.slug === undefined) continue;
    const key = `${row.input.domain ?? ''}/${row.input.slug}`;
    const line = firstLine.get(key);
    if (line === undefined) firstLine.set(key, row.line);
    else row.problems.push({ field: 'slug', message: `"${row.input.slug}" is also the slug of line ${line}` });
  }
}
