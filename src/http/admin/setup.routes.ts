import type { Express, Request, Response } from 'express';
import type { Eta } from 'eta';
import { AppError } from '../../lib/errors.js';
import { completeSetup, type SetupDeps, setupState } from '../../setup/setup.service.js';
import { FIRST_WORKSPACE_NAME, newUserFieldErrors } from '../../users/users.service.js';
import { formBody } from '../middleware/body.js';
import { htmlSecurityHeaders } from '../middleware/html-security.js';
import { setFlash } from '../../sessions/sessions.service.js';
import { signInBrowser } from './admin-session.js';
import { HOME } from './navigation.js';

interface SetupForm {
  token?: string;
  email?: string;
  password?: string;
  confirm?: string;
  workspace?: string;
}

/**
 * GET/POST /setup: the one-time first-run page. Once a user exists, it is gone (404). The new
 * owner is signed in at once, as the sign-in form would (they have just chosen the password).
 */
export function bindSetupPages(app: Express, deps: SetupDeps & { views: Eta; clientIp(req: Request): string }) {
  const render = (res: Response, status: number, page: string, data: object) =>
    res.status(status).type('html').send(deps.views.render(page, data));

  const closedOrGone = (res: Response, state: 'invalid' | 'done') => {
    if (state === 'done') return res.status(404).type('html').send(deps.views.render('pages/status', { code: 404, title: 'Not found', message: 'Setup is complete. Sign in at /admin/login.' }));
    return render(res, 403, 'pages/setup-closed', {});
  };

  app.get('/setup', htmlSecurityHeaders, async (req: Request, res: Response) => {
    const token = typeof req.query.token === 'string' ? req.query.token : undefined;
    const state = await setupState(deps, token);
    if (state !== 'open') return closedOrGone(res, state);
    render(res, 200, 'pages/setup', { token, values: { workspace: FIRST_WORKSPACE_NAME }, errors: {} });
  });

  app.post('/setup', htmlSecurityHeaders, formBody(16 * 1024), async (req: Request, res: Response) => {
    const form = (req.body ?? {}) as SetupForm;
    const state = await setupState(deps, form.token);
    if (state !== 'open') return closedOrGone(res, state);
    const values = { email: form.email ?? '', workspace: form.workspace ?? '' };
    const input = { email: values.email, password: form.password ?? '', workspace: values.workspace };
    const fieldErrors = newUserFieldErrors(input);
    if (input.password !== (form.confirm ?? '')) fieldErrors.confirm = 'does not match the password';
    if (Object.keys(fieldErrors).length > 0) return render(res, 400, 'pages/setup', { token: form.token, values, errors: fieldErrors });
    const ip = deps.clientIp(req);
    let created;
    try {
      created = await completeSetup(deps, form.token, input, ip);
    } catch (e) {
      if (!(e instanceof AppError) || e.status >= 500) throw e;
      if (e.code === 'setup_done') return closedOrGone(res, 'done');
      // Field errors come back beside their fields; the workspace service calls its field "name".
      const errors = Object.fromEntries((e.errors ?? []).map((f) => [f.field === 'name' ? 'workspace' : f.field, f.message]));
      return render(res, 400, 'pages/setup', { token: form.token, values, errors, formError: e.errors ? undefined : e.detail });
    }
    const session = await signInBrowser(deps, req, res, created.user.id, ip);
    await setFlash(deps, session, { kind: 'ok', text: `Your account and the workspace "${created.workspace}" are ready.` });
    res.redirect(303, HOME);
  });
}
