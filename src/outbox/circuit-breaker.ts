/**
 * How many attempts each endpoint may have in flight, narrowed for endpoints that do not answer.
 *
 * A receiver that hangs keeps each attempt for the whole timeout (15 s), so its slots are what it
 * costs everyone else; one that answers, even with an error, gives them back at once. So only
 * "no answer" failures count: each one halves the endpoint's slots (8, 4, 2, 1), and at one the
 * circuit is open: a single attempt at a time, the half-open probe. Any success closes it (full
 * slots again). Nothing is skipped or rescheduled here: deliveries of a narrowed endpoint stay
 * due in the outbox and go out as slots free up, each attempt retried on the SPEC §5 schedule.
 *
 * The state lives in the dispatcher that owns this object, not in the database: it bounds what
 * this process has in flight, which the database does not know either. After a restart an
 * endpoint that still hangs is narrowed again by its first round of timeouts, and until then
 * the per-workspace bound keeps it from holding more than its workspace's share.
 */

import type { AttemptErrorClass, AttemptResult } from '../webhooks/sender.js';

/** Failures where the receiver never answered: failures to connect (a total timeout is `timedOut`). */
const NO_ANSWER = new Set<AttemptErrorClass>(['connect_timeout', 'connection_refused', 'unreachable', 'dns']);

export type CircuitChange = 'opened' | 'closed';

export class CircuitBreakers {
  /** Endpoints below full slots; the others are closed. */
  private readonly narrowed = new Map<string, number>();

  constructor(private readonly fullSlots: number) {}

  slots(endpointId: string): number {
    return this.narrowed.get(endpointId) ?? this.fullSlots;
  }

  /** Endpoints below full slots, with their slots. */
  narrowedEndpoints(): IterableIterator<[string, number]> {
    return this.narrowed.entries();
  }

  /** Takes an attempt's outcome into account; says when the circuit opened or closed. */
  record(endpointId: string, result: Pick<AttemptResult, 'outcome' | 'errorClass' | 'timedOut'>): CircuitChange | undefined {
    const before = this.slots(endpointId);
    // A receiver that sends its status line and then stalls holds the slot as long as one that
    // never answers: whatever the status said, an attempt the total timeout ended counts as no answer.
    const noAnswer = result.timedOut || (result.errorClass !== null && NO_ANSWER.has(result.errorClass));
    if (result.outcome === 'success' && !noAnswer) {
      this.narrowed.delete(endpointId);
      return before === 1 ? 'closed' : undefined;
    }
    if (!noAnswer) return undefined;
    const after = Math.max(1, Math.floor(before / 2));
    this.narrowed.set(endpointId, after);
    return after === 1 && before > 1 ? 'opened' : undefined;
  }

  /** A deleted or disabled endpoint: enabling it again is a fresh start. */
  forget(endpointId: string): void {
    this.narrowed.delete(endpointId);
  }
}
