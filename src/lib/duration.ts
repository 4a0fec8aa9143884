const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The longest duration parseDuration accepts: 36,500 days (about a century). A time that far from
 * now is still a date (JavaScript's dates end 100 million days after 1970, which nine digits of
 * days pass), and nothing LinkQR schedules is longer.
 */
export const MAX_DURATION_MS = 36_500 * 86_400_000;

/** Parses `500ms`, `5s`, `5m`, `2h`, `90d` into milliseconds; undefined when malformed or longer than MAX_DURATION_MS. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * UNITS[m[2]!]!;
  return ms <= MAX_DURATION_MS ? ms : undefined;
}

/**
 * The other way: `5s`, `30m`, `24h`, `40d`, in the largest unit that divides it exactly (a single
 * day reads as 24h, as in the default retry schedule).
 */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNITS[unit]!;
    if (ms % size === 0 && ms > 0 && !(unit === 'd' && ms === size)) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
