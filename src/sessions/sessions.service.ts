import { createHash, randomBytes } from 'node:crypto';
import type { Db, Queries } from '../db/db.js';
import type { Clock } from '../lib/clock.js';
import { errors } from '../lib/errors.js';
import {
  deleteExpiredSessions,
  deleteSession,
  findSession,
  insertSession,
  type MembershipView,
  type SessionRow,
  setSessionFlash,
  setSessionWorkspace,
  touchSession,
} from './sessions.repo.js';

/**
 * Admin UI sessions: a random token in the browser's cookie, its SHA-256 in the database.
 * A session ends after 12 hours without a request, 30 days after sign-in whatever happens,
 * and at sign-out.
 */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;
export const SESSION_MAX_AGE_MS = 30 * 24 * 60 * 60 * 1000;
/**
 * last_seen_at is written at most this often: a page view is not worth a write each time. The
 * idle expiry may come this much earlier than exactly 12 hours after the last request.
 */
const TOUCH_EVERY_MS = 60 * 1000;

export interface SessionDeps {
  db: Db;
  clock: Clock;
}

/** 32 random bytes, base64url (43 characters): what the cookie carries. */
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export const sessionIdOf = (token: string) => createHash('sha256').update(token).digest('hex');

export interface Flash {
  kind: 'ok' | 'error';
  text: string;
  /** A plan's refusal shown to an instance admin: the message links to the plans (src/http/admin/plan-advice.ts). */
  changePlan?: boolean;
}

/** Starts a session for a user who just proved who they are; `replacing` (the old cookie's token) ends. */
export async function startSession(
  deps: SessionDeps,
  props: { userId: string; workspaceId: string | null; ip: string | null; userAgent: string | null; replacing?: string | undefined },
): Promise<{ token: string; session: SessionRow }> {
  const token = randomBytes(32).toString('base64url');
  const now = deps.clock.now();
  const session: SessionRow = {
    id: sessionIdOf(token),
    user_id: props.userId,
    workspace_id: props.workspaceId,
    csrf_token: randomBytes(32).toString('base64url'),
    flash: null,
    created_at: now,
    last_seen_at: now,
    expires_at: now + SESSION_MAX_AGE_MS,
    ip: props.ip,
    user_agent: props.userAgent?.slice(0, 512) ?? null,
  };
  await deps.db.tx(async (t) => {
    // A new id at every sign-in: a token planted before it (session fixation) signs nobody in.
    if (props.replacing !== undefined && TOKEN_FORMAT.test(props.replacing)) await deleteSession(t, sessionIdOf(props.replacing));
    await insertSession(t, session);
  });
  return { token, session };
}

export type SessionLookup = { status: 'active'; session: SessionRow } | { status: 'expired' } | { status: 'none' };

/** The live session of a cookie token. An expired one is deleted and reported as such. */
export async function resumeSession(deps: SessionDeps, token: string | undefined): Promise<SessionLookup> {
  if (token === undefined || !TOKEN_FORMAT.test(token)) return { status: 'none' };
  const session = await findSession(deps.db, sessionIdOf(token));
  if (!session) return { status: 'none' };
  const now = deps.clock.now();
  if (now >= session.expires_at || now - session.last_seen_at >= SESSION_IDLE_MS) {
    await deleteSession(deps.db, session.id);
    return { status: 'expired' };
  }
  if (now - session.last_seen_at >= TOUCH_EVERY_MS) {
    await touchSession(deps.db, session.id, now);
    session.last_seen_at = now;
  }
  return { status: 'active', session };
}

export async function endSession(deps: SessionDeps, token: string | undefined): Promise<void> {
  if (token !== undefined && TOKEN_FORMAT.test(token)) await deleteSession(deps.db, sessionIdOf(token));
}

/** The workspace the pages show: the session's if the user still belongs to it, else their home one. */
export function currentMembership(memberships: readonly MembershipView[], session: SessionRow): MembershipView | undefined {
  return memberships.find((m) => m.workspaceId === session.workspace_id) ?? homeMembership(memberships);
}

/**
 * Where a sign-in lands: the workspace the user joined first (their own, for whoever set one up),
 * not the first by name. Anyone who owns a workspace can add an existing user to it; by name, that
 * would have moved the user's landing page into a stranger's workspace, with its role.
 */
export function homeMembership(memberships: readonly MembershipView[]): MembershipView | undefined {
  // memberships come by name, so among equal join times the first by name stays first.
  return memberships.reduce<MembershipView | undefined>((home, m) => (home === undefined || m.joinedAt < home.joinedAt ? m : home), undefined);
}

/** Only to a workspace the user belongs to; any other id is "not found", whether it exists or not. */
export async function switchWorkspace(
  deps: SessionDeps,
  session: SessionRow,
  memberships: readonly MembershipView[],
  workspaceId: string,
): Promise<MembershipView> {
  const target = memberships.find((m) => m.workspaceId === workspaceId);
  if (!target) throw errors.notFound('Workspace');
  await setSessionWorkspace(deps.db, session.id, target.workspaceId);
  session.workspace_id = target.workspaceId;
  return target;
}

/** Remembers the current workspace when it was chosen by default (the session's one was left). */
export async function rememberWorkspace(deps: SessionDeps, session: SessionRow, workspaceId: string | null): Promise<void> {
  if (session.workspace_id === workspaceId) return;
  await setSessionWorkspace(deps.db, session.id, workspaceId);
  session.workspace_id = workspaceId;
}

export async function setFlash(deps: SessionDeps, session: SessionRow, flash: Flash): Promise<void> {
  await setSessionFlash(deps.db, session.id, JSON.stringify(flash));
  session.flash = JSON.stringify(flash);
}

/** The message left for the next page, cleared as it is read: it shows once. */
export async function takeFlash(deps: SessionDeps, session: SessionRow): Promise<Flash | undefined> {
  if (session.flash === null) return undefined;
  await setSessionFlash(deps.db, session.id, null);
  const flash = JSON.parse(session.flash) as Flash;
  session.flash = null;
  return flash;
}

/** For the retention job: sessions past either expiry. */
export async function deleteExpired(deps: { db: Queries; clock: Clock }): Promise<number> {
  const now = deps.clock.now();
  return deleteExpiredSessions(deps.db, now, now - SESSION_IDLE_MS);
}
