import type { Eta } from 'eta';
import type { Request, Response } from 'express';
import { allows } from '../../policy/policy.js';
import { type Flash, type SessionDeps, takeFlash } from '../../sessions/sessions.service.js';
import { type AdminContext, adminOf, isHtmx } from './admin-session.js';
import { NAV, type NavItem, type Section } from './navigation.js';

export interface RenderDeps extends SessionDeps {
  views: Eta;
}

/** What the admin layout (views/layouts/admin.eta) draws around every page. */
export interface Shell {
  user: AdminContext['user'];
  memberships: AdminContext['memberships'];
  workspace: AdminContext['workspace'];
  csrfToken: string;
  nav: (NavItem & { current: boolean })[];
  /** Where the workspace switcher returns to: the current section's first page. */
  sectionHref: string;
  flash: Flash | undefined;
}

/** The sidebar entries this user may open, the current one marked. */
function navFor(admin: AdminContext, section: Section | undefined): Shell['nav'] {
  const actor = admin.workspace && {
    type: 'user' as const,
    id: admin.user.id,
    workspaceId: admin.workspace.workspaceId,
    role: admin.workspace.role,
    instanceAdmin: admin.user.instanceAdmin,
  };
  return NAV.filter((item) => {
    if (item.instanceAdminOnly) return admin.user.instanceAdmin;
    if (!actor) return false;
    return item.action === undefined || allows(actor, item.action);
  }).map((item) => ({ ...item, current: item.section === section }));
}

export async function shellOf(deps: RenderDeps, req: Request, res: Response, section: Section | undefined): Promise<Shell> {
  const admin = adminOf(res);
  const nav = navFor(admin, section);
  return {
    user: admin.user,
    memberships: admin.memberships,
    workspace: admin.workspace,
    csrfToken: admin.session.csrf_token,
    nav,
    sectionHref: nav.find((n) => n.current)?.href ?? '/admin',
    // A fragment swapped in by htmx has nowhere to show it: the next full page does.
    flash: isHtmx(req) ? undefined : await takeFlash(deps, admin.session),
  };
}

/** A page inside the admin layout. `data.title` names it; `section` marks the sidebar entry. */
export async function renderAdminPage(
  deps: RenderDeps,
  req: Request,
  res: Response,
  page: string,
  data: { title: string; section?: Section; status?: number } & Record<string, unknown>,
): Promise<void> {
  const shell = await shellOf(deps, req, res, data.section);
  res
    .status(data.status ?? 200)
    .type('html')
    .send(deps.views.render(page, { ...data, shell }));
}
