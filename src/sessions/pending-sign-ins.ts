import { createHash, randomBytes } from 'node:crypto';
import type { Queries } from '../db/db.js';
import type { Clock } from '../lib/clock.js';
import { deleteExpiredPendingSignIns, deletePendingSignIn, findPendingSignIn, insertPendingSignIn } from '../users/two-factor.repo.js';

/**
 * A sign-in between its two steps: the password was right, the two-factor code is yet to come.
 * The browser holds a random token in a cookie, the database its SHA-256 (as for sessions), so
 * the code may reach any instance on the database and a copy of the database continues nobody's
 * sign-in. It lasts 10 minutes, long enough to find a phone.
 */
export const PENDING_SIGN_IN_MS = 10 * 60 * 1000;

/** 32 random bytes, base64url. */
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

const idOf = (token: string) => createHash('sha256').update(token).digest('hex');

export interface PendingSignIn {
  id: string;
  user: { id: string; email: string; instanceAdmin: boolean };
  next: string | undefined;
}

/** Answers the token for the browser's cookie. Waiting sign-ins past their time are deleted here. */
export async function beginPendingSignIn(deps: { db: Queries; clock: Clock }, props: { userId: string; next: string | undefined }): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  const now = deps.clock.now();
  await deleteExpiredPendingSignIns(deps.db, now);
  await insertPendingSignIn(deps.db, { id: idOf(token), user_id: props.userId, next: props.next?.slice(0, 2048) ?? null, created_at: now, expires_at: now + PENDING_SIGN_IN_MS });
  return token;
}

/** The waiting sign-in of a cookie token, or undefined (none, or past its time). */
export async function resumePendingSignIn(deps: { db: Queries; clock: Clock }, token: string | undefined): Promise<PendingSignIn | undefined> {
  if (token === undefined || !TOKEN_FORMAT.test(token)) return undefined;
  const row = await findPendingSignIn(deps.db, idOf(token));
  if (!row || row.expires_at <= deps.clock.now()) return undefined;
  return { id: row.id, user: { id: row.user_id, email: row.email, instanceAdmin: row.is_instance_admin === 1 }, next: row.next ?? undefined };
}

export async function endPendingSignIn(deps: { db: Queries }, pending: PendingSignIn): Promise<void> {
  await deletePendingSignIn(deps.db, pending.id);
}
