import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { AppError, errors } from '../../lib/errors.js';
import { LoginThrottle } from '../../sessions/login-throttle.js';
import { formBody } from '../middleware/body.js';
import { requireCsrf } from '../middleware/csrf.js';
import { adminSecurityHeaders } from '../middleware/html-security.js';
import { adminOf, resolveAdmin } from './admin-session.js';
import { bindLoginPages, bindLogout, type LoginDeps } from './login.routes.js';
import { HOME } from './navigation.js';
import { bindLinksPages, type LinksPagesDeps } from './links.routes.js';
import { bindLinksBulkPages } from './links-bulk.routes.js';
import { bindPages, type PagesDeps } from './pages.routes.js';
import { type AuditPagesDeps, bindAuditPages } from './audit.routes.js';
import { refusalFor } from './plan-advice.js';
import { renderAdminPage } from './render.js';
import { bindTeamPages, type TeamDeps } from './team.routes.js';
import { bindSettingsPages, type SettingsDeps } from './settings.routes.js';
import { bindImportPages, IMPORT_FORM_BYTES, type ImportPagesDeps } from './imports.routes.js';
import { bindInstancePages, type InstanceDeps } from './instance.routes.js';
import { bindSetPasswordPages } from './set-password.routes.js';
import { bindForgotPasswordPages, type ForgotPasswordDeps } from './forgot-password.routes.js';
import { type AnalyticsPagesDeps, bindAnalyticsPages } from './analytics.routes.js';
import { bindQrLogoPages } from './qr-logo.routes.js';
import { type ApiPagesDeps, bindApiPages } from './api.routes.js';
import { type AccountDeps, bindAccountPages, requireTwoFactorEnrolment } from './account.routes.js';
import { bindTwoFactorSignIn } from './two-factor-login.routes.js';

export type AdminDeps = ImportPagesDeps & LoginDeps & ForgotPasswordDeps & PagesDeps & TeamDeps & SettingsDeps & InstanceDeps & ApiPagesDeps & LinksPagesDeps & AnalyticsPagesDeps & AccountDeps & AuditPagesDeps;

/**
 * /admin: the sign-in page, then everything behind a session. Order matters: security headers
 * on every response, the form body parsed, the session resolved (or a redirect to sign in),
 * the CSRF token checked on every state-changing request, then the pages.
 */
export function bindAdmin(app: Express, deps: AdminDeps) {
  const throttle = new LoginThrottle(deps.clock, deps.db, deps.config.secret);
  const forms = formBody(64 * 1024);
  // The import form carries a whole export file: read only once a session is found (below), so
  // that no one signed out can make the server hold a large body.
  const isImport = (req: Request) => req.method === 'POST' && req.path === '/links/import';
  const importForm = formBody(IMPORT_FORM_BYTES);

  app.use('/admin', adminSecurityHeaders);
  bindLoginPages(app, deps, throttle, forms);
  bindTwoFactorSignIn(app, deps, throttle, forms);
  bindSetPasswordPages(app, deps, forms);
  bindForgotPasswordPages(app, deps, forms);

  const router = express.Router();
  router.use((req, res, next) => (isImport(req) ? next() : forms(req, res, next)));
  router.use(resolveAdmin(deps));
  router.use((req, res, next) => (isImport(req) ? importForm(req, res, next) : next()));
  router.use(requireCsrf((res) => res.locals.admin?.session.csrf_token));
  bindLogout(router, deps);
  // The Account page before the requirements: a user in no workspace, or one who must set up
  // two-factor sign-in first, still reaches it.
  bindAccountPages(router, deps, throttle);
  router.use(requireTwoFactorEnrolment(deps));
  router.use(requireWorkspace(deps));
  bindTeamPages(router, deps);
  bindSettingsPages(router, deps);
  bindInstancePages(router, deps);
  bindApiPages(router, deps);
  // Before the Links pages, whose POST /links/:id would take "bulk" for an id.
  bindLinksBulkPages(router, deps);
  bindImportPages(router, deps);
  bindLinksPages(router, deps);
  bindAnalyticsPages(router, deps);
  bindQrLogoPages(router, deps);
  bindAuditPages(router, deps);
  bindPages(router, deps);
  router.use(() => {
    throw errors.notFound('Page');
  });
  router.use(adminErrors(deps));
  app.use('/admin', router);
}

/** Paths a user who belongs to no workspace can still use. */
const WITHOUT_WORKSPACE = new Set(['/logout', '/instance']);

/** A user in no workspace sees a page that says so (and how to get one), whatever they open. */
function requireWorkspace(deps: AdminDeps) {
  return async (req: Request, res: Response, next: NextFunction) => {
    if (adminOf(res).workspace || WITHOUT_WORKSPACE.has(req.path)) return next();
    await renderAdminPage(deps, req, res, 'pages/admin/no-workspace', { title: 'No workspace yet', status: req.method === 'GET' || req.method === 'HEAD' ? 200 : 403 });
  };
}

/**
 * Refusals (403 role or CSRF, 404, 409 …) as a page inside the layout when someone is signed
 * in; anything else goes on to the app's error handler (logged, 500).
 */
function adminErrors(deps: AdminDeps) {
  return async (err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!(err instanceof AppError) || err.status >= 500 || res.headersSent || !res.locals.admin) return next(err);
    for (const [k, v] of Object.entries(err.headers ?? {})) res.setHeader(k, v);
    const refusal = refusalFor(res, err.detail);
    await renderAdminPage(deps, req, res, 'pages/admin/error', {
      title: err.status === 404 ? 'Not found' : err.title,
      status: err.status,
      code: err.status,
      message: err.status === 404 ? 'There is nothing here. It may have been deleted, or it belongs to another workspace.' : refusal.text,
      changePlan: err.status !== 404 && refusal.changePlan,
      home: HOME,
    });
  };
}
