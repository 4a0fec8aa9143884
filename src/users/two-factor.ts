import { createHash } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { type ChangeContext, recordUserAudit } from '../audit/audit.js';
import type { Db, Queries } from '../db/db.js';
import type { Clock } from '../lib/clock.js';
import { AppError, errors } from '../lib/errors.js';
import { verifySecret } from '../lib/passwords.js';
import { isSealed, type SecretBox, UnreadableSecretError } from '../secrets/secret-box.js';
import {
  allTotpSecrets,
  countUnusedRecoveryCodes,
  deleteTwoFactor,
  emailOf,
  enableTotp,
  findTotp,
  passwordHashOf,
  putPendingTotp,
  replaceRecoveryCodes,
  resealTotpSecret,
  takeTotpStep,
  useRecoveryCode,
} from './two-factor.repo.js';
import { findUserByEmail } from './users.repo.js';

/**
 * Two-factor sign-in with TOTP (RFC 6238): the 6-digit codes of authenticator apps, a new one
 * every 30 seconds, from a secret the app and the server share. SHA-1, 6 digits, 30 s: the
 * parameters every app supports (others are ignored by some apps, which then show wrong codes).
 *
 * - The secret is sealed under the at-rest key (src/secrets/secret-box.ts): the server must read
 *   it back to check codes, and a copy of the database must not make codes.
 * - A code is taken at most once: the step it belongs to is remembered per user, and a code of
 *   that step or an earlier one is refused (one conditional update: two instances cannot both
 *   take it). The step before and the one after the server's are accepted, for clocks that drift.
 * - Ten recovery codes, for a lost device: shown once, stored as SHA-256 (each has 80 random
 *   bits, so a fast hash is enough), each good once.
 *
 * Times come from deps.clock, so tests compute the codes of the moment they set.
 */

export interface TwoFactorDeps {
  db: Db;
  clock: Clock;
  secretBox: SecretBox;
}

const PERIOD_SECONDS = 30;
const DIGITS = 6;
const SECRET_BYTES = 20;
/** The steps next to the server's that are accepted too: a phone's clock may be 30 s off. */
const DRIFT_STEPS = 1;
export const RECOVERY_CODE_COUNT = 10;
const RECOVERY_CODE_BYTES = 10;
const ISSUER = 'LinkQR';

export const CODE_FORMAT = /^\d{6}$/;

const secretContext = (userId: string) => `user_totp.secret:${userId}`;

const totpOf = (secret: string, label = '') =>
  new TOTP({ issuer: ISSUER, label, secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: DIGITS, period: PERIOD_SECONDS });

/** What a code looks like as typed: spaces and dashes go ("123 456"). */
export const normaliseCode = (typed: string) => typed.replace(/[\s-]/g, '').toLowerCase();

/** The step (a count of 30-second periods) the code belongs to, or undefined when it is not a code of now. */
function stepOf(secret: string, code: string, now: number): number | undefined {
  if (!CODE_FORMAT.test(code)) return undefined;
  const delta = totpOf(secret).validate({ token: code, timestamp: now, window: DRIFT_STEPS });
  return delta === null ? undefined : Math.floor(now / 1000 / PERIOD_SECONDS) + delta;
}

const hashRecoveryCode = (code: string) => createHash('sha256').update(normaliseCode(code)).digest('hex');

/** 80 random bits as 16 base32 characters, shown as four groups: `abcd-efgh-ijkl-mnop`. */
function newRecoveryCode(): string {
  const text = new Secret({ size: RECOVERY_CODE_BYTES }).base32.toLowerCase();
  return text.match(/.{4}/g)!.join('-');
}

/** The secret in base32 as people copy it: groups of four. */
const groupedSecret = (secret: string) => secret.match(/.{1,4}/g)!.join(' ');

export interface TwoFactorStatus {
  enabled: boolean;
  enabledAt: number | null;
  /** An enrolment was started and waits for its first code. */
  pending: boolean;
  recoveryCodesLeft: number;
}

export async function twoFactorStatus(db: Queries, userId: string): Promise<TwoFactorStatus> {
  const row = await findTotp(db, userId);
  const enabled = row?.enabled_at != null;
  return {
    enabled,
    enabledAt: row?.enabled_at ?? null,
    pending: row !== undefined && !enabled,
    recoveryCodesLeft: enabled ? await countUnusedRecoveryCodes(db, userId) : 0,
  };
}

/** Whether signing in as this user takes a code after the password. */
export const hasTwoFactor = async (db: Queries, userId: string) => (await findTotp(db, userId))?.enabled_at != null;

/** What the enrolment page shows: the QR code's text and the secret for typing in. */
export interface Enrolment {
  /** The otpauth:// URI the QR code holds. */
  uri: string;
  /** The base32 secret in groups of four. */
  secret: string;
}

