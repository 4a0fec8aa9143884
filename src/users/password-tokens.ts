import { createHash, randomBytes } from 'node:crypto';
import { type ChangeContext, recordAudit, recordUserAudit } from '../audit/audit.js';
import type { Db, Queries } from '../db/db.js';
import type { Role } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { AppError, errors } from '../lib/errors.js';
import { hashPassword } from '../lib/passwords.js';
import { findWorkspaceById } from '../workspaces/workspaces.repo.js';
import { createUser } from './users.service.js';

/**
 * One-time links to choose a password: how someone gets an account from the Team page without
 * anybody else ever knowing their password. The link carries a random token; the database keeps
 * only its SHA-256. Good for 24 hours, and once.
 */
export const PASSWORD_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;
export const MIN_PASSWORD = 10;
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export interface PasswordTokenDeps {
  db: Db;
  clock: Clock;
}

const idOf = (token: string) => createHash('sha256').update(token).digest('hex');

/** The page a token opens: what the Team page shows, mails carry and `linkqr user reset-password` prints. */
export const passwordLink = (baseUrl: string, token: string) => `${baseUrl}/admin/set-password?token=${token}`;

/** A fresh token for a user, good for `ttlMs`: the link's secret, returned once. */
export async function issuePasswordToken(
  deps: { db: Queries; clock: Clock },
  userId: string,
  ttlMs = PASSWORD_TOKEN_TTL_MS,
): Promise<{ token: string; expiresAt: number }> {
  const token = randomBytes(32).toString('base64url');
  const now = deps.clock.now();
  const expiresAt = now + ttlMs;
  await deps.db.exec('insert into password_tokens (id, user_id, created_at, expires_at) values (?, ?, ?, ?)', idOf(token), userId, now, expiresAt);
  return { token, expiresAt };
}

/**
 * Creates a user who will choose their own password, as a member of a workspace with a role, and
 * issues their link. Until the link is used the account has a random password nobody knows.
 * Audited in the workspace as user.invite (plus member.add from the membership).
 */
export async function inviteUser(deps: PasswordTokenDeps, ctx: ChangeContext, workspaceId: string, email: string, role: Role) {
  const workspace = await findWorkspaceById(deps.db, workspaceId);
  if (!workspace) throw errors.notFound('Workspace');
  const { user } = await createUser(deps, ctx, { email, password: randomBytes(32).toString('base64url'), workspace: workspace.name, role });
  return deps.db.tx(async (t) => {
    const issued = await issuePasswordToken({ ...deps, db: t }, user.id);
    await recordAudit(t, ctx, { workspaceId, action: 'user.invite', targetType: 'user', targetId: user.id, summary: { email: user.email, role }, at: deps.clock.now() });
    return { userId: user.id, email: user.email, role, ...issued };
  });
}

/** The user a link is for, while it is good (unused, unexpired); undefined otherwise. */
export async function findPasswordToken(
  deps: { db: Queries; clock: Clock },
  token: string,
): Promise<{ userId: string; email: string; expiresAt: number } | undefined> {
  if (!TOKEN_FORMAT.test(token)) return undefined;
  const row = await deps.db.row<{ user_id: string; expires_at: number; email: string }>(
    `select t.user_id, t.expires_at, u.email from password_tokens t join users u on u.id = t.user_id
     where t.id = ? and t.used_at is null and t.expires_at > ?`,
    idOf(token),
    deps.clock.now(),
  );
  return row && { userId: row.user_id, email: row.email, expiresAt: row.expires_at };
}

/**
 * Sets the password a link was for, and voids the link (and any other of the same user's). The
 * user's sessions end: whoever held the old password is signed out. Audited as
 * user.password_set, the link as the actor (nobody is signed in), from `ip`.
 */
export async function usePasswordToken(deps: PasswordTokenDeps, token: string, password: string, ip: string | null = null): Promise<{ userId: string; email: string }> {
  if (password.length < MIN_PASSWORD) {
    throw errors.validation([{ field: 'password', message: `must be at least ${MIN_PASSWORD} characters` }]);
  }
  if (password.length > 1024) throw errors.validation([{ field: 'password', message: 'must be at most 1024 characters' }]);
  if (!(await findPasswordToken(deps, token))) throw invalidLink();
  // Hashed before the transaction: argon2 must not hold the database's writer.
  const hash = await hashPassword(password);
  return deps.db.tx(async (t) => {
    // The link is taken by one statement: of two tabs (or two instances) submitting it at once,
    // one sets the password and the other finds it used. A plain read first would let both pass
    // on PostgreSQL, whose transactions read what was committed before each statement.
    const now = deps.clock.now();
    const { changes: taken } = await t.exec('update password_tokens set used_at = ? where id = ? and used_at is null and expires_at > ?', now, idOf(token), now);
    if (taken !== 1) throw invalidLink();
    const found = await t.row<{ user_id: string; email: string }>('select t.user_id, u.email from password_tokens t join users u on u.id = t.user_id where t.id = ?', idOf(token));
    if (!found) throw invalidLink();
    const user = { userId: found.user_id, email: found.email };
    await t.exec('update users set password_hash = ?, updated_at = ? where id = ?', hash, now, user.userId);
    await t.exec('update password_tokens set used_at = ? where user_id = ? and used_at is null', now, user.userId);
    // Whoever held the old password is out: their sessions, and a sign-in of theirs still waiting for its two-factor code.
    const { changes: sessionsEnded } = await t.exec('delete from sessions where user_id = ?', user.userId);
    await t.exec('delete from pending_sign_ins where user_id = ?', user.userId);
    await recordUserAudit(t, { actor: PASSWORD_LINK_ACTOR, ip }, user.userId, { action: 'user.password_set', summary: { email: user.email, sessionsEnded }, at: now });
    return user;
  });
}

/** Who sets a password through a link: the link itself (its holder proved nothing else), as the setup page is for the first user. */
const PASSWORD_LINK_ACTOR = { type: 'operator', id: 'password-link' } as const;

const invalidLink = () =>
  new AppError(410, 'password_link_invalid', 'Link no longer valid', 'This link has been used or has expired. Ask an owner of your workspace or an instance admin for a new one.');
