import type { Eta } from 'eta';
import type { Express } from 'express';
import { htmlSecurityHeaders } from '../middleware/html-security.js';

/** GET /admin/login. Signing in (sessions, CSRF, throttling) comes with the admin UI. */
export function bindLoginPage(app: Express, deps: { views: Eta }) {
  app.get('/admin/login', htmlSecurityHeaders, (req, res) => {
    const notice = req.query.setup === 'done' ? 'Your account and workspace are ready. Sign in to continue.' : undefined;
    res.type('html').send(deps.views.render('pages/login', { notice, values: {}, errors: {} }));
  });
}
