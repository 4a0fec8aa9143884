import type { Queries } from '../db/db.js';
import { isSealed, type SecretBox, UnreadableSecretError } from '../secrets/secret-box.js';

/** How long the first answer to an Idempotency-Key is replayed (SPEC §4). */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;

/** `status` of a record whose first request is still running. */
const RUNNING = 0;

/** The answer a replay repeats. */
export interface StoredResponse {
  status: number;
  /** Lower-case names: content-type, location. */
  headers: Record<string, string>;
  body: string;
}

/** A key this request holds while its route runs; saving or releasing it needs all three. */
export interface Reservation {
  keyId: string;
  idempotencyKey: string;
  reservedAt: number;
}

export type Claim =
  | { outcome: 'reserved'; reservation: Reservation }
  | { outcome: 'replay'; response: StoredResponse }
  /** The key was used with another request (method, path or body). */
  | { outcome: 'reused' }
  /** A request with this key is running, reserved too recently to be a crashed one. */
  | { outcome: 'running' }
  /** The stored answer cannot be opened: the at-rest key was lost or changed since. */
  | { outcome: 'unreadable' };

interface RecordRow {
  request_hash: string;
  status: number;
  headers: string;
  body: string;
  created_at: number;
}

/**
 * Stored bodies are sealed (src/secrets/secret-box.ts): the answers to `POST /webhooks` and
 * `rotate-secret` hold a signing secret, and sealing every body is simpler than knowing which.
 * Each is bound to its record.
 */
const contextOf = (keyId: string, idempotencyKey: string) => `idempotency_records.body:${JSON.stringify([keyId, idempotencyKey])}`;

/**
 * Looks the key up and, when no live answer or running request holds it, reserves it for this
 * request: all in one transaction, so two processes cannot both reserve it. Records older than
 * the window count as absent, and so does a reservation older than `staleAfterMs` (its process
 * is taken to have crashed). The reservation overwrites a record only while it is still one of
 * those: where another process can reserve the key between the look-up and the write
 * (PostgreSQL, whose transactions do not lock a row they only read, nor one that is not there
 * yet), the one that comes second finds it taken and answers `running`.
 */
export function claimIdempotencyKey(
  db: Queries,
  box: SecretBox,
  claim: { keyId: string; idempotencyKey: string; requestHash: string; now: number; staleAfterMs: number },
): Promise<Claim> {
  const { keyId, idempotencyKey, requestHash, now } = claim;
  return db.tx(async (t): Promise<Claim> => {
    const row = await t.row<RecordRow>(
      'select request_hash, status, headers, body, created_at from idempotency_records where key_id = ? and idempotency_key = ?',
      keyId,
      idempotencyKey,
    );
    if (row && row.created_at >= now - IDEMPOTENCY_WINDOW_MS) {
      if (row.request_hash !== requestHash) return { outcome: 'reused' };
      if (row.status !== RUNNING) {
        let body: string;
        try {
          body = box.open(row.body, contextOf(keyId, idempotencyKey));
        } catch (e) {
          if (e instanceof UnreadableSecretError) return { outcome: 'unreadable' };
          throw e;
        }
        return { outcome: 'replay', response: { status: row.status, headers: JSON.parse(row.headers) as Record<string, string>, body } };
      }
      if (row.created_at >= now - claim.staleAfterMs) return { outcome: 'running' };
    }
    const { changes } = await t.exec(
      `insert into idempotency_records (key_id, idempotency_key, request_hash, status, headers, body, created_at)
       values (?, ?, ?, ${RUNNING}, '{}', '', ?)
       on conflict (key_id, idempotency_key) do update set
         request_hash = excluded.request_hash, status = excluded.status, headers = excluded.headers, body = excluded.body,
         created_at = excluded.created_at
       where idempotency_records.created_at < ?
         or (idempotency_records.status = ${RUNNING} and idempotency_records.created_at < ? and idempotency_records.request_hash = excluded.request_hash)`,
      keyId,
      idempotencyKey,
      requestHash,
      now,
      now - IDEMPOTENCY_WINDOW_MS,
      now - claim.staleAfterMs,
    );
    if (changes === 0) return { outcome: 'running' };
    return { outcome: 'reserved', reservation: { keyId, idempotencyKey, reservedAt: now } };
  });
}

/**
 * Stores the answer of a reserved request. Does nothing when the reservation is no longer this
 * request's (another process took it over as stale).
 */
export async function saveIdempotentResponse(db: Queries, box: SecretBox, reservation: Reservation, response: StoredResponse): Promise<void> {
  const body = box.seal(response.body, contextOf(reservation.keyId, reservation.idempotencyKey));
  await db.exec(
    `update idempotency_records set status = ?, headers = ?, body = ?
     where key_id = ? and idempotency_key = ? and status = ${RUNNING} and created_at = ?`,
    response.status,
    JSON.stringify(response.headers),
    body,
    reservation.keyId,
    reservation.idempotencyKey,
    reservation.reservedAt,
  );
}

/** Drops a reservation whose answer is not kept, so the next request with the key runs the route again. */
export async function releaseIdempotencyKey(db: Queries, reservation: Reservation): Promise<void> {
  await db.exec(
    `delete from idempotency_records where key_id = ? and idempotency_key = ? and status = ${RUNNING} and created_at = ?`,
    reservation.keyId,
    reservation.idempotencyKey,
    reservation.reservedAt,
  );
}

/** Deletes up to `limit` records created before `cutoff`; returns how many. The caller owns the transaction. */
export async function deleteIdempotencyRecordsBefore(db: Queries, cutoff: number, limit: number): Promise<number> {
  const { changes } = await db.exec(
    `delete from idempotency_records where (key_id, idempotency_key) in (
       select key_id, idempotency_key from idempotency_records where created_at < ? limit ?)`,
    cutoff,
    limit,
  );
  return changes;
}

/**
 * At start-up, inside the caller's transaction: seals the answers an older version stored in clear
 * and those sealed under a previous key. Answers no key here opens are left: a replay says so
 * (409 idempotency_record_unreadable) and the retention job removes them after 24 hours.
 */
export async function resealIdempotencyRecords(db: Queries, box: SecretBox): Promise<number> {
  // Only the others are read: a day of stored answers can be large, and each start looks.
  const prefix = box.currentPrefix;
  const rows = await db.rows<{ key_id: string; idempotency_key: string; body: string }>(
    `select key_id, idempotency_key, body from idempotency_records where status != ${RUNNING} and substr(body, 1, ?) != ?`,
    prefix.length,
    prefix,
  );
  let resealed = 0;
  // One at a time: this runs inside the caller's transaction.
  for (const row of rows) {
    const context = contextOf(row.key_id, row.idempotency_key);
    let clear: string;
    try {
      clear = isSealed(row.body) ? box.open(row.body, context) : row.body;
    } catch (e) {
      if (e instanceof UnreadableSecretError) continue;
      throw e;
    }
    await db.exec('update idempotency_records set body = ? where key_id = ? and idempotency_key = ?', box.seal(clear, context), row.key_id, row.idempotency_key);
    resealed++;
  }
  return resealed;
}
