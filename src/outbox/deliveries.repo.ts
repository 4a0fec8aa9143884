import type { Db, Queries } from '../db/db.js';
import type { AttemptOutcome, DeliveryStatus } from '../db/schema.js';
import { jsonValuesParam } from '../db/dialect-sql.js';

export interface ClaimedDelivery {
  id: string;
  attempts: number;
  endpoint_id: string;
  workspace_id: string;
  event_id: string;
  next_attempt_at: number;
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
 * holder died) makes the delivery claimable again.
 *
 * No transaction: the due deliveries are read, then the chosen ones leased by one UPDATE that
 * checks again that each is still due and unleased, and returns only those it leased. That
 * statement is the claim: where several processes claim from one database (PostgreSQL), a
 * delivery another claim leased since it was read is left to that claim, and is sent once (an
 * UPDATE waits for a concurrent one on the same row and then re-checks its condition). A poll
 * that finds nothing due takes no write lock. The claim is here and nowhere else.
 *
 * Only the `scan` longest-due deliveries are looked at (by default twice the claim, 64 to 1,000),
 * which bounds the cost of a claim under a large backlog. (The dispatcher tops up an endpoint it
 * is busy with by claimDueOfEndpoint instead, which reads only the rows it takes.) Endpoints and workspaces without room are left out of the window, or one hanging
 * endpoint with a backlog longer than the window would fill it with deliveries it cannot take,
 * and no other endpoint would get any.
 */
export async function claimDueDeliveries(db: Queries, p: ClaimLimits): Promise<ClaimedDelivery[]> {
  const narrowedFull = p.narrowed !== undefined && p.narrowed.room <= 0;
  const full = (room: Record<string, number>, also: Iterable<string> = []) =>
    JSON.stringify([...Object.keys(room).filter((id) => room[id]! <= 0), ...also]);
  const window = await db.rows<{ id: string; endpoint_id: string; workspace_id: string }>(
    // One table, the endpoints that cannot take deliveries read once (a hashed list on
    // PostgreSQL): joined row by row instead, a backlog of 2,000 took 20 ms a claim there whenever
    // the planner's row counts lagged behind a burst.
    `select d.id, d.endpoint_id, d.workspace_id
     from webhook_deliveries d
     where d.status = 'pending' and d.next_attempt_at <= ?
       and (d.lease_until is null or d.lease_until <= ?)
       and d.endpoint_id not in (select id from webhook_endpoints where enabled = 0 or secret_unreadable_since is not null)
       and d.endpoint_id not in (select value from ${jsonValuesParam(db.dialect)})
       and d.workspace_id not in (select value from ${jsonValuesParam(db.dialect)})
     order by d.next_attempt_at limit ?`,
    p.now,
    p.now,
    full(p.endpointRoom, narrowedFull ? p.narrowed!.endpoints : []),
    full(p.workspaceRoom),
    p.scan ?? Math.min(1_000, Math.max(64, 2 * p.limit)),
  );
  return lease(db, withinRoom(window, p), p);
}

/**
 * Tops up what this process holds of one endpoint: leases at most `limit` of its due deliveries,
 * oldest due first, if it is enabled and its secret can be read. One index range
 * (webhook_deliveries_due_by_endpoint), whatever the other endpoints have due. Leased the same
 * way as claimDueDeliveries'.
 */
export async function claimDueOfEndpoint(db: Queries, p: { now: number; leaseUntil: number; endpointId: string; limit: number }): Promise<ClaimedDelivery[]> {
  const due = await db.rows<{ id: string }>(
    `select d.id from webhook_deliveries d
     where d.endpoint_id = ? and d.status = 'pending' and d.next_attempt_at <= ?
       and (d.lease_until is null or d.lease_until <= ?)
       and exists (select 1 from webhook_endpoints w where w.id = d.endpoint_id and w.enabled = 1 and w.secret_unreadable_since is null)
     order by d.next_attempt_at limit ?`,
    p.endpointId,
    p.now,
    p.now,
    p.limit,
  );
  return lease(db, due.map((r) => r.id), p);
}

