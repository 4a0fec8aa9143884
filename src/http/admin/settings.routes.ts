import type { Request, Response, Router } from 'express';
import { recordAudit } from '../../audit/audit.js';
import { AppError } from '../../lib/errors.js';
import { allows, authorize } from '../../policy/policy.js';
import { setFlash } from '../../sessions/sessions.service.js';
import type { PlanFeature } from '../../workspaces/plan-catalog.js';
import { workspaceUsage } from '../../workspaces/usage.js';
import { renameWorkspace } from '../../workspaces/workspaces.service.js';
import { adminOf, isHtmx, redirectTo, workspaceOf } from './admin-session.js';
import { FEATURE_LABELS, LIMIT_LABELS } from './plan-labels.js';
import { type RenderDeps, renderAdminPage } from './render.js';

export interface SettingsDeps extends RenderDeps {
  instanceSettings: { reload(): void | Promise<void> };
}

/** Mounted under /admin: routes say `/settings`, redirects the full path. */
const ROUTE = '/settings';
const SETTINGS = '/admin/settings';

/** The countable limits, shown as meters in this order. */
const METERS = (['links', 'qrCodes', 'clicksPerMonth', 'members', 'apiKeys', 'webhookEndpoints'] as const).map((key) => ({
  key,
  label: LIMIT_LABELS[key].meter ?? LIMIT_LABELS[key].field,
}));

interface RenameForm {
  value: string;
  error?: string;
  notice?: string;
}

/**
 * Settings: the workspace's name (owners rename it), its plan with features, usage against
 * every limit as meters, and "Clear caches" (owners and admins). Fragment: the name form
 * (#workspace-name).
 */
export function bindSettingsPages(router: Router, deps: SettingsDeps) {
  router.get(ROUTE, (req, res) => page(req, res));

  router.post(`${ROUTE}/name`, async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'workspace.settings');
    const value = typeof req.body?.name === 'string' ? (req.body.name as string) : '';
    const form: RenameForm = { value };
    try {
      const row = await renameWorkspace(deps, res.locals.change!, workspace.workspaceId, value);
      const text = row.name === workspace.name ? 'The name is unchanged.' : `The workspace is now called ${row.name}.`;
      // The sidebar and the title show the name too: a full page shows it everywhere.
      await setFlash(deps, adminOf(res).session, { kind: 'ok', text });
      return redirectTo(req, res, SETTINGS);
    } catch (err) {
      if (!(err instanceof AppError) || !(err.status === 400 || err.code === 'workspace_exists')) throw err;
      form.error = err.errors?.[0]?.message ?? err.detail;
    }
    const message = form.error!;
    form.error = message.charAt(0).toUpperCase() + message.slice(1) + (message.endsWith('.') ? '' : '.');
    if (isHtmx(req)) return res.status(422).type('html').send(deps.views.render('partials/admin/settings/name-form', nameFormData(res, form)));
    await page(req, res, { form, status: 422 });
  });

  router.post(`${ROUTE}/clear-caches`, async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'keys.manage');
    // Every instance on the database clears them (this one at once).
    deps.db.changes.publish({ kind: 'caches' });
    await deps.instanceSettings.reload();
    await recordAudit(deps.db, res.locals.change!, { workspaceId: workspace.workspaceId, action: 'settings.clear_caches', targetType: 'instance', targetId: null, summary: { caches: ['redirects', 'api_keys', 'instance_settings'] }, at: deps.clock.now() });
    await setFlash(deps, adminOf(res).session, { kind: 'ok', text: 'Caches cleared: the next redirects and API calls read the database again.' });
    redirectTo(req, res, SETTINGS);
  });

  function nameFormData(res: Response, form: RenameForm) {
    const { actor } = workspaceOf(res);
    return { ...form, canRename: allows(actor, 'workspace.settings'), csrf: adminOf(res).session.csrf_token };
  }

  async function page(req: Request, res: Response, opts: { form?: RenameForm; status?: number } = {}) {
    const { workspace, actor } = workspaceOf(res);
    const usage = await workspaceUsage(deps.db, workspace.workspaceId, deps.clock.now());
    const meters = METERS.map(({ key, label }) => {
      const limit = usage.limits[key];
      const overage = 'overage' in limit ? limit.overage : 0;
      const percent = limit.max === null ? 0 : limit.max === 0 ? 100 : Math.min(100, Math.round((limit.used / limit.max) * 100));
      return {
        key,
        label,
        used: limit.used,
        max: limit.max,
        overage,
        percent,
        level: limit.max === null ? 'unlimited' : overage > 0 || limit.used >= limit.max ? 'full' : percent >= 75 ? 'near' : 'ok',
      };
    });
    await renderAdminPage(deps, req, res, 'pages/admin/settings', {
      title: 'Settings',
      section: 'settings',
      status: opts.status,
      workspaceName: workspace.name,
      nameForm: nameFormData(res, opts.form ?? { value: workspace.name }),
      plan: usage.plan,
      period: usage.period,
      features: Object.entries(usage.features).map(([f, on]) => ({ label: FEATURE_LABELS[f as PlanFeature] ?? f, on })),
      retentionDays: usage.limits.analyticsRetentionDays.max,
      meters,
      canClearCaches: allows(actor, 'keys.manage'),
      csrf: adminOf(res).session.csrf_token,
    });
  }
}
