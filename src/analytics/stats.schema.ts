import * as z from 'zod';
import { DAY_MS, HOUR_MS } from '../clicks/rollups.js';
import { cursorParam, limitParam } from '../lib/pagination.js';
import { integerParam } from '../lib/request-schemas.js';

/** A series has at most this many buckets: pick interval=day for long ranges. */
export const MAX_BUCKETS = 2_000;
/** When neither `from` nor `to` is given: the last 30 days. */
export const DEFAULT_RANGE_MS = 30 * DAY_MS;

/**
 * `from`/`to`: a UTC date, or a date-time with seconds and a zone (RFC 3339, as `expiresAt`):
 * zod's ISO formats, whose patterns the OpenAPI document carries, so the calendar check (no
 * 30 February) is in the document too. A date as `to` includes that whole day (to=2026-11-30
 * means up to the end of 30 November), the way people read a date range.
 */
const instant = (end: boolean) =>
  z
    .union([z.iso.date(), z.iso.datetime({ offset: true })], {
      error: 'must be an ISO 8601 time with seconds and zone (2026-11-01T00:00:00Z) or a date (2026-11-01)',
    })
    .transform((s) => (s.length === 10 ? Date.parse(`${s}T00:00:00Z`) + (end ? DAY_MS : 0) : Date.parse(s)));

/** Whether YYYY-MM-DD is a day the calendar has (Date.parse would roll 2026-02-30 over to 2 March). */
export function isCalendarDate(ymd: string): boolean {
  const [y, m, d] = ymd.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

const range = {
  from: instant(false).optional().meta({ description: 'Start, inclusive: 2026-11-01T14:00:00Z or 2026-11-01 (UTC)' }),
  to: instant(true).optional().meta({ description: 'End, exclusive; a date includes that whole day' }),
};

export interface TimeRange {
  from: number;
  to: number;
}

/** Fills in defaults (the 30 days up to `defaultTo`) and checks from < to. */
export function resolveRange(q: { from?: number; to?: number }, defaultTo: number): TimeRange | { field: string; message: string } {
  const to = q.to ?? defaultTo;
  const from = q.from ?? to - DEFAULT_RANGE_MS;
  if (from >= to) return { field: 'from', message: 'must be before to' };
  return { from, to };
}

export const INTERVALS = { hour: HOUR_MS, day: DAY_MS } as const;
export type Interval = keyof typeof INTERVALS;

const interval = z.enum(['hour', 'day'], { message: 'must be "hour" or "day"' }).optional().meta({ description: 'Bucket size; default hour up to 3 days, day beyond' });

export const linkStatsQuery = z.strictObject({ ...range, interval });

/** GET /api/v1/clicks/export: a range, by default the last 30 days. */
export const clicksExportQuery = z.strictObject(range);
export type ClicksExportQuery = z.output<typeof clicksExportQuery>;
export type LinkStatsQuery = z.output<typeof linkStatsQuery>;

export const workspaceStatsQuery = z.strictObject({
  ...range,
  interval,
  limit: integerParam(1, 100, 10).meta({ description: 'Top links listed, 1–100 (default 10)' }),
});
export type WorkspaceStatsQuery = z.output<typeof workspaceStatsQuery>;

/** `<clicked_at ms>_<click id>` of the last click of the previous page. */
export const CLICK_CURSOR = /^\d{1,15}_\d{1,16}$/;

export const listClicksQuery = z.strictObject({
  ...range,
  limit: limitParam,
  after: cursorParam(CLICK_CURSOR).optional(),
});
export type ListClicksQuery = z.output<typeof listClicksQuery>;