/** Leases those of `chosen` still due and unleased, and reads them for sending, in due order. */
async function lease(db: Queries, chosen: string[], p: { now: number; leaseUntil: number }): Promise<ClaimedDelivery[]> {
  if (chosen.length === 0) return [];
  // On PostgreSQL the rows another instance is leasing right now are skipped, not waited for
  // (SKIP LOCKED): claims never queue behind each other nor deadlock. SQLite has one writer.
  const claimable = (ids: string) => `select id from webhook_deliveries
     where ${ids} and status = 'pending' and (lease_until is null or lease_until <= ?)`;
  if (db.dialect === 'postgres') {
    // One round trip: the leasing UPDATE hands its rows to the read of their payloads (a CTE
    // that changes rows, which SQLite has not). The ids as an array (`= any`), which PostgreSQL
    // always looks up by primary key: joined with a JSON list, it walked the due index instead
    // whenever its row counts lagged behind a burst (up to 8 ms a claim, measured).
    return db.rows<ClaimedDelivery>(
      `with leased as (
         update webhook_deliveries set lease_until = ? where id in (${claimable('id = any(?::text[])')} for update skip locked)
         returning id, attempts, endpoint_id, workspace_id, event_id, next_attempt_at)
       select d.id, d.attempts, d.endpoint_id, d.workspace_id, d.event_id, d.next_attempt_at, ev.payload, w.url, w.secret, w.previous_secret, w.previous_secret_expires_at
       from leased d
       join events ev on ev.id = d.event_id
       join webhook_endpoints w on w.id = d.endpoint_id
       order by d.next_attempt_at`,
      p.leaseUntil,
      chosen,
      p.now,
    );
  }
  const leased = await db.rows<{ id: string }>(
    `update webhook_deliveries set lease_until = ? where id in (${claimable(`id in (select value from ${jsonValuesParam(db.dialect)})`)}) returning id`,
    p.leaseUntil,
    JSON.stringify(chosen),
    p.now,
  );
  if (leased.length === 0) return [];
  return db.rows<ClaimedDelivery>(
    `select d.id, d.attempts, d.endpoint_id, d.workspace_id, d.event_id, d.next_attempt_at, ev.payload, w.url, w.secret, w.previous_secret, w.previous_secret_expires_at
     from webhook_deliveries d
     join events ev on ev.id = d.event_id
     join webhook_endpoints w on w.id = d.endpoint_id
     where d.id in (select value from ${jsonValuesParam(db.dialect)})
     order by d.next_attempt_at`,
    JSON.stringify(leased.map((r) => r.id)),
  );
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
export async function enabledEndpoints(db: Queries, endpointIds: string[]): Promise<Set<string>> {
  const rows = await db.rows<{ id: string }>(`select id from webhook_endpoints where enabled = 1 and id in (select value from ${jsonValuesParam(db.dialect)})`, JSON.stringify(endpointIds));
  return new Set(rows.map((r) => r.id));
}

/** An attempt cut off before it had an outcome: the delivery is due again as it was, nothing recorded (unless another instance holds it now). */
export const releaseLease = (db: Queries, deliveryId: string, heldUntil: number) =>
  db.exec(`update webhook_deliveries set lease_until = null where id = ? and status = 'pending' and lease_until = ?`, deliveryId, heldUntil);

/**
 * Extends the leases of attempts still in flight that hold `heldUntil` (the lease their claim or
 * last renewal wrote) to `leaseUntil`. Returns the ids renewed: a delivery missing from them was
 * claimed by another instance after its lease lapsed, and its attempt must stop.
 */
export async function renewLeases(db: Queries, deliveryIds: readonly string[], heldUntil: number, leaseUntil: number): Promise<Set<string>> {
  const renewed = await db.rows<{ id: string }>(
    `update webhook_deliveries set lease_until = ?
     where status = 'pending' and lease_until = ? and id in (select value from ${jsonValuesParam(db.dialect)})
     returning id`,
    leaseUntil,
    heldUntil,
    JSON.stringify(deliveryIds),
  );
  return new Set(renewed.map((r) => r.id));
}

/** At start: no attempt of this process is in flight, so every lease belongs to a dead one. */
export const releaseAllLeases = async (db: Queries) =>
  (await db.exec(`update webhook_deliveries set lease_until = null where status = 'pending' and lease_until is not null`)).changes;

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

/** What an attempt's outcome says of its endpoint: it answers, it fails, or neither (410: it is disabled instead). */
export type EndpointNote = 'succeeded' | 'failed' | 'none';

/**
 * How far behind lastSuccessAt may be. Every attempt's outcome is written with the endpoint's
 * state, so writing the endpoint's row on every success made all of an endpoint's outcomes wait
 * for each other's commits on PostgreSQL (one row, one lock): ~1,000 deliveries a second at most,
 * whatever the receiver. A success is written when it changes something: the endpoint was
 * failing, or its last success is older than this. A failure is written by the first of a run.
 */
const LAST_SUCCESS_RESOLUTION_MS = 1_000;

/**
 * Logs an attempt, moves its delivery on and notes what it says of the endpoint, atomically.
 * Undefined when the delivery is gone (its endpoint was deleted meanwhile); else since when the
 * endpoint has been failing (null unless `note` is 'failed').
 *
 * PostgreSQL: one statement (data-modifying CTEs), so an outcome costs one round trip and no
 * transaction of its own, where BEGIN, three statements and COMMIT took five; measured, the
 * most of a delivery's time there. SQLite: the same three statements in a write (group commit).
 */
export async function recordAttempt(db: Db, a: AttemptRecord, note: EndpointNote): Promise<{ failingSince: number | null } | undefined> {
  const delivery = [a.attempts, a.status, a.nextAttemptAt, a.statusCode, a.errorClass, a.at, a.deliveryId];
  const attempt = [a.at, a.durationMs, a.outcome, a.statusCode, a.errorClass, a.errorDetail, a.responseExcerpt];
  const endpoint = note === 'succeeded' ? [a.at, a.endpointId, a.at - LAST_SUCCESS_RESOLUTION_MS] : note === 'failed' ? [a.at, a.endpointId] : [];
  if (db.dialect === 'postgres') {
    // The endpoint row is read as this statement's snapshot saw it. An outcome racing another
    // instance's on the same endpoint may therefore miss that one's change (a failure that just
    // started a run, a success that just ended one): the endpoint's next outcome sets it right,
    // and the 5-day rule is checked again at every failure.
    const row = await db.row<{ stored: boolean; failing_since: number | null }>(
      `with delivery as (${UPDATE_DELIVERY} returning id),
       attempt as (insert into webhook_attempts ${ATTEMPT_COLUMNS} select id, ?, ?, ?, ?, ?, ?, ? from delivery)
       ${note === 'none' ? '' : `, endpoint as (${NOTE_ENDPOINT[note]} and exists (select 1 from delivery) returning failing_since)`}
       select exists (select 1 from delivery) as stored, ${
         // The endpoint row as this statement found it when the failure did not start a run.
         note === 'failed' ? 'coalesce((select failing_since from endpoint), (select failing_since from webhook_endpoints where id = ?))' : 'null::bigint'
       } as failing_since`,
      ...delivery,
      ...attempt,
      ...endpoint,
      ...(note === 'failed' ? [a.endpointId] : []),
    );
    return row?.stored ? { failingSince: row.failing_since } : undefined;
  }
  return db.write(async (t) => {
    if ((await t.exec(UPDATE_DELIVERY, ...delivery)).changes === 0) return undefined;
    await t.exec(`insert into webhook_attempts ${ATTEMPT_COLUMNS} values (?, ?, ?, ?, ?, ?, ?, ?)`, a.deliveryId, ...attempt);
    if (note === 'none') return { failingSince: null };
    if (note === 'succeeded') {
      await t.exec(NOTE_ENDPOINT.succeeded, ...endpoint);
      return { failingSince: null };
    }
    const started = await t.row<{ failing_since: number | null }>(`${NOTE_ENDPOINT.failed} returning failing_since`, ...endpoint);
    if (started) return { failingSince: started.failing_since };
    return { failingSince: (await t.row<{ failing_since: number | null }>('select failing_since from webhook_endpoints where id = ?', a.endpointId))?.failing_since ?? null };
  });
}

const UPDATE_DELIVERY = `update webhook_deliveries set attempts = ?, status = ?, next_attempt_at = ?, lease_until = null,
  last_status_code = ?, last_error = ?, updated_at = ? where id = ?`;
const ATTEMPT_COLUMNS = '(delivery_id, attempted_at, duration_ms, outcome, status_code, error_class, error_detail, response_excerpt)';
const NOTE_ENDPOINT = {
  succeeded: `update webhook_endpoints set failing_since = null, last_success_at = ?
    where id = ? and (failing_since is not null or last_success_at is null or last_success_at <= ?)`,
  failed: 'update webhook_endpoints set failing_since = ? where id = ? and failing_since is null',
};

export const disableEndpoint = (db: Queries, endpointId: string, reason: string, at: number) =>
  db.exec('update webhook_endpoints set enabled = 0, disabled_reason = ?, updated_at = ? where id = ?', reason, at, endpointId);

/** Due deliveries waiting for an attempt (the outbox depth metric). */
export const countPendingDeliveries = async (db: Queries) =>
  (await db.row<{ n: number }>(`select count(*) as n from webhook_deliveries where status = 'pending'`))!.n;
