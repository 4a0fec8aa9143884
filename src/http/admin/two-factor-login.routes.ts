import type { Express, Request, RequestHandler, Response } from 'express';
import type { ChangeContext } from '../../audit/audit.js';
import type { LoginThrottle } from '../../sessions/login-throttle.js';
import { endPendingSignIn, type PendingSignIn, resumePendingSignIn } from '../../sessions/pending-sign-ins.js';
import { setFlash } from '../../sessions/sessions.service.js';
import { checkSecondFactor, type CodeProblem, normaliseCode, type TwoFactorDeps } from '../../users/two-factor.js';
import { CSRF_FIELD, tokensMatch } from '../middleware/csrf.js';
import { signInBrowser } from './admin-session.js';
import { clearCookie, readCookie } from './cookies.js';
import { LOGIN_CSRF_COOKIE, LOGIN_CSRF_OPTIONS, type LoginDeps } from './login.routes.js';
import { safeAdminPath } from './navigation.js';
import { clearPendingSignIn, pendingSignInToken, SIGN_IN_CODE_PATH } from './pending-sign-in.js';

export type TwoFactorSignInDeps = LoginDeps & TwoFactorDeps;

/** What the code field says when a code is refused. */
export const CODE_PROBLEMS: Record<CodeProblem, string> = {
  format: 'Enter the 6-digit code from your authenticator app.',
  wrong: 'That code is not right. Enter the code your app shows now, or a recovery code.',
  used: 'That code (or a newer one) was used already. Wait for the next code: your app shows a new one every 30 seconds.',
};

const EXPIRED = 'This sign-in has expired. Sign in again with your password.';

/**
 * GET/POST /admin/login/code: the second step of signing in, for users with two-factor sign-in.
 * The password was right (login.routes.ts); the sign-in waiting for the code is in the database
 * (src/sessions/pending-sign-ins.ts), so the code may reach another instance than the password.
 * The form is protected as the sign-in form is, by its double-submit token. Wrong codes count
 * against the account and the address like wrong passwords (LoginThrottle).
 */
export function bindTwoFactorSignIn(app: Express, deps: TwoFactorSignInDeps, throttle: LoginThrottle, forms: RequestHandler) {
  const log = deps.log.child({ component: 'admin' });

  const render = (res: Response, status: number, data: { csrf?: string | undefined; error?: string; formError?: string; expired?: boolean }) =>
    res
      .status(status)
      .type('html')
      .send(deps.views.render('pages/login-code', { csrf: data.csrf, error: data.error, formError: data.formError ?? (data.expired ? EXPIRED : undefined), expired: data.expired ?? false }));

  /** The sign-in waiting for this browser's code, and the form's token; undefined when either is gone. */
  const waiting = async (req: Request): Promise<{ pending: PendingSignIn; csrf: string } | undefined> => {
    const csrf = readCookie(req, LOGIN_CSRF_COOKIE);
    const pending = csrf === undefined ? undefined : await resumePendingSignIn(deps, pendingSignInToken(req));
    return pending && csrf !== undefined ? { pending, csrf } : undefined;
  };

  app.get(SIGN_IN_CODE_PATH, async (req, res) => {
    const found = await waiting(req);
    if (!found) return render(res, 400, { expired: true });
    render(res, 200, { csrf: found.csrf });
  });

  app.post(SIGN_IN_CODE_PATH, forms, async (req, res) => {
    const form = (req.body ?? {}) as { code?: unknown; [CSRF_FIELD]?: unknown };
    const found = await waiting(req);
    if (!found) return render(res, 400, { expired: true });
    const { pending, csrf } = found;
    if (!tokensMatch(csrf, form[CSRF_FIELD])) return render(res, 403, { csrf, formError: 'This form has expired. Enter the code again.' });
    const code = typeof form.code === 'string' ? form.code : '';
    if (normaliseCode(code) === '') return render(res, 400, { csrf, error: 'Enter the code from your authenticator app, or a recovery code.' });

    const ip = deps.clientIp(req);
    const { email } = pending.user;
    const { waitMs, at } = await throttle.attempt(email, ip);
    if (waitMs > 0) {
      const minutes = Math.ceil(waitMs / 60_000);
      log.warn({ ip }, 'two-factor sign-in throttled');
      res.setHeader('retry-after', String(Math.ceil(waitMs / 1000)));
      return render(res, 429, { csrf, formError: `Too many sign-in attempts. Try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.` });
    }

    const ctx: ChangeContext = { actor: { type: 'user', id: pending.user.id, workspaceId: '', role: 'viewer', instanceAdmin: pending.user.instanceAdmin }, ip };
    const checked = await checkSecondFactor(deps, ctx, pending.user, code);
    if (!checked.ok) {
      log.info({ ip, userId: pending.user.id, problem: checked.problem }, 'two-factor code refused');
      return render(res, 400, { csrf, error: CODE_PROBLEMS[checked.problem] });
    }

    await throttle.succeeded(email, ip, at);
    await endPendingSignIn(deps, pending);
    const session = await signInBrowser(deps, req, res, pending.user.id, ip);
    if (checked.via === 'recovery_code') {
      const left = checked.recoveryCodesLeft ?? 0;
      const text = `You signed in with a recovery code; ${left} ${left === 1 ? 'is' : 'are'} left. If your authenticator is lost, turn two-factor sign-in off and on again on your Account page.`;
      await setFlash(deps, session, { kind: left <= 2 ? 'error' : 'ok', text });
    }
    clearCookie(req, res, LOGIN_CSRF_COOKIE, LOGIN_CSRF_OPTIONS);
    clearPendingSignIn(req, res);
    log.info({ userId: pending.user.id, ip, secondFactor: checked.via }, 'signed in');
    res.redirect(303, safeAdminPath(pending.next));
  });
}
