import type { Router } from 'express';
import { setFlash, switchWorkspace } from '../../sessions/sessions.service.js';
import { adminOf, redirectTo } from './admin-session.js';
import { HOME, safeAdminPath } from './navigation.js';
import type { RenderDeps } from './render.js';

export type PagesDeps = RenderDeps;

/** The admin pages: / → Links, and the workspace switcher. */
export function bindPages(router: Router, deps: PagesDeps) {
  router.get('/', (_req, res) => res.redirect(303, HOME));

  router.post('/workspace', async (req, res) => {
    const admin = adminOf(res);
    const form = (req.body ?? {}) as { workspace?: unknown; next?: unknown };
    const target = await switchWorkspace(deps, admin.session, admin.memberships, typeof form.workspace === 'string' ? form.workspace : '');
    await setFlash(deps, admin.session, { kind: 'ok', text: `You are now working in ${target.name}.` });
    redirectTo(req, res, safeAdminPath(form.next));
  });
}