/** Starts (or starts over) an enrolment: a new secret that waits for its first code. */
export async function startEnrolment(deps: TwoFactorDeps, user: { id: string; email: string }): Promise<Enrolment> {
  const secret = new Secret({ size: SECRET_BYTES }).base32;
  await deps.db.tx(async (t) => {
    if (await hasTwoFactor(t, user.id)) throw errors.conflict('two_factor_enabled', 'Two-factor sign-in is on already.');
    await putPendingTotp(t, user.id, deps.secretBox.seal(secret, secretContext(user.id)), deps.clock.now());
  });
  return enrolmentOf(secret, user.email);
}

/** The enrolment waiting for its first code, if there is one (and this instance can open its secret). */
export async function pendingEnrolment(deps: TwoFactorDeps, user: { id: string; email: string }): Promise<Enrolment | undefined> {
  const row = await findTotp(deps.db, user.id);
  if (!row || row.enabled_at !== null) return undefined;
  const secret = openSecret(deps.secretBox, user.id, row.secret);
  return secret === undefined ? undefined : enrolmentOf(secret, user.email);
}

const enrolmentOf = (secret: string, email: string): Enrolment => ({ uri: totpOf(secret, email).toString(), secret: groupedSecret(secret) });

function openSecret(box: SecretBox, userId: string, sealed: string): string | undefined {
  try {
    return box.open(sealed, secretContext(userId));
  } catch (e) {
    if (e instanceof UnreadableSecretError) return undefined;
    throw e;
  }
}

export type CodeProblem = 'format' | 'wrong' | 'used';

/**
 * Turns two-factor sign-in on once the app proves it has the secret: a current code. Answers the
 * recovery codes (to be shown this once), or why the code was refused.
 */
export async function confirmEnrolment(
  deps: TwoFactorDeps,
  ctx: ChangeContext,
  user: { id: string; email: string },
  typed: string,
): Promise<{ recoveryCodes: string[] } | { problem: CodeProblem | 'not_started' }> {
  const code = normaliseCode(typed);
  if (!CODE_FORMAT.test(code)) return { problem: 'format' };
  const row = await findTotp(deps.db, user.id);
  if (!row || row.enabled_at !== null) return { problem: 'not_started' };
  const secret = openSecret(deps.secretBox, user.id, row.secret);
  if (secret === undefined) return { problem: 'not_started' };
  const now = deps.clock.now();
  const step = stepOf(secret, code, now);
  if (step === undefined) return { problem: 'wrong' };
  const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  const enabled = await deps.db.tx(async (t) => {
    if (!(await enableTotp(t, user.id, row.secret, step, now))) return false;
    await replaceRecoveryCodes(t, user.id, recoveryCodes.map(hashRecoveryCode), now);
    await recordUserAudit(t, ctx, user.id, { action: 'user.2fa_enable', summary: { email: user.email }, at: now });
    return true;
  });
  return enabled ? { recoveryCodes } : { problem: 'not_started' };
}

/**
 * The second step of a sign-in, or a proof asked for before a change: a current code from the
 * app (taken once), or an unused recovery code (spent, and audited).
 */
export async function checkSecondFactor(
  deps: TwoFactorDeps,
  ctx: ChangeContext,
  user: { id: string; email: string },
  typed: string,
  opts: { recoveryCodes: boolean } = { recoveryCodes: true },
): Promise<{ ok: true; via: 'code' | 'recovery_code'; recoveryCodesLeft?: number } | { ok: false; problem: CodeProblem }> {
  const code = normaliseCode(typed);
  const now = deps.clock.now();
  if (CODE_FORMAT.test(code)) {
    const row = await findTotp(deps.db, user.id);
    const secret = row?.enabled_at != null ? openSecret(deps.secretBox, user.id, row.secret) : undefined;
    const step = secret === undefined ? undefined : stepOf(secret, code, now);
    if (step === undefined) return { ok: false, problem: 'wrong' };
    if (!(await takeTotpStep(deps.db, user.id, step, now))) return { ok: false, problem: 'used' };
    return { ok: true, via: 'code' };
  }
  if (!opts.recoveryCodes || code.length !== 16) return { ok: false, problem: opts.recoveryCodes ? 'wrong' : 'format' };
  const left = await deps.db.tx(async (t) => {
    if (!(await useRecoveryCode(t, user.id, hashRecoveryCode(code), now))) return undefined;
    const remaining = await countUnusedRecoveryCodes(t, user.id);
    await recordUserAudit(t, ctx, user.id, { action: 'user.2fa_recovery_used', summary: { email: user.email, recoveryCodesLeft: remaining }, at: now });
    return remaining;
  });
  return left === undefined ? { ok: false, problem: 'wrong' } : { ok: true, via: 'recovery_code', recoveryCodesLeft: left };
}

