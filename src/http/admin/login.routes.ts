import { randomBytes } from 'node:crypto';
import type { Eta } from 'eta';
import type { Express, Request, RequestHandler, Response, Router } from 'express';
import type { Logger } from 'pino';
import { endSession, resumeSession, type SessionDeps } from '../../sessions/sessions.service.js';
import type { Config } from '../../config.js';
import type { LoginThrottle } from '../../sessions/login-throttle.js';
import { checkCredentials } from '../../sessions/sign-in.js';
import { hasTwoFactor } from '../../users/two-factor.js';
import { CSRF_FIELD, tokensMatch } from '../middleware/csrf.js';
import type { Mailer } from '../../mail/mailer.js';
import { redirectTo, SESSION_COOKIE, SESSION_COOKIE_OPTIONS, signInBrowser } from './admin-session.js';
import { clearCookie, readCookie, setCookie } from './cookies.js';
import { safeAdminPath } from './navigation.js';
import { askForCode } from './pending-sign-in.js';

export interface LoginDeps extends SessionDeps {
  /** LINKQR_SECRET keys the names of shared sign-in throttling rows (PostgreSQL). */
  config: Pick<Config, 'secret'>;
  views: Eta;
  log: Logger;
  clientIp(req: Request): string;
  /** Set when mail is configured: the form offers "Forgot your password?" (forgot-password.routes.ts). */
  mailer: Mailer | undefined;
}

/**
 * The sign-in form has no session to hold a CSRF token yet, and SameSite=Lax alone does not
 * stop "login CSRF" (another site posting its attacker's credentials, so the victim works in
 * the attacker's account). Chosen: a double-submit token. GET /admin/login puts a random value
 * in this cookie and in the form; a POST must carry both, equal. Another site can make the
 * browser post the form but cannot read or set our cookie. Preferred over an Origin check,
 * which depends on the Host a reverse proxy forwards.
 */
export const LOGIN_CSRF_COOKIE = 'linkqr_login_csrf';
export const LOGIN_CSRF_OPTIONS = { path: '/admin/login', sameSite: 'strict' } as const;
const LOGIN_CSRF_FORMAT = /^[A-Za-z0-9_-]{32}$/;

const INCORRECT = 'Email or password is incorrect.';

interface LoginForm {
  email?: unknown;
  password?: unknown;
  next?: unknown;
  [CSRF_FIELD]?: unknown;
}

const text = (v: unknown) => (typeof v === 'string' ? v : '');

/** GET/POST /admin/login. Sign-out is in the admin router (it needs the session's CSRF token). */
export function bindLoginPages(app: Express, deps: LoginDeps, throttle: LoginThrottle, forms: RequestHandler) {
  const log = deps.log.child({ component: 'admin' });

  /** The pre-session token of this browser: kept while the cookie lives, so several tabs work. */
  const loginCsrf = (req: Request, res: Response, fresh: boolean) => {
    const existing = readCookie(req, LOGIN_CSRF_COOKIE);
    if (!fresh && existing !== undefined && LOGIN_CSRF_FORMAT.test(existing)) return existing;
    const token = randomBytes(24).toString('base64url');
    setCookie(req, res, LOGIN_CSRF_COOKIE, token, LOGIN_CSRF_OPTIONS);
    return token;
  };

  const render = (
    req: Request,
    res: Response,
    status: number,
    data: { email?: string; next?: string | undefined; notice?: string | undefined; formError?: string; errors?: Record<string, string>; freshCsrf?: boolean },
  ) =>
    res
      .status(status)
      .type('html')
      .send(
        deps.views.render('pages/login', {
          csrf: loginCsrf(req, res, data.freshCsrf ?? false),
          next: data.next,
          notice: data.notice,
          formError: data.formError,
          values: { email: data.email ?? '' },
          errors: data.errors ?? {},
          forgotPassword: deps.mailer ? 'mail' : 'ask',
        }),
      );

  app.get('/admin/login', async (req, res) => {
    const next = typeof req.query.next === 'string' ? req.query.next : undefined;
    if ((await resumeSession(deps, readCookie(req, SESSION_COOKIE))).status === 'active') return res.redirect(303, safeAdminPath(next));
    const notice =
      req.query.signed_out === '1'
        ? 'You have signed out.'
        : req.query.expired === '1'
          ? 'Your session has expired. Sign in again to continue.'
          : undefined;
    render(req, res, 200, { next, notice });
  });

  app.post('/admin/login', forms, async (req, res) => {
    const form = (req.body ?? {}) as LoginForm;
    const email = text(form.email).trim();
    const password = text(form.password);
    const next = text(form.next) || undefined;

    const cookieToken = readCookie(req, LOGIN_CSRF_COOKIE);
    if (cookieToken === undefined || !tokensMatch(cookieToken, form[CSRF_FIELD])) {
      // A fresh token comes with the re-rendered form, so trying again works.
      return render(req, res, 403, { email, next, freshCsrf: true, formError: 'This sign-in form has expired. Please sign in again.' });
    }

    const errors: Record<string, string> = {};
    if (email === '') errors.email = 'Enter your email address.';
    if (password === '') errors.password = 'Enter your password.';
    if (Object.keys(errors).length > 0) return render(req, res, 400, { email, next, errors });

    const ip = deps.clientIp(req);
    // Counted now, before the password is checked: guesses sent together cannot all slip in.
    const { waitMs, at } = await throttle.attempt(email, ip);
    if (waitMs > 0) {
      const minutes = Math.ceil(waitMs / 60_000);
      log.warn({ ip }, 'sign-in throttled');
      res.setHeader('retry-after', String(Math.ceil(waitMs / 1000)));
      return render(req, res, 429, {
        email,
        next,
        formError: `Too many sign-in attempts. Try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.`,
      });
    }

    const user = await checkCredentials(deps, email, password);
    if (!user) {
      log.info({ ip }, 'sign-in refused');
      return render(req, res, 400, { email, next, formError: INCORRECT });
    }

    if (await hasTwoFactor(deps.db, user.id)) {
      await throttle.passwordAccepted(email, ip, at);
      return askForCode(deps, req, res, { userId: user.id, next });
    }
    await throttle.succeeded(email, ip, at);
    await signInBrowser(deps, req, res, user.id, ip);
    clearCookie(req, res, LOGIN_CSRF_COOKIE, LOGIN_CSRF_OPTIONS);
    log.info({ userId: user.id, ip }, 'signed in');
    res.redirect(303, safeAdminPath(next));
  });
}

/** POST /admin/logout (in the admin router: session and CSRF checked before). */
export function bindLogout(router: Router, deps: LoginDeps) {
  router.post('/logout', async (req, res) => {
    await endSession(deps, readCookie(req, SESSION_COOKIE));
    clearCookie(req, res, SESSION_COOKIE, SESSION_COOKIE_OPTIONS);
    redirectTo(req, res, '/admin/login?signed_out=1');
  });
}
