import type { Request, Response } from 'express';
import type { Queries } from '../../db/db.js';
import type { Clock } from '../../lib/clock.js';
import { beginPendingSignIn, PENDING_SIGN_IN_MS } from '../../sessions/pending-sign-ins.js';
import { clearCookie, readCookie, setCookie } from './cookies.js';

/**
 * The cookie of a sign-in waiting for its two-factor code (src/sessions/pending-sign-ins.ts). Sent
 * only to the sign-in pages, and not along with requests from other sites.
 */
export const PENDING_SIGN_IN_COOKIE = 'linkqr_sign_in';
const PENDING_SIGN_IN_OPTIONS = { path: '/admin/login', sameSite: 'strict' } as const;

/** Where the second step of signing in is asked for. */
export const SIGN_IN_CODE_PATH = '/admin/login/code';

/** After a right password, for a user with two-factor sign-in: no session yet, on to the page that asks for the code. */
export async function askForCode(deps: { db: Queries; clock: Clock }, req: Request, res: Response, props: { userId: string; next: string | undefined }) {
  const token = await beginPendingSignIn(deps, props);
  setCookie(req, res, PENDING_SIGN_IN_COOKIE, token, { ...PENDING_SIGN_IN_OPTIONS, maxAge: PENDING_SIGN_IN_MS });
  res.redirect(303, SIGN_IN_CODE_PATH);
}

export const pendingSignInToken = (req: Request) => readCookie(req, PENDING_SIGN_IN_COOKIE);

export const clearPendingSignIn = (req: Request, res: Response) => clearCookie(req, res, PENDING_SIGN_IN_COOKIE, PENDING_SIGN_IN_OPTIONS);
