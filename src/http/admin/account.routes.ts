import type { NextFunction, Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import QRCode from 'qrcode';
import type { ChangeContext } from '../../audit/audit.js';
import type { LoginThrottle } from '../../sessions/login-throttle.js';
import { setFlash } from '../../sessions/sessions.service.js';
import type { InstanceSettings } from '../../settings/instance-settings.js';
import {
  confirmEnrolment,
  disableTwoFactor,
  hasTwoFactor,
  normaliseCode,
  passwordIsRight,
  pendingEnrolment,
  renewRecoveryCodes,
  startEnrolment,
  type TwoFactorDeps,
  twoFactorStatus,
} from '../../users/two-factor.js';
import { adminOf, redirectTo } from './admin-session.js';
import { HOME } from './navigation.js';
import { type RenderDeps, renderAdminPage } from './render.js';
import { CODE_PROBLEMS } from './two-factor-login.routes.js';

export interface AccountDeps extends RenderDeps, TwoFactorDeps {
  log: Logger;
  clientIp(req: Request): string;
  instanceSettings: { get(): InstanceSettings };
}

/** Mounted under /admin: routes say `/account`, redirects the full path. */
const ROUTE = '/account';
const ACCOUNT = '/admin/account';

type FormName = 'confirm' | 'password' | 'disable' | 'renew';

interface PageState {
  status?: number;
  errors?: Partial<Record<FormName, string>>;
  /** Recovery codes just made: shown in this response only. */
  recoveryCodes?: string[];
  notice?: string;
}

/**
 * The signed-in user's own account: two-factor sign-in (TOTP, src/users/two-factor.ts).
 *   GET  /account                                  page: status, the enrolment (QR code and secret) when one was started
 *   POST /account/two-factor/start                 a new secret to scan (starts over an unfinished enrolment)
 *   POST /account/two-factor/confirm               code: on, and the recovery codes shown once
 *   POST /account/two-factor/disable               proof (a code or the password): off
 *   POST /account/two-factor/recovery-codes        code: new recovery codes, shown once, the old ones void
 * Mounted before the workspace and two-factor requirements: anyone signed in reaches it. Wrong
 * codes and passwords count against the account like wrong passwords at sign-in.
 */
export function bindAccountPages(router: Router, deps: AccountDeps, throttle: LoginThrottle) {
  const log = deps.log.child({ component: 'admin' });
  router.get(ROUTE, (req, res) => page(req, res));

  router.post(`${ROUTE}/two-factor/start`, async (req, res) => {
    await startEnrolment(deps, adminOf(res).user);
    redirectTo(req, res, `${ACCOUNT}#two-factor`);
  });

  router.post(`${ROUTE}/two-factor/confirm`, async (req, res) => {
    const { user, session } = adminOf(res);
    const code = field(req, 'code');
    const password = field(req, 'password');
    const missing: PageState['errors'] = {};
    if (normaliseCode(code) === '') missing.confirm = 'Enter the 6-digit code your app shows.';
    if (password === '') missing.password = 'Enter your password: turning this on changes how you sign in.';
    if (Object.keys(missing).length > 0) return page(req, res, { status: 422, errors: missing });
    // The password first, counted as a sign-in attempt: a session alone (left open, or stolen)
    // must not tie the account to someone else's app and lock its owner out.
    const right = await throttled(req, res, 'password', () => passwordIsRight(deps.db, user.id, password), (ok) => ok);
    if (right === undefined) return;
    if (!right) return page(req, res, { status: 422, errors: { password: 'That is not your password.' } });
    // The code is not counted as a sign-in attempt: the secret was shown to this very session a moment ago.
    const done = await confirmEnrolment(deps, changeOf(req, res), user, code);
    if ('problem' in done) {
      if (done.problem === 'not_started') {
        await setFlash(deps, session, { kind: 'error', text: 'That setup is over (finished or started again in another tab). Check the status below.' });
        return redirectTo(req, res, ACCOUNT);
      }
      return page(req, res, { status: 422, errors: { confirm: CODE_PROBLEMS[done.problem] } });
    }
    log.info({ userId: user.id }, 'two-factor sign-in turned on');
    await page(req, res, { recoveryCodes: done.recoveryCodes, notice: 'Two-factor sign-in is on: from now on, signing in asks for a code from your app.' });
  });

  router.post(`${ROUTE}/two-factor/disable`, async (req, res) => {
    const { user, session } = adminOf(res);
    const proof = field(req, 'proof');
    if (proof.trim() === '') return page(req, res, { status: 422, errors: { disable: 'Enter a code from your app, or your password.' } });
    const done = await throttled(req, res, 'disable', () => disableTwoFactor(deps, changeOf(req, res), user, proof), (r) => r.ok);
    if (!done) return;
    if (!done.ok) {
      const error = done.problem === 'used' ? CODE_PROBLEMS.used : 'That is neither the code your app shows now nor your password.';
      return page(req, res, { status: 422, errors: { disable: error } });
    }
    log.info({ userId: user.id }, 'two-factor sign-in turned off');
    await setFlash(deps, session, { kind: 'ok', text: 'Two-factor sign-in is off: your password alone signs you in.' });
    redirectTo(req, res, ACCOUNT);
  });

  router.post(`${ROUTE}/two-factor/recovery-codes`, async (req, res) => {
    const { user } = adminOf(res);
    const code = field(req, 'renew-code');
    if (normaliseCode(code) === '') return page(req, res, { status: 422, errors: { renew: 'Enter the 6-digit code your app shows.' } });
    const done = await throttled(req, res, 'renew', () => renewRecoveryCodes(deps, changeOf(req, res), user, code), (r) => !('problem' in r));
    if (!done) return;
    if ('problem' in done) return page(req, res, { status: 422, errors: { renew: CODE_PROBLEMS[done.problem] } });
    await page(req, res, { recoveryCodes: done.recoveryCodes, notice: 'New recovery codes: the old ones no longer work.' });
  });

  /**
   * Runs a check of a code or password counted as a sign-in attempt: answers its result, or
   * undefined when too many attempts were made (the page, with the wait, is sent already).
   */
  async function throttled<T>(req: Request, res: Response, form: FormName, check: () => Promise<T>, passed: (result: T) => boolean): Promise<T | undefined> {
    const { email } = adminOf(res).user;
    const ip = deps.clientIp(req);
    const { waitMs, at } = await throttle.attempt(email, ip);
    if (waitMs > 0) {
      const minutes = Math.ceil(waitMs / 60_000);
      res.setHeader('retry-after', String(Math.ceil(waitMs / 1000)));
      await page(req, res, { status: 429, errors: { [form]: `Too many attempts. Try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.` } });
      return undefined;
    }
    const result = await check();
    if (passed(result)) await throttle.succeeded(email, ip, at);
    return result;
  }

  async function page(req: Request, res: Response, state: PageState = {}) {
    const { user, session } = adminOf(res);
    const status = await twoFactorStatus(deps.db, user.id);
    const enrolment = status.pending && !state.recoveryCodes ? await pendingEnrolment(deps, user) : undefined;
    await renderAdminPage(deps, req, res, 'pages/admin/account', {
      title: 'Account',
      status: state.status,
      email: user.email,
      twoFactor: status,
      enabledOn: status.enabledAt === null ? null : new Date(status.enabledAt).toISOString().slice(0, 10),
      required: deps.instanceSettings.get().requireTwoFactor,
      enrolment: enrolment && { secret: enrolment.secret, qr: await qrSvg(enrolment.uri) },
      recoveryCodes: state.recoveryCodes,
      notice: state.notice,
      errors: state.errors ?? {},
      home: HOME,
      csrf: session.csrf_token,
    });
  }

  /** Who makes the change: the signed-in user, even one who belongs to no workspace. */
  function changeOf(req: Request, res: Response): ChangeContext {
    if (res.locals.change) return res.locals.change;
    const { user } = adminOf(res);
    return { actor: { type: 'user', id: user.id, workspaceId: '', role: 'viewer', instanceAdmin: user.instanceAdmin }, ip: deps.clientIp(req) };
  }
}

/**
 * When the instance requires two-factor sign-in, a user without it reaches nothing but their
 * Account page (mounted before this) and sign-out until they set it up. Checked on every
 * request rather than at sign-in, so sessions opened before the setting was turned on obey it too.
 */
export function requireTwoFactorEnrolment(deps: AccountDeps) {
  return async (req: Request, res: Response, next: NextFunction) => {
    if (!deps.instanceSettings.get().requireTwoFactor || (await hasTwoFactor(deps.db, adminOf(res).user.id))) return next();
    redirectTo(req, res, ACCOUNT);
  };
}

const field = (req: Request, name: string) => {
  const v = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : '';
};

/** The enrolment QR code, inline SVG: an image fetched from a URL would put the secret in that URL (and its logs). */
async function qrSvg(uri: string): Promise<string> {
  const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return svg.replace('<svg ', '<svg class="totp-qr" role="img" aria-label="QR code to scan with your authenticator app" ');
}
