import { z } from 'zod';
import { DAY_MS, HOUR_MS } from '../clicks/rollups.js';
import { cursorParam, limitParam } from '../lib/pagination.js';

/** A series has at most this many buckets: pick interval=day for long ranges. */
export const MAX_BUCKETS = 2_000;
/** When neither `from` nor `to` is given: the last 30 days. */
export const DEFAULT_RANGE_MS = 30 * DAY_MS;

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
// ISO 8601 with a time and an explicit zone (Z or ±hh:mm): a time without a zone is ambiguous.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * `from`/`to`: an ISO 8601 time with zone, or a UTC date. A date as `to` includes that whole day
 * (to=2026-11-30 means up to the end of 30 November), the way people read a date range.
 */
const instant = (end: boolean) =>
  z
    .string()
    .refine((s) => DATE_ONLY.test(s) || DATE_TIME.test(s), 'must be an ISO 8601 time with zone (2026-11-01T00:00:00Z) or a date (2026-11-01)')
    .transform((s, ctx) => {
      const ms = Date.parse(DATE_ONLY.test(s) ? `${s}T00:00:00Z` : s);
      // Date.parse rolls 2026-02-30 over to 2 March: refuse days the calendar does not have.
      if (Number.isNaN(ms) || !isCalendarDate(s.slice(0, 10))) {
        ctx.addIssue({ code: 'custom', message: 'is not a valid date' });
        return z.NEVER;
      }
      return DATE_ONLY.test(s) && end ? ms + DAY_MS : ms;
    });

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
export type LinkStatsQuery = z.output<typeof linkStatsQuery>;

export const workspaceStatsQuery = z.strictObject({
  ...range,
  interval,
  limit: limitParam.default(10).meta({ description: 'Top links listed, 1–100 (default 10)' }),
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
