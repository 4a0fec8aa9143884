import type { Db } from '../db/db.js';
import type { AttemptOutcome, DeliveryStatus } from '../db/schema.js';

export interface ClaimedDelivery {
  id: string;
  attempts: number;
  endpoint_id: string;
  workspace_id: string;
  event_id: string;
  payload: string;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: number | null;
}

export interface ClaimLimits {
  now: number;
  leaseUntil: number;
  /** Deliveries to claim at most, in all. */
  limit: number;
  /** Room of an endpoint, and of a workspace, absent from the maps below. */
  perEndpoint: number;
  perWorkspace: number;
  /** Room left where it differs (attempts in flight, a narrowed circuit); 0 or less: none. */
  endpointRoom: Record<string, number>;
  workspaceRoom: Record<string, number>;
  scan?: number;
}

/**
 * Leases due deliveries of enabled endpoints in one statement: at most `limit` in all, and no
 * more than the room left to each endpoint and then to each workspace, oldest due first.
 * A lease that expired (its holder died) makes the delivery claimable again.
 *
 * Only the `scan` longest-due deliveries are looked at (by default twice the claim, 64 to 1,000),
 * which bounds the cost of a claim under a large backlog: the dispatcher claims after every
 * finished attempt, so a window much larger than the claim made the claim most of the cost of
 * a delivery. Endpoints and workspaces without room are left out of the window, or one hanging
 * endpoint with a backlog longer than the window would fill it with deliveries it cannot take,
 * and no other endpoint would get any.
 */
export function claimDueDeliveries(db: Db, p: ClaimLimits): ClaimedDelivery[] {
  const claimed = db
    .stmt(
      `update webhook_deliveries set lease_until = @leaseUntil
       where id in (
         select id from (
           select id, next_attempt_at,
                  row_number() over (partition by workspace_id order by next_attempt_at, id) as wn,
                  coalesce((select w.value from json_each(@workspaceRoom) w where w.key = workspace_id), @perWorkspace) as wroom
           from (
             select c.id, c.workspace_id, c.next_attempt_at,
                    row_number() over (partition by c.endpoint_id order by c.next_attempt_at, c.id) as n,
                    coalesce((select r.value from json_each(@endpointRoom) r where r.key = c.endpoint_id), @perEndpoint) as room
             from (
               select d.id, d.endpoint_id, d.workspace_id, d.next_attempt_at
               from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
               where d.status = 'pending' and d.next_attempt_at <= @now
                 and (d.lease_until is null or d.lease_until <= @now) and e.enabled = 1
                 and d.endpoint_id not in (select key from json_each(@endpointRoom) where value <= 0)
                 and d.workspace_id not in (select key from json_each(@workspaceRoom) where value <= 0)
               order by d.next_attempt_at limit @scan
             ) c
           ) where n <= room
         ) where wn <= wroom order by next_attempt_at, id limit @limit
       )
       returning id`,
    )
    .all({
      ...p,
      endpointRoom: JSON.stringify(p.endpointRoom),
      workspaceRoom: JSON.stringify(p.workspaceRoom),
      scan: p.scan ?? Math.min(1_000, Math.max(64, 2 * p.limit)),
    }) as { id: string }[];
  if (claimed.length === 0) return [];
  return db
    .stmt(
      `select d.id, d.attempts, d.endpoint_id, d.workspace_id, d.event_id, ev.payload, w.url, w.secret, w.previous_secret, w.previous_secret_expires_at
       from webhook_deliveries d
       join events ev on ev.id = d.event_id
       join webhook_endpoints w on w.id = d.endpoint_id
       where d.id in (select value from json_each(?))
       order by d.next_attempt_at`,
    )
    .all(JSON.stringify(claimed.map((c) => c.id))) as ClaimedDelivery[];
}

/** Of these endpoints, the ones that still exist and are enabled. */
export function enabledEndpoints(db: Db, endpointIds: string[]): Set<string> {
  const rows = db.stmt('select id from webhook_endpoints where enabled = 1 and id in (select value from json_each(?))').all(JSON.stringify(endpointIds)) as {
    id: string;
  }[];
  return new Set(rows.map((r) => r.id));
}

/** An attempt cut off before it had an outcome: the delivery is due again as it was, nothing recorded. */
export const releaseLease = (db: Db, deliveryId: string) =>
  db.stmt(`update webhook_deliveries set lease_until = null where id = ? and status = 'pending'`).run(deliveryId);

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
