import { randomBytes } from 'node:crypto';
import type { Eta } from 'eta';
import type { Express, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { Db } from '../../db/db.js';
import type { BackgroundWork } from '../../lib/background.js';
import type { Clock } from '../../lib/clock.js';
import type { Mailer } from '../../mail/mailer.js';
import { requestPasswordReset, SELF_SERVICE_RESET_TTL_MS } from '../../users/password-reset.js';
import { PasswordResetThrottle } from '../../users/reset-throttle.js';
import { CSRF_FIELD, tokensMatch } from '../middleware/csrf.js';
import { readCookie, setCookie } from './cookies.js';

export interface ForgotPasswordDeps {
  db: Db;
  clock: Clock;
  views: Eta;
  log: Logger;
  /** LINKQR_SECRET keys the names of shared throttling rows (PostgreSQL). */
  config: Pick<Config, 'secret'>;
  clientIp(req: Request): string;
  /** Undefined: no mail, so no self-service reset; the page says whom to ask. */
  mailer: Mailer | undefined;
  baseUrl(): string;
  background: BackgroundWork;
}

/**
 * No session here either: the form carries a double-submit token as the sign-in form does
 * (login.routes.ts), in a cookie of this path, so another site cannot make a browser ask for
 * resets (each would mail someone a link they did not want).
 */
const CSRF_COOKIE = 'linkqr_reset_csrf';
const CSRF_OPTIONS = { path: '/admin/forgot-password', sameSite: 'strict' } as const;
const CSRF_FORMAT = /^[A-Za-z0-9_-]{32}$/;
const PATH = '/admin/forgot-password';

const text = (v: unknown) => (typeof v === 'string' ? v : '');

/**
 * GET/POST /admin/forgot-password, linked from the sign-in page when mail is configured. The
 * answer is the same whether or not the email has an account, and as quick: the mail goes out
 * after it (requestPasswordReset). Throttled per email and per address (PasswordResetThrottle).
 */
export function bindForgotPasswordPages(app: Express, deps: ForgotPasswordDeps, forms: RequestHandler) {
  const throttle = new PasswordResetThrottle(deps.db, deps.config.secret);
  const log = deps.log.child({ component: 'admin' });
  const hours = SELF_SERVICE_RESET_TTL_MS / 3_600_000;

  const csrf = (req: Request, res: Response) => {
    const existing = readCookie(req, CSRF_COOKIE);
    if (existing !== undefined && CSRF_FORMAT.test(existing)) return existing;
    const token = randomBytes(24).toString('base64url');
    setCookie(req, res, CSRF_COOKIE, token, CSRF_OPTIONS);
    return token;
  };

  const render = (req: Request, res: Response, status: number, data: { email?: string; sent?: boolean; formError?: string; errors?: Record<string, string> } = {}) =>
    res
      .status(status)
      .type('html')
      .send(
        deps.views.render('pages/forgot-password', {
          mail: deps.mailer !== undefined,
          csrf: deps.mailer ? csrf(req, res) : '',
          hours,
          values: { email: data.email ?? '' },
          errors: data.errors ?? {},
          sent: data.sent ?? false,
          formError: data.formError,
        }),
      );

  app.get(PATH, (req, res) => {
    render(req, res, 200);
  });

  app.post(PATH, forms, async (req, res) => {
    const mailer = deps.mailer;
    if (!mailer) return res.redirect(303, PATH);
    const form = (req.body ?? {}) as Record<string, unknown>;
    const email = text(form.email).trim();
    const cookieToken = readCookie(req, CSRF_COOKIE);
    if (cookieToken === undefined || !tokensMatch(cookieToken, form[CSRF_FIELD])) {
      return render(req, res, 403, { email, formError: 'This form has expired. Please send it again.' });
    }
    if (!/^[^@\s]+@[^@\s]+$/.test(email) || email.length > 254) {
      return render(req, res, 400, { email, errors: { email: 'Enter the email address you sign in with.' } });
    }
    const ip = deps.clientIp(req);
    const waitMs = await throttle.attempt(email, ip, deps.clock.now());
    if (waitMs > 0) {
      const minutes = Math.ceil(waitMs / 60_000);
      log.warn({ ip }, 'password reset requests throttled');
      res.setHeader('retry-after', String(Math.ceil(waitMs / 1000)));
      return render(req, res, 429, { email, formError: `Too many reset requests. Try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.` });
    }
    deps.background.start('password reset mail', () => requestPasswordReset({ ...deps, mailer }, email, ip));
    render(req, res, 200, { email, sent: true });
  });
}
