import type { NextFunction, Request, Response } from 'express';
import type { Actor } from '../../policy/policy.js';
import { findSessionUser, type MembershipView, membershipsOf, type SessionRow } from '../../sessions/sessions.repo.js';
import { currentMembership, homeMembership, rememberWorkspace, resumeSession, SESSION_MAX_AGE_MS, type SessionDeps, startSession } from '../../sessions/sessions.service.js';
import { clearCookie, readCookie, setCookie } from './cookies.js';

export const SESSION_COOKIE = 'linkqr_session';
export const SESSION_COOKIE_OPTIONS = { path: '/', sameSite: 'lax' } as const;

/** Who is signed in, and where: what every admin page is rendered for. */
export interface AdminContext {
  session: SessionRow;
  user: { id: string; email: string; instanceAdmin: boolean };
  /** Every workspace the user belongs to, by name. */
  memberships: MembershipView[];
  /** The workspace the pages show; undefined for a user who belongs to none. */
  workspace: MembershipView | undefined;
}

declare module 'express-serve-static-core' {
  interface Locals {
    admin?: AdminContext;
  }
}

export function adminOf(res: Response): AdminContext {
  const a = res.locals.admin;
  if (!a) throw new Error('route mounted without resolveAdmin()');
  return a;
}

/** The admin context of a route that needs a workspace (mounted after requireWorkspace). */
export function workspaceOf(res: Response): AdminContext & { workspace: MembershipView; actor: Extract<Actor, { type: 'user' }> } {
  const a = adminOf(res);
  const actor = res.locals.change?.actor;
  if (!a.workspace || actor?.type !== 'user') throw new Error('route mounted without requireWorkspace()');
  return { ...a, workspace: a.workspace, actor };
}

/**
 * Cookie → session → user → memberships → res.locals.admin, and res.locals.change (the actor
 * services write to the audit log). Without a live session: to the sign-in page, which brings
 * the user back here (GET) afterwards.
 */
export function resolveAdmin(deps: SessionDeps & { clientIp(req: Request): string }) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const token = readCookie(req, SESSION_COOKIE);
    const found = await resumeSession(deps, token);
    const user = found.status === 'active' ? await findSessionUser(deps.db, found.session.user_id) : undefined;
    if (found.status !== 'active' || !user) {
      if (token !== undefined) clearCookie(req, res, SESSION_COOKIE, SESSION_COOKIE_OPTIONS);
      return toSignIn(req, res, found.status === 'expired');
    }
    const { session } = found;
    const memberships = await membershipsOf(deps.db, user.id);
    const workspace = currentMembership(memberships, session);
    await rememberWorkspace(deps, session, workspace?.workspaceId ?? null);
    const instanceAdmin = user.is_instance_admin === 1;
    res.locals.admin = { session, user: { id: user.id, email: user.email, instanceAdmin }, memberships, workspace };
    if (workspace) {
      res.locals.change = {
        actor: { type: 'user', id: user.id, workspaceId: workspace.workspaceId, role: workspace.role, instanceAdmin },
        ip: deps.clientIp(req),
      };
    }
    next();
  };
}

/**
 * Signs this browser in as a user who just proved who they are (the sign-in form, the setup
 * page): a new session in their home workspace (homeMembership), replacing the one the cookie held, and its cookie.
 */
export async function signInBrowser(deps: SessionDeps, req: Request, res: Response, userId: string, ip: string | null): Promise<SessionRow> {
  const home = homeMembership(await membershipsOf(deps.db, userId));
  const { token, session } = await startSession(deps, {
    userId,
    workspaceId: home?.workspaceId ?? null,
    ip,
    userAgent: req.get('user-agent') ?? null,
    replacing: readCookie(req, SESSION_COOKIE),
  });
  setCookie(req, res, SESSION_COOKIE, token, { ...SESSION_COOKIE_OPTIONS, maxAge: SESSION_MAX_AGE_MS });
  return session;
}

export const isHtmx = (req: Request) => req.get('hx-request') === 'true';

/**
 * A redirect that works for plain requests and htmx alike: htmx would follow a 303 inside its
 * XMLHttpRequest and swap the target page into a fragment, so it gets HX-Redirect instead.
 */
export function redirectTo(req: Request, res: Response, location: string) {
  if (isHtmx(req)) return res.status(200).setHeader('hx-redirect', location).end();
  res.redirect(303, location);
}

function toSignIn(req: Request, res: Response, expired: boolean) {
  const query = new URLSearchParams();
  // Only a page can be come back to; a form post is not replayed after signing in.
  if (req.method === 'GET' || req.method === 'HEAD') query.set('next', req.originalUrl);
  if (expired) query.set('expired', '1');
  const location = `/admin/login${query.size > 0 ? `?${query}` : ''}`;
  if (isHtmx(req)) return res.status(401).setHeader('hx-redirect', location).end();
  res.redirect(303, location);
}
