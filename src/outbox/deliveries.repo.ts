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
  /** Endpoints whose circuit is narrowed, and the room they share. */
  narrowed?: { endpoints: ReadonlySet<string>; room: number };
  scan?: number;
}

/**
 * Leases due deliveries of enabled endpoints whose secret can be read (the others wait for a
 * rotation, see src/webhooks/endpoint-secrets.ts): at most `limit` in all, and no more than the
 * room left to each endpoint and to each workspace, oldest due first. A lease that expired (its
 * holder died) makes the delivery claimable again. One process runs the dispatcher and SQLite
 * calls are synchronous, so nothing comes between reading the due deliveries and leasing the chosen ones.
 *
 * Only the `scan` longest-due deliveries are looked at (by default twice the claim, 64 to 1,000),
 * which bounds the cost of a claim under a large backlog: the dispatcher claims after every
 * finished attempt, so a window much larger than the claim made the claim most of the cost of
 * a delivery. Endpoints and workspaces without room are left out of the window, or one hanging
 * endpoint with a backlog longer than the window would fill it with deliveries it cannot take,
 * and no other endpoint would get any.
 */
export function claimDueDeliveries(db: Db, p: ClaimLimits): ClaimedDelivery[] {
  const narrowedFull = p.narrowed !== undefined && p.narrowed.room <= 0;
  const full = (room: Record<string, number>, also: Iterable<string> = []) =>
    JSON.stringify([...Object.keys(room).filter((id) => room[id]! <= 0), ...also]);
  const window = db
    .stmt(
      `select d.id, d.endpoint_id, d.workspace_id
       from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
       where d.status = 'pending' and d.next_attempt_at <= @now
         and (d.lease_until is null or d.lease_until <= @now) and e.enabled = 1 and e.secret_unreadable_since is null
         and d.endpoint_id not in (select value from json_each(@fullEndpoints))
         and d.workspace_id not in (select value from json_each(@fullWorkspaces))
       order by d.next_attempt_at limit @scan`,
    )
    .all({
      now: p.now,
      fullEndpoints: full(p.endpointRoom, narrowedFull ? p.narrowed!.endpoints : []),
      fullWorkspaces: full(p.workspaceRoom),
      scan: p.scan ?? Math.min(1_000, Math.max(64, 2 * p.limit)),
    }) as { id: string; endpoint_id: string; workspace_id: string }[];
  const chosen = withinRoom(window, p);
  if (chosen.length === 0) return [];
  const ids = JSON.stringify(chosen);
  db.stmt('update webhook_deliveries set lease_until = ? where id in (select value from json_each(?))').run(p.leaseUntil, ids);
  return db
    .stmt(
      `select d.id, d.attempts, d.endpoint_id, d.workspace_id, d.event_id, ev.payload, w.url, w.secret, w.previous_secret, w.previous_secret_expires_at
       from webhook_deliveries d
       join events ev on ev.id = d.event_id
       join webhook_endpoints w on w.id = d.endpoint_id
       where d.id in (select value from json_each(?))
       order by d.next_attempt_at`,
    )
    .all(ids) as ClaimedDelivery[];
}

/** The ids to claim, in order, taking each while its endpoint, its workspace (and the narrowed endpoints together) and the claim have room. */
function withinRoom(due: { id: string; endpoint_id: string; workspace_id: string }[], p: ClaimLimits): string[] {
  const endpointLeft = new Map<string, number>();
  const workspaceLeft = new Map<string, number>();
  let narrowedLeft = p.narrowed?.room ?? Number.POSITIVE_INFINITY;
  const chosen: string[] = [];
  for (const d of due) {
    if (chosen.length === p.limit) break;
    const endpoint = endpointLeft.get(d.endpoint_id) ?? p.endpointRoom[d.endpoint_id] ?? p.perEndpoint;
    const workspace = workspaceLeft.get(d.workspace_id) ?? p.workspaceRoom[d.workspace_id] ?? p.perWorkspace;
    const isNarrowed = p.narrowed?.endpoints.has(d.endpoint_id) ?? false;
    if (endpoint <= 0 || workspace <= 0 || (isNarrowed && narrowedLeft <= 0)) continue;
    endpointLeft.set(d.endpoint_id, endpoint - 1);
    workspaceLeft.set(d.workspace_id, workspace - 1);
    if (isNarrowed) narrowedLeft--;
    chosen.push(d.id);
  }
  return chosen;
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
