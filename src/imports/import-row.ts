import type { FieldError } from '../lib/errors.js';

/**
 * What an import reads from one record of another tool's export: the fields of POST
 * /api/v1/links (createLinkBody's input, values as strings, numbers and booleans), plus `status`,
 * which only LinkQR's own CSV carries and createLinkBody does not take (a disabled link is created,
 * then disabled). Nothing here has been validated beyond its shape: the service runs createLinkBody.
 */
export interface ImportedLink {
  url: string;
  slug?: string;
  title?: string;
  tags?: string[];
  /** ISO 8601 in UTC (`2030-01-31T12:00:00.000Z`), as createLinkBody takes it. */
  expiresAt?: string;
  expiredUrl?: string;
  maxClicks?: number;
  redirectCode?: 301 | 302 | 307 | 308;
  forwardQuery?: boolean;
  /** The host name the link lived on in the source (see the format modules for which). */
  domain?: string;
  status?: 'active' | 'disabled';
  /** LinkQR's own CSV only; checked by the link schema. */
  targets?: unknown[];
}

/** `field` names an ImportedLink field, or `row` for the record as a whole. */
export type ImportProblem = FieldError;

export interface ImportRow {
  /**
   * Where the record is in the source, 1-based: for CSV the line it starts on (the header is line
   * 1; a spreadsheet shows the same number unless a cell above holds a line break), for JSON its
   * position in the list of links.
   */
  line: number;
  /** Absent when the record gives nothing to create a link from (no URL, not an object). */
  input?: ImportedLink;
  /** Empty when nothing stood out; a row with problems should be shown, not created. */
  problems: ImportProblem[];
}

/**
 * The document as a whole cannot be read as the format chosen: not JSON, no URL column, empty,
 * too long. The message is written for the person who sent the file and names what was found.
 */
export class ImportFormatError extends Error {
  override name = 'ImportFormatError';
}

export const DEFAULT_MAX_ROWS = 100_000;

/** Refuses a document with more records than `maxRows` before any of them is mapped. */
export function checkRowCount(count: number, maxRows: number, what: string) {
  if (count > maxRows) {
    throw new ImportFormatError(`the ${what} has more than ${maxRows.toLocaleString('en-US')} links; split it into parts of at most that many`);
  }
  if (count === 0) throw new ImportFormatError(`the ${what} holds no links`);
}
