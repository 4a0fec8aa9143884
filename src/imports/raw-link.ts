import { isReservedSlug, SLUG_PATTERN } from '../links/slugs.js';
import { NOT_TITLE_TEXT } from '../links/links.schema.js';
import type { ImportedLink, ImportProblem, ImportRow } from './import-row.js';

/**
 * One record as a format module found it, each field taken from the source column or property
 * that means it, not yet converted: CSV gives strings, JSON whatever the tool wrote (null for
 * "none"). toImportRow turns it into an ImportRow, so every format reads values the same way.
 */
export interface RawLink {
  url?: unknown;
  slug?: unknown;
  title?: unknown;
  /** Already split: each tool separates tags its own way. */
  tags?: readonly unknown[];
  expiresAt?: unknown;
  expiredUrl?: unknown;
  maxClicks?: unknown;
  redirectCode?: unknown;
  forwardQuery?: unknown;
  domain?: unknown;
  status?: unknown;
  /** LinkQR's own CSV: the targets as JSON. */
  targets?: unknown;
  /** LinkQR's own CSV: whether the link had a password (never the password itself). */
  passwordProtected?: unknown;
}

const REDIRECT_CODES = [301, 302, 307, 308] as const;

/** Text with the white space around it trimmed; undefined for nothing, null, or only white space. */
export function text(value: unknown): string | undefined {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/**
 * An instant as ISO 8601 in UTC. Accepts ISO 8601 dates and date-times, with `T` or a space, with
 * or without seconds and fractions; a time without an offset is read as UTC, never as the server's
 * local time (Kutt on SQLite and YOURLS store UTC that way: `2030-01-31 12:00:00`).
 */
export function isoInstant(value: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)\s*(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i.exec(value);
  if (!m) return undefined;
  const [, date = '', time = '00:00', zone = 'Z'] = m;
  // Date.parse rolls 2030-02-30 over into March: a day the month does not have is refused.
  const [year, month, day] = date.split('-').map(Number) as [number, number, number];
  if (new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return undefined;
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : zone.length === 3 ? `${zone}:00` : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const ms = Date.parse(`${date}T${time}${offset}`);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** Whole decimal digits only (`1e3`, `2.0` and `-1` are refused), or a JSON integer. */
function count(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  const s = text(value);
  if (s === undefined || !/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function yesNo(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  const s = text(value)?.toLowerCase();
  if (s === 'true' || s === '1' || s === 'yes') return true;
  if (s === 'false' || s === '0' || s === 'no') return false;
  return undefined;
}

/**
 * Why a slug from another tool cannot be a LinkQR slug as it is, or undefined when it can. Such a
 * slug is reported, never changed: a printed QR code or a shared link points at the old one.
 */
export function slugProblem(slug: string): string | undefined {
  if (!SLUG_PATTERN.test(slug)) return `"${slug}" does not fit LinkQR slugs: 1–64 letters, digits, "-" and "_"`;
  if (isReservedSlug(slug)) return `"${slug}" is reserved by LinkQR`;
  return undefined;
}

/**
 * The host and the path of a short URL (`https://s.test/abc`, or `bit.ly/abc` without a scheme):
 * the path, decoded, without its slashes around, is the slug. `lastSegment` keeps only what follows
 * the last slash, for tools whose site may live under a path (YOURLS at example.com/s/abc).
 */
export function shortUrlParts(value: unknown, options: { lastSegment?: boolean } = {}): { domain?: string; slug?: string } {
  const s = text(value);
  if (s === undefined) return {};
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `https://${s}`);
  } catch {
    return {};
  }
  let path = url.pathname.replace(/^\/+|\/+$/g, '');
  if (options.lastSegment) path = path.slice(path.lastIndexOf('/') + 1);
  try {
    path = decodeURIComponent(path);
  } catch {
    // Not valid percent-encoding: keep it as written, the slug rule will say what is wrong.
  }
  return { domain: url.hostname || undefined, slug: path || undefined };
}

/** Splits a tags cell: on "|" when the cell has one (Shlink since 2023), else on ",". */
export function splitTagList(value: unknown): string[] | undefined {
  const s = text(value);
  if (s === undefined) return undefined;
  return s.split(s.includes('|') ? '|' : ',');
}

/**
 * Reads a RawLink: trims, converts numbers, dates and booleans, and says what could not be read.
 * A value that cannot be read is left out of `input` (the link would get LinkQR's default) and
 * reported; a slug outside LinkQR's rule stays in `input` as the source had it, and is reported.
 */
export function toImportRow(line: number, raw: RawLink, sourceProblems: readonly ImportProblem[] = []): ImportRow {
  const url = text(raw.url);
  if (url === undefined) return { line, problems: [{ field: 'url', message: 'is missing: a link needs a destination URL' }, ...sourceProblems] };
  const problems = [...sourceProblems];
  const input: ImportedLink = { url };

  const slug = text(raw.slug);
  if (slug !== undefined) {
    input.slug = slug;
    const problem = slugProblem(slug);
    if (problem) problems.push({ field: 'slug', message: problem });
  }

  // Other tools keep multi-line titles (a Kutt description, a spreadsheet cell): LinkQR's are one
  // line, so each run of line breaks, tabs and other control characters becomes one space.
  const title = text(typeof raw.title === 'string' ? raw.title.replace(NOT_TITLE_TEXT, ' ') : raw.title);
  if (title !== undefined) input.title = title;

  const tags = (raw.tags ?? []).map(text).filter((t) => t !== undefined);
  if (tags.length > 0) input.tags = tags;

  const expires = text(raw.expiresAt);
  if (expires !== undefined) {
    const iso = isoInstant(expires);
    if (iso) input.expiresAt = iso;
    else problems.push({ field: 'expiresAt', message: `"${expires}" is not a date and time LinkQR reads; write it as ISO 8601, e.g. 2030-01-31T12:00:00Z` });
  }

  const expiredUrl = text(raw.expiredUrl);
  if (expiredUrl !== undefined) input.expiredUrl = expiredUrl;

  if (text(raw.maxClicks) !== undefined) {
    const n = count(raw.maxClicks);
    if (n !== undefined) input.maxClicks = n;
    else problems.push({ field: 'maxClicks', message: `"${text(raw.maxClicks)}" is not a whole number` });
  }

  if (text(raw.redirectCode) !== undefined) {
    const n = count(raw.redirectCode);
    const code = REDIRECT_CODES.find((c) => c === n);
    if (code) input.redirectCode = code;
    else problems.push({ field: 'redirectCode', message: `"${text(raw.redirectCode)}" is not 301, 302, 307 or 308` });
  }

  if (text(raw.forwardQuery) !== undefined) {
    const b = yesNo(raw.forwardQuery);
    if (b !== undefined) input.forwardQuery = b;
    else problems.push({ field: 'forwardQuery', message: `"${text(raw.forwardQuery)}" is not true or false` });
  }

  const domain = text(raw.domain);
  if (domain !== undefined) input.domain = domain.toLowerCase();

  const status = text(raw.status)?.toLowerCase();
  if (status === 'active' || status === 'disabled') input.status = status;
  else if (status !== undefined) problems.push({ field: 'status', message: `"${text(raw.status)}" is not "active" or "disabled"` });

  const targets = text(raw.targets);
  if (targets !== undefined && targets !== '[]') {
    try {
      const parsed: unknown = JSON.parse(targets);
      if (!Array.isArray(parsed)) throw new Error('not a list');
      input.targets = parsed;
    } catch {
      problems.push({ field: 'targets', message: 'is not a JSON list of targets as LinkQR exports them' });
    }
  }

  // An export never carries a password: importing the link without one would open what was
  // protected. It is reported, so that it is imported (or not) knowingly.
  if (yesNo(raw.passwordProtected) === true) {
    problems.push({ field: 'passwordProtected', message: 'had a password, which exports do not carry: import it without this column, then set a password' });
  }

  return { line, input, problems };
}
