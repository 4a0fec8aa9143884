/** What happens after an attempt, per SPEC §5. Pure: the clock and randomness come in. */

export const AUTO_DISABLE_AFTER_MS = 5 * 86_400_000;
const MIN_RETRY_AFTER_MS = 1_000;
const MAX_RETRY_AFTER_MS = 86_400_000;

export type AttemptOutcome = 'success' | 'failure' | 'gone' | 'throttled';

export type Decision =
  | { delivery: 'succeeded' }
  | { delivery: 'retry'; at: number }
  | { delivery: 'failed' };

/** ±20% around the scheduled delay, so receivers that failed together do not retry together. */
export const jittered = (delayMs: number, random: () => number) => Math.round(delayMs * (0.8 + 0.4 * random()));

/**
 * @param attemptsMade attempts so far, this one included (1 after the first)
 * @param schedule delays before each retry (LINKQR_WEBHOOK_RETRY_SCHEDULE)
 */
export function decide(
  outcome: AttemptOutcome,
  attemptsMade: number,
  schedule: readonly number[],
  now: number,
  retryAfterMs: number | null,
  random: () => number = Math.random,
): Decision {
  if (outcome === 'success') return { delivery: 'succeeded' };
  // 410 Gone: the receiver says the endpoint no longer exists (the endpoint gets disabled too).
  if (outcome === 'gone') return { delivery: 'failed' };
  const scheduled = schedule[attemptsMade - 1];
  if (scheduled === undefined) return { delivery: 'failed' };
  if (outcome === 'throttled' && retryAfterMs !== null) {
    return { delivery: 'retry', at: now + Math.min(Math.max(retryAfterMs, MIN_RETRY_AFTER_MS), MAX_RETRY_AFTER_MS) };
  }
  return { delivery: 'retry', at: now + jittered(scheduled, random) };
}
