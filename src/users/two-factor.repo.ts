import type { Queries } from '../db/db.js';
import type { PendingSignInRow, UserTotpRow } from '../db/schema.js';

// The tables of two-factor sign-in (migrations/sqlite/0016_two_factor.sql). Times are epoch ms.

export const findTotp = (db: Queries, userId: string) => db.row<UserTotpRow>('select * from user_totp where user_id = ?', userId);

/** A new secret waiting for its first code; replaces one that waited already (never an enabled one: the caller checks). */
export async function putPendingTotp(db: Queries, userId: string, sealedSecret: string, now: number): Promise<void> {
  // One statement: two tabs starting over at once each leave a secret, never a duplicate key. An
  // enabled row is never replaced here.
  await db.exec(
    `insert into user_totp (user_id, secret, enabled_at, last_used_step, created_at, updated_at) values (?, ?, null, 0, ?, ?)
     on conflict (user_id) do update set secret = excluded.secret, last_used_step = 0, created_at = excluded.created_at, updated_at = excluded.updated_at
     where user_totp.enabled_at is null`,
    userId,
    sealedSecret,
    now,
    now,
  );
}

/** Turns on the enrolment whose code was checked: only if its secret is still the one waiting (another tab may have started over). */
export const enableTotp = async (db: Queries, userId: string, sealedSecret: string, step: number, now: number) =>
  (await db.exec('update user_totp set enabled_at = ?, last_used_step = ?, updated_at = ? where user_id = ? and enabled_at is null and secret = ?', now, step, now, userId, sealedSecret))
    .changes === 1;

/**
 * Takes the code of `step`: true only if no code of this step or a later one was taken before.
 * One conditional update, so two requests with one code (on one instance or two) cannot both pass.
 */
export const takeTotpStep = async (db: Queries, userId: string, step: number, now: number) =>
  (await db.exec('update user_totp set last_used_step = ?, updated_at = ? where user_id = ? and enabled_at is not null and last_used_step < ?', step, now, userId, step))
    .changes === 1;

export const resealTotpSecret = (db: Queries, userId: string, sealedSecret: string) =>
  db.exec('update user_totp set secret = ? where user_id = ?', sealedSecret, userId);

export const allTotpSecrets = (db: Queries) => db.rows<Pick<UserTotpRow, 'user_id' | 'secret'>>('select user_id, secret from user_totp order by user_id');

/** Two-factor off: the secret, the recovery codes and any sign-in waiting for a code go. */
export async function deleteTwoFactor(db: Queries, userId: string): Promise<void> {
  await db.exec('delete from user_totp where user_id = ?', userId);
  await db.exec('delete from recovery_codes where user_id = ?', userId);
  await db.exec('delete from pending_sign_ins where user_id = ?', userId);
}

/** The ids of users with two-factor sign-in on (Instance page). */
export const usersWithTwoFactor = async (db: Queries) =>
  new Set((await db.rows<{ user_id: string }>('select user_id from user_totp where enabled_at is not null')).map((r) => r.user_id));

export async function replaceRecoveryCodes(db: Queries, userId: string, hashes: readonly string[], now: number): Promise<void> {
  await db.exec('delete from recovery_codes where user_id = ?', userId);
  for (const hash of hashes) await db.exec('insert into recovery_codes (user_id, code_hash, created_at) values (?, ?, ?)', userId, hash, now);
}

/** Spends a recovery code: true once, for an unused code of this user. */
export const useRecoveryCode = async (db: Queries, userId: string, hash: string, now: number) =>
  (await db.exec('update recovery_codes set used_at = ? where user_id = ? and code_hash = ? and used_at is null', now, userId, hash)).changes === 1;

export const countUnusedRecoveryCodes = async (db: Queries, userId: string) =>
  Number((await db.row<{ n: number }>('select count(*) as n from recovery_codes where user_id = ? and used_at is null', userId))!.n);

export const insertPendingSignIn = (db: Queries, row: PendingSignInRow) =>
  db.exec('insert into pending_sign_ins (id, user_id, next, created_at, expires_at) values (?, ?, ?, ?, ?)', row.id, row.user_id, row.next, row.created_at, row.expires_at);

/** A waiting sign-in with its user. */
export const findPendingSignIn = (db: Queries, id: string) =>
  db.row<PendingSignInRow & { email: string; is_instance_admin: number }>(
    'select p.*, u.email, u.is_instance_admin from pending_sign_ins p join users u on u.id = p.user_id where p.id = ?',
    id,
  );

export const deletePendingSignIn = async (db: Queries, id: string) => (await db.exec('delete from pending_sign_ins where id = ?', id)).changes;

export const deleteExpiredPendingSignIns = (db: Queries, now: number) => db.exec('delete from pending_sign_ins where expires_at <= ?', now);

export const passwordHashOf = async (db: Queries, userId: string) =>
  (await db.row<{ password_hash: string }>('select password_hash from users where id = ?', userId))?.password_hash;

export const emailOf = async (db: Queries, userId: string) => (await db.row<{ email: string }>('select email from users where id = ?', userId))?.email;
