import type { Db } from '../db/db.js';
import type { AttemptOutcome, DeliveryStatus } from '../db/schema.js';

export interface ClaimedDelivery {
  id: string;
  attempts: number;
  endpoint_id: string;
  event_id: string;
  payload: string;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: number | null;
}

/**
 * Leases due deliveries of enabled endpoints whose secret can be read (the others wait for a
 * rotation, see src/webhooks/endpoint-secrets.ts) in one statement: at most `limit` in all and, per
 * endpoint, `perEndpoint` minus what is already in flight (`busy`). A lease that expired (its
 * holder died) makes the delivery claimable again.
 *
 * Only the `scan` longest-due deliveries are looked at (by default twice the claim, 64 to 1,000),
 * which bounds the cost of a claim under a large backlog: the dispatcher claims after every
 * finished attempt, so a window much larger than the claim made the claim most of the cost of
 * a delivery. Endpoints already at their bound are left out of the window, or one hanging
 * endpoint with a backlog longer than the window would fill it with deliveries it cannot take,
 * and no other endpoint would get any.
 */
export function claimDueDeliveries(
  db: Db,
  p: { now: number; leaseUntil: number; limit: number; perEndpoint: number; busy: Record<string, number>; scan?: number },
): ClaimedDelivery[] {
  const full = Object.keys(p.busy).filter((endpointId) => p.busy[endpointId]! >= p.perEndpoint);
  const claimed = db
    .stmt(
      `update webhook_deliveries set lease_until = @leaseUntil
       where id in (
         select id from (
           select c.id, c.next_attempt_at,
                  row_number() over (partition by c.endpoint_id order by c.next_attempt_at, c.id) as n,
                  @perEndpoint - coalesce((select b.value from json_each(@busy) b where b.key = c.endpoint_id), 0) as room
           from (
             select d.id, d.endpoint_id, d.next_attempt_at
             from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
             where d.status = 'pending' and d.next_attempt_at <= @now
               and (d.lease_until is null or d.lease_until <= @now) and e.enabled = 1 and e.secret_unreadable_since is null
               and d.endpoint_id not in (select value from json_each(@full))
             order by d.next_attempt_at limit @scan
           ) c
         ) where n <= room order by next_attempt_at limit @limit
       )
       returning id`,
    )
    .all({ ...p, busy: JSON.stringify(p.busy), full: JSON.stringify(full), scan: p.scan ?? Math.min(1_000, Math.max(64, 2 * p.limit)) }) as { id: string }[];
  if (claimed.length === 0) return [];
  return db
    .stmt(
      `select d.id, d.attempts, d.endpoint_id, d.event_id, ev.payload, w.url, w.secret, w.previous_secret, w.previous_secret_expires_at
       from webhook_deliveries d
       join events ev on ev.id = d.event_id
       join webhook_endpoints w on w.id = d.endpoint_id
       where d.id in (select value from json_each(?))
       order by d.next_attempt_at`,
    )
    .all(JSON.stringify(claimed.map((c) => c.id))) as ClaimedDelivery[];
}

/** A claimed delivery that was not attempted: it waits, due as it was, without counting an attempt. */
export const releaseLease = (db: Db, deliveryId: string) =>
  db.stmt('update webhook_deliveries set lease_until = null where id = ?').run(deliveryId);

/** At start: no attempt of this process is in flight, so every lease belongs to a dead one. */
export const releaseAllLeases = (db: Db) =>
  db.stmt(`update webhook_deliveries set lease_until = null where status = 'pending' and lease_until is not null`).run().changes;

export interface AttemptRecord {
  deliveryId: string;
  endpointId: string;
  at: number;
  durationMs: number;
  outcome: AttemptOutcome;
  statusCode: number | null;
  errorClass: string | null;
  errorDetail: string | null;
  responseExcerpt: string;
  attempts: number;
  status: DeliveryStatus;
  nextAttemptAt: number | null;
}

/** Logs an attempt and moves its delivery on. False when the delivery is gone (endpoint deleted meanwhile). */
export function recordAttempt(db: Db, a: AttemptRecord): boolean {
  const updated = db
    .stmt(
      `update webhook_deliveries set attempts = ?, status = ?, next_attempt_at = ?, lease_until = null,
         last_status_code = ?, last_error = ?, updated_at = ? where id = ?`,
    )
    .run(a.attempts, a.status, a.nextAttemptAt, a.statusCode, a.errorClass, a.at, a.deliveryId).changes;
  if (updated === 0) return false;
  db.stmt(
    `insert into webhook_attempts (delivery_id, attempted_at, duration_ms, outcome, status_code, error_class, error_detail, response_excerpt)
     values (?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(a.deliveryId, a.at, a.durationMs, a.outcome, a.statusCode, a.errorClass, a.errorDetail, a.responseExcerpt);
  return true;
}

export const markEndpointSucceeded = (db: Db, endpointId: string, at: number) =>
  db.stmt('update webhook_endpoints set failing_since = null, last_success_at = ? where id = ?').run(at, endpointId);

/** Notes a failure; returns since when the endpoint has been failing. */
export function markEndpointFailed(db: Db, endpointId: string, at: number): number | undefined {
  const row = db
    .stmt('update webhook_endpoints set failing_since = coalesce(failing_since, ?) where id = ? returning failing_since')
    .get(at, endpointId) as { failing_since: number } | undefined;
  return row?.failing_since;
}

export const disableEndpoint = (db: Db, endpointId: string, reason: string, at: number) =>
  db.stmt('update webhook_endpoints set enabled = 0, disabled_reason = ?, updated_at = ? where id = ?').run(reason, at, endpointId);

/** Due deliveries waiting for an attempt (the outbox depth metric). */
export const countPendingDeliveries = (db: Db) =>
  (db.stmt(`select count(*) as n from webhook_deliveries where status = 'pending'`).get() as { n: number }).n;
