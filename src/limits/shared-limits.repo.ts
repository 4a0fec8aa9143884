import { createHmac } from 'node:crypto';
import type { Queries } from '../db/db.js';

// The counters that instances on one PostgreSQL database share: API rate-limit buckets and failed
// sign-ins (migrations/*/0009_shared_limits.sql). Each count is atomic (one upsert; for sign-ins
// a short transaction under an advisory lock), so concurrent requests through any instances
// count exactly. The arithmetic mirrors the in-memory
// versions that SQLite's single server uses (src/http/middleware/rate-limit.ts,
// src/sessions/login-throttle.ts). PostgreSQL's SQL: only instances on PostgreSQL share counters.

/**
 * A bucket's row name: an HMAC of what it counts keyed with LINKQR_SECRET (which PostgreSQL
 * requires), so the tables hold no address or email, and no one holding the database alone can
 * try addresses or emails against them.
 */
export const bucketName = (secret: string | undefined, kind: string, key: string): string =>
  createHmac('sha256', `linkqr shared limits\0${secret ?? ''}`).update(`${kind}\0${key}`).digest('base64url');

/** A rate-limit bucket after a request: its level, when, and whether the request was admitted. */
export interface BucketRow {
  level: number;
  at: number;
  admitted: boolean;
}

// One GCRA step (RateLimiter.take) with $2 = the window in ms (what a request adds), $3 = now,
// $4 = requests a window: the level drained since `at` by $4 units a millisecond (the elapsed
// time capped at a window, the level at capacity), plus one request if that stays within
// capacity; else the level and its time stay as they were. In SET, `b.` is the row before.
const DRAINED = 'greatest(least(b.level, $2::bigint * $4::bigint) - least(greatest($3::bigint - b.at, 0), $2::bigint) * $4::bigint, 0)';
const FITS = `${DRAINED} + $2::bigint <= $2::bigint * $4::bigint`;
const TAKE = `insert into rate_limit_buckets as b (bucket, level, at, admitted) values ($1, $2::bigint, $3::bigint, 1)
  on conflict (bucket) do update set
    level = case when ${FITS} then ${DRAINED} + $2::bigint else b.level end,
    at = case when ${FITS} then $3::bigint else b.at end,
    admitted = case when ${FITS} then 1 else 0 end
  returning level, at, admitted`;

export async function takeFromBucket(db: Queries, bucket: string, windowMs: number, perWindow: number, now: number): Promise<BucketRow> {
  const row = (await db.row<{ level: number; at: number; admitted: number }>(TAKE, bucket, windowMs, now, perWindow))!;
  return { level: row.level, at: row.at, admitted: row.admitted === 1 };
}

/** Undoes one admitted take (the drain since `at` applies when the level is next read). */
export async function giveBackToBucket(db: Queries, bucket: string, windowMs: number): Promise<void> {
  await db.exec('update rate_limit_buckets set level = greatest(level - ?::bigint, 0) where bucket = ?', windowMs, bucket);
}

/** Buckets untouched since `before` have drained: forgotten. */
export async function forgetIdleBuckets(db: Queries, before: number): Promise<void> {
  await db.exec('delete from rate_limit_buckets where at < ?', before);
}

/**
 * Counts a sign-in attempt at `at` unless `limit` are already in the window; answers the times of
 * those in the window before it, newest first (at most `limit`). In a transaction holding an
 * advisory lock on the bucket, so that attempts through any instances count one at a time.
 */
export async function takeSignInAttempt(db: Queries, bucket: string, at: number, windowMs: number, limit: number): Promise<number[]> {
  return db.tx(async (t) => {
    await t.exec('select pg_advisory_xact_lock(hashtextextended(?, 0))', `sign-in ${bucket}`);
    const rows = await t.rows<{ at: number }>('select at from sign_in_failures where bucket = ? and at > ? order by at desc limit ?', bucket, at - windowMs, limit);
    if (rows.length < limit) await t.exec('insert into sign_in_failures (bucket, at) values (?, ?)', bucket, at);
    return rows.map((r) => r.at);
  });
}

/** Takes back one attempt (it succeeded). */
export async function forgetSignInFailure(db: Queries, bucket: string, at: number): Promise<void> {
  await db.exec('delete from sign_in_failures where ctid in (select ctid from sign_in_failures where bucket = ? and at = ? limit 1)', bucket, at);
}

export async function clearSignInFailures(db: Queries, bucket: string): Promise<void> {
  await db.exec('delete from sign_in_failures where bucket = ?', bucket);
}

/** Failures at or before `until` are out of every window: deleted. */
export async function forgetOldSignInFailures(db: Queries, until: number): Promise<void> {
  await db.exec('delete from sign_in_failures where at <= ?', until);
}