/** Whether this is the user's password: asked before turning two-factor sign-in on, so that a session alone (left open, or stolen) cannot tie the account to someone else's app. */
export async function passwordIsRight(db: Queries, userId: string, password: string): Promise<boolean> {
  const hash = await passwordHashOf(db, userId);
  return hash !== undefined && password.length <= 1024 && (await verifySecret(hash, password));
}

/**
 * The user turns two-factor sign-in off, proving it is them: a current code, or their password
 * (for a lost phone, with a session still open). Not ok when the proof is wrong.
 */
export async function disableTwoFactor(deps: TwoFactorDeps, ctx: ChangeContext, user: { id: string; email: string }, proof: string): Promise<{ ok: true } | { ok: false; problem: CodeProblem }> {
  if (CODE_FORMAT.test(normaliseCode(proof))) {
    const checked = await checkSecondFactor(deps, ctx, user, proof, { recoveryCodes: false });
    if (!checked.ok) return checked;
  } else {
    if (!(await passwordIsRight(deps.db, user.id, proof))) return { ok: false, problem: 'wrong' };
  }
  await deps.db.tx(async (t) => {
    const wasOn = await hasTwoFactor(t, user.id);
    await deleteTwoFactor(t, user.id);
    if (wasOn) await recordUserAudit(t, ctx, user.id, { action: 'user.2fa_disable', summary: { email: user.email }, at: deps.clock.now() });
  });
  return { ok: true };
}

/**
 * An instance admin (Instance page) or the operator (`linkqr user reset-two-factor`) turns a
 * user's two-factor sign-in off, for a lost phone: they sign in with their password alone until
 * they set it up again. `wasOn` false: there was nothing to turn off (an unfinished setup goes).
 */
export async function resetTwoFactor(deps: { db: Db; clock: Clock }, ctx: ChangeContext, userId: string): Promise<{ email: string; wasOn: boolean }> {
  return deps.db.tx(async (t) => {
    const email = await emailOf(t, userId);
    if (email === undefined) throw errors.notFound('User');
    const wasOn = await hasTwoFactor(t, userId);
    await deleteTwoFactor(t, userId);
    if (wasOn) await recordUserAudit(t, ctx, userId, { action: 'user.2fa_disable', summary: { email, reset: true }, at: deps.clock.now() });
    return { email, wasOn };
  });
}

export async function resetTwoFactorByEmail(deps: { db: Db; clock: Clock }, ctx: ChangeContext, email: string) {
  const user = email.length <= 254 ? await findUserByEmail(deps.db, email.trim().toLowerCase()) : undefined;
  if (!user) throw new AppError(404, 'user_not_found', 'Not found', `No user has the email ${email}.`);
  return resetTwoFactor(deps, ctx, user.id);
}

/** New recovery codes (the old ones void), after a current code: answers them to be shown once, or why the code was refused. */
export async function renewRecoveryCodes(
  deps: TwoFactorDeps,
  ctx: ChangeContext,
  user: { id: string; email: string },
  typed: string,
): Promise<{ recoveryCodes: string[] } | { problem: CodeProblem }> {
  const checked = await checkSecondFactor(deps, ctx, user, typed, { recoveryCodes: false });
  if (!checked.ok) return { problem: checked.problem };
  const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  await deps.db.tx(async (t) => {
    await replaceRecoveryCodes(t, user.id, recoveryCodes.map(hashRecoveryCode), deps.clock.now());
    await recordUserAudit(t, ctx, user.id, { action: 'user.2fa_recovery_codes', summary: { email: user.email }, at: deps.clock.now() });
  });
  return { recoveryCodes };
}

/**
 * An entry in the audit log of every workspace the user belongs to, where their colleagues with
 * the audit log see it (or one entry of the instance for a user in none).
 */
/**
 * At start-up (src/secrets/secrets-at-rest.ts): TOTP secrets sealed under a previous key are
 * sealed under the current one. Answers how many were, and the users whose secret this instance
 * cannot open (their codes are refused; recovery codes and an admin's reset still work).
 */
export async function resealTotpSecrets(db: Queries, box: SecretBox): Promise<{ resealed: number; unreadable: string[] }> {
  let resealed = 0;
  const unreadable: string[] = [];
  for (const row of await allTotpSecrets(db)) {
    if (box.isCurrent(row.secret)) continue;
    const secret = isSealed(row.secret) ? openSecret(box, row.user_id, row.secret) : undefined;
    if (secret === undefined) {
      unreadable.push(row.user_id);
      continue;
    }
    await resealTotpSecret(db, row.user_id, box.seal(secret, secretContext(row.user_id)));
    resealed++;
  }
  return { resealed, unreadable };
}

/** The ids of users with two-factor sign-in on (Instance page). */
export { usersWithTwoFactor } from './two-factor.repo.js';
