import type { Request, Response, Router } from 'express';
import type { ChangeContext } from '../../audit/audit.js';
import { errors } from '../../lib/errors.js';
import { authorizeInstance } from '../../policy/policy.js';
import { setFlash } from '../../sessions/sessions.service.js';
import { listUsers } from '../../users/users.service.js';
import { listPlans, PLAN_FEATURES, PLAN_LIMITS, setWorkspacePlan } from '../../workspaces/plans.js';
import { findWorkspaceById } from '../../workspaces/workspaces.repo.js';
import { listWorkspaces } from '../../workspaces/workspaces.service.js';
import { adminOf, redirectTo } from './admin-session.js';
import { type RenderDeps, renderAdminPage } from './render.js';

export interface InstanceDeps extends RenderDeps {
  clientIp(req: Request): string;
}

/** Mounted under /admin: routes say `/instance`, redirects the full path. */
const ROUTE = '/instance';
const INSTANCE = '/admin/instance';

const LIMIT_LABELS: Record<string, string> = {
  links: 'Links',
  qrCodes: 'QR codes',
  clicksPerMonth: 'Clicks/mo',
  members: 'Members',
  apiKeys: 'API keys',
  webhookEndpoints: 'Webhooks',
  analyticsRetentionDays: 'Days kept',
};

/**
 * Instance (instance admins only): every user, every workspace with its plan (which can be
 * changed here, audited in that workspace's log), and the plans with their features and limits.
 * The plan change posts to /admin/instance itself, which a user in no workspace can reach.
 */
export function bindInstancePages(router: Router, deps: InstanceDeps) {
  router.get(ROUTE, (req, res) => {
    requireInstanceAdmin(res);
    renderAdminPage(deps, req, res, 'pages/admin/instance', {
      title: 'Instance',
      section: 'instance',
      users: listUsers(deps),
      workspaces: listWorkspaces(deps),
      plans: listPlans(deps.db).map((p) => ({
        ...p,
        features: PLAN_FEATURES.map((f) => ({ name: f, on: p.features[f] !== false })),
        limits: PLAN_LIMITS.map((l) => ({ label: LIMIT_LABELS[l] ?? l, max: (p.limits[l] ?? null) as number | null })),
      })),
      csrf: adminOf(res).session.csrf_token,
    });
  });

  router.post(ROUTE, (req, res) => {
    requireInstanceAdmin(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const workspace = typeof body.workspace === 'string' ? findWorkspaceById(deps.db, body.workspace) : undefined;
    if (!workspace) throw errors.notFound('Workspace');
    const plan = typeof body.plan === 'string' ? body.plan : '';
    setWorkspacePlan(deps.db, changeOf(req, res), workspace.id, plan, deps.clock.now());
    setFlash(deps, adminOf(res).session, { kind: 'ok', text: `${workspace.name} is on the ${plan} plan.` });
    redirectTo(req, res, INSTANCE);
  });

  function requireInstanceAdmin(res: Response) {
    authorizeInstance({ type: 'user', instanceAdmin: adminOf(res).user.instanceAdmin });
  }

  /** Who changes the plan: the signed-in user, even one who belongs to no workspace. */
  function changeOf(req: Request, res: Response): ChangeContext {
    if (res.locals.change) return res.locals.change;
    const { user } = adminOf(res);
    return { actor: { type: 'user', id: user.id, workspaceId: '', role: 'viewer', instanceAdmin: user.instanceAdmin }, ip: deps.clientIp(req) };
  }
}
