import type { Logger } from 'pino';
import { type ChangeContext, recordUserAudit } from '../audit/audit.js';
import type { Db, Queries } from '../db/db.js';
import type { Clock } from '../lib/clock.js';
import { AppError } from '../lib/errors.js';
import { type Mailer, MailNotSent } from '../mail/mailer.js';
import { passwordResetMail } from '../mail/messages.js';
import type { Actor } from '../policy/policy.js';
import { issuePasswordToken, PASSWORD_TOKEN_TTL_MS, passwordLink } from './password-tokens.js';
import { findUserByEmail } from './users.repo.js';

/**
 * Password resets: a one-time link to the set-password page (password-tokens.ts) for someone who
 * has an account. Three ways to get one: an owner or instance admin on the Team page, the
 * operator with `linkqr user reset-password`, and, when mail is configured, the user themselves
 * from the sign-in page. Using the link sets the password and ends every session of the user.
 */

/** A link the user asked for themselves goes to their mailbox only: short-lived, as is usual. */
export const SELF_SERVICE_RESET_TTL_MS = 60 * 60 * 1000;

export interface ResetDeps {
  db: Db;
  clock: Clock;
}

export type ResetVia = 'team page' | 'cli' | 'sign-in page';

/** Issues a link for the user, audited as user.password_reset_issued in each of their workspaces. */
export async function issuePasswordReset(
  deps: ResetDeps,
  ctx: ChangeContext,
  user: { id: string; email: string },
  how: { via: ResetVia; delivery: 'email' | 'link'; ttlMs?: number },
): Promise<{ token: string; expiresAt: number }> {
  return deps.db.tx(async (t) => {
    const issued = await issuePasswordToken({ ...deps, db: t }, user.id, how.ttlMs ?? PASSWORD_TOKEN_TTL_MS);
    await recordUserAudit(t, ctx, user.id, {
      action: 'user.password_reset_issued',
      summary: { email: user.email, via: how.via, delivery: how.delivery },
      at: deps.clock.now(),
    });
    return issued;
  });
}

/** `linkqr user reset-password --email E`: the link, for the operator to hand over. */
export async function resetPasswordByEmail(deps: ResetDeps, ctx: ChangeContext, email: string) {
  const user = email.length <= 254 ? await findUserByEmail(deps.db, email.trim().toLowerCase()) : undefined;
  if (!user) throw new AppError(404, 'user_not_found', 'Not found', `No user has the email ${email}: "linkqr user create" makes one.`);
  const issued = await issuePasswordReset(deps, ctx, user, { via: 'cli', delivery: 'link' });
  return { email: user.email, ...issued };
}

/**
 * Who may be given a reset link on a workspace's Team page. Owners and instance admins only: an
 * admin manages members, but whoever gets the link can become that person. For the same reason,
 * when the link is shown (no mail to send it in) an owner gets one only for members whose every
 * workspace they own too, and never for an instance admin: otherwise an owner of one workspace
 * could take over an account that holds more elsewhere. Mailed, the link reaches only its owner.
 * Answers the ids of the members the actor may reset.
 */
export async function resettableMembers(db: Queries, actor: Extract<Actor, { type: 'user' }>, workspaceId: string, linkShown: boolean): Promise<Set<string>> {
  if (!actor.instanceAdmin && actor.role !== 'owner') return new Set();
  const rows = await db.rows<{ user_id: string; is_instance_admin: number; elsewhere: number }>(
    `select m.user_id, u.is_instance_admin,
       (select count(*) from memberships o where o.user_id = m.user_id and not exists
          (select 1 from memberships mine where mine.user_id = ? and mine.workspace_id = o.workspace_id and mine.role = 'owner')) as elsewhere
     from memberships m join users u on u.id = m.user_id where m.workspace_id = ?`,
    actor.id,
    workspaceId,
  );
  const allowed = rows.filter((r) => actor.instanceAdmin || !linkShown || r.user_id === actor.id || (r.is_instance_admin !== 1 && Number(r.elsewhere) === 0));
  return new Set(allowed.map((r) => r.user_id));
}

