import type { Eta } from 'eta';
import type { Express, Request, RequestHandler, Response } from 'express';
import { AppError } from '../../lib/errors.js';
import type { Mailer } from '../../mail/mailer.js';
import type { SessionDeps } from '../../sessions/sessions.service.js';
import { findPasswordToken, MIN_PASSWORD, usePasswordToken } from '../../users/password-tokens.js';

export interface SetPasswordDeps extends SessionDeps {
  views: Eta;
  clientIp(req: Request): string;
  /** Set when mail is configured: an expired link's page points to "Forgot your password?". */
  mailer: Mailer | undefined;
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');

/**
 * /admin/set-password?token=…: the one-time link of an invitation or a password reset (Team
 * page, mail, `linkqr user reset-password`). Nobody is signed in
 * here; the token itself is the proof (a forged cross-site post cannot know it), so the form
 * needs no CSRF token. Afterwards the user signs in with the new password, from the sign-in
 * page: this page signs nobody in, so a link cannot sign a browser into someone else's account.
 */
export function bindSetPasswordPages(app: Express, deps: SetPasswordDeps, forms: RequestHandler) {
  const render = (res: Response, status: number, data: Record<string, unknown>) => {
    // The page's URL holds a secret: no caching, no Referer to anywhere it links.
    res.setHeader('cache-control', 'no-store');
    res.setHeader('referrer-policy', 'no-referrer');
    res
      .status(status)
      .type('html')
      .send(deps.views.render('pages/set-password', { minLength: MIN_PASSWORD, errors: {}, forgotPassword: deps.mailer !== undefined, ...data }));
  };

  app.get('/admin/set-password', async (req: Request, res: Response) => {
    const token = str(req.query.token);
    const found = await findPasswordToken(deps, token);
    if (!found) return render(res, 410, { invalid: true });
    render(res, 200, { token, email: found.email });
  });

  app.post('/admin/set-password', forms, async (req: Request, res: Response) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const token = str(body.token);
    const password = str(body.password);
    const found = await findPasswordToken(deps, token);
    if (!found) return render(res, 410, { invalid: true });
    const errors: Record<string, string> = {};
    if (password !== str(body.confirm)) errors.confirm = 'The two passwords differ.';
    try {
      if (Object.keys(errors).length === 0) {
        const done = await usePasswordToken(deps, token, password, deps.clientIp(req));
        return render(res, 200, { done: true, email: done.email });
      }
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.status === 410) return render(res, 410, { invalid: true });
      if (err.status !== 400) throw err;
      const message = err.errors?.[0]?.message ?? err.detail;
      errors.password = message.charAt(0).toUpperCase() + message.slice(1) + '.';
    }
    render(res, 422, { token, email: found.email, errors });
  });
}
