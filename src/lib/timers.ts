/**
 * The monotonic clock and the timers of code whose behaviour depends on elapsed time (batching
 * delays, retries). Production passes `systemTimers`; tests pass `manualTimers()` and move time
 * by hand, so no test depends on how fast a busy machine runs.
 */
export interface Timers {
  /** Milliseconds on a monotonic clock (performance.now() in production). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export type TimerHandle = { readonly __timer: unique symbol } | NodeJS.Timeout;

export const systemTimers: Timers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Timers whose clock only moves when `advance` is called: due callbacks run in deadline order. */
export function manualTimers(start = 0): Timers & {
  advance(ms: number): void;
  /** Moves the clock without running the timers that fall due, as an event loop too busy for them does. */
  busyFor(ms: number): void;
  readonly pending: number;
} {
  let now = start;
  let nextId = 1; // never 0: callers test a handle for truthiness
  const due = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++;
      due.set(id, { at: now + Math.max(0, ms), fn });
      return id as unknown as TimerHandle;
    },
    clearTimeout(handle) {
      due.delete(handle as unknown as number);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | undefined;
        for (const entry of due) if (entry[1].at <= until && (!next || entry[1].at < next[1].at)) next = entry;
        if (!next) break;
        due.delete(next[0]);
        now = next[1].at;
        next[1].fn();
      }
      now = until;
    },
    busyFor(ms) {
      now += ms;
    },
    get pending() {
      return due.size;
    },
  };
}