export type MemberResetOutcome =
  | { kind: 'mailed'; email: string }
  | { kind: 'link'; email: string; url: string; hours: number }
  /** The mail did not go out: `why` is safe to show; `url` only when the actor may see the link. */
  | { kind: 'mail failed'; email: string; why: string; url?: string; hours: number };

/**
 * Team → Reset password: a link for a member of the workspace, mailed to them when mail is
 * configured, else for the actor to hand over. Refused (403 reset_not_allowed) when
 * resettableMembers says no.
 */
export async function resetMemberPassword(
  deps: ResetDeps & { mailer: Mailer | undefined; baseUrl(): string },
  ctx: ChangeContext & { actor: Extract<Actor, { type: 'user' }> },
  workspaceId: string,
  member: { userId: string; email: string },
): Promise<MemberResetOutcome> {
  const { actor } = ctx;
  if (!actor.instanceAdmin && actor.role !== 'owner') {
    throw new AppError(403, 'owner_only', 'Forbidden', "Only an owner of the workspace or an instance admin can reset a member's password.");
  }
  const mayShowLink = (await resettableMembers(deps.db, actor, workspaceId, true)).has(member.userId);
  if (!deps.mailer && !mayShowLink) {
    throw new AppError(
      403,
      'reset_not_allowed',
      'Forbidden',
      `${member.email} is an instance admin or also belongs to a workspace you do not own: only an instance admin can get a reset link for them (or, with mail configured, the link goes to them directly).`,
    );
  }
  const user = { id: member.userId, email: member.email };
  const hours = PASSWORD_TOKEN_TTL_MS / 3_600_000;
  const { token } = await issuePasswordReset(deps, ctx, user, { via: 'team page', delivery: deps.mailer ? 'email' : 'link' });
  const url = passwordLink(deps.baseUrl(), token);
  if (!deps.mailer) return { kind: 'link', email: member.email, url, hours };
  try {
    await deps.mailer.send(passwordResetMail({ to: member.email, link: url, validMs: PASSWORD_TOKEN_TTL_MS, server: deps.baseUrl() }));
    return { kind: 'mailed', email: member.email };
  } catch (err) {
    if (!(err instanceof MailNotSent)) throw err;
    return { kind: 'mail failed', email: member.email, why: err.message, hours, ...(mayShowLink ? { url } : {}) };
  }
}

/**
 * "Forgot your password?" on the sign-in page. The answer the person sees does not depend on
 * whether the email has an account, so this runs after it is sent (BackgroundWork): looking the
 * user up, issuing and mailing take no time the response could show. An unknown email is only
 * logged (at debug: the log should not collect what strangers type).
 */
export async function requestPasswordReset(
  deps: ResetDeps & { mailer: Mailer; baseUrl(): string; log: Logger },
  email: string,
  ip: string | null,
): Promise<void> {
  const user = email.length <= 254 ? await findUserByEmail(deps.db, email.trim().toLowerCase()) : undefined;
  if (!user) {
    deps.log.debug({ ip }, 'password reset asked for an email without an account');
    return;
  }
  const ctx: ChangeContext = { actor: { type: 'operator', id: 'forgot-password-page' }, ip };
  const { token } = await issuePasswordReset(deps, ctx, user, { via: 'sign-in page', delivery: 'email', ttlMs: SELF_SERVICE_RESET_TTL_MS });
  const link = passwordLink(deps.baseUrl(), token);
  try {
    await deps.mailer.send(passwordResetMail({ to: user.email, link, validMs: SELF_SERVICE_RESET_TTL_MS, server: deps.baseUrl() }));
  } catch (err) {
    // Logged by the mailer, without the link; the person sees nothing of it by design.
    if (!(err instanceof MailNotSent)) throw err;
  }
}
