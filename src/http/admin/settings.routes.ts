import type { Request, Response, Router } from 'express';
import { baseHostname } from '../../links/link-presenter.js';
import { recordAudit } from '../../audit/audit.js';
import { createDomainBody, domainIdOf as domainId, updateDomainBody } from '../../domains/domains.schema.js';
import { createDomain, deleteDomain, type DomainDeps, listDomains, updateDomain, verifyDomain } from '../../domains/domains.service.js';
import { AppError } from '../../lib/errors.js';
import { parseInput } from '../middleware/validate.js';
import { allows, authorize } from '../../policy/policy.js';
import { setFlash } from '../../sessions/sessions.service.js';
import type { PlanFeature } from '../../workspaces/plan-catalog.js';
import { workspaceUsage } from '../../workspaces/usage.js';
import { renameWorkspace } from '../../workspaces/workspaces.service.js';
import { adminOf, isHtmx, redirectTo, workspaceOf } from './admin-session.js';
import { refusalFor } from './plan-advice.js';
import { FEATURE_LABELS, LIMIT_LABELS } from './plan-labels.js';
import { type RenderDeps, renderAdminPage } from './render.js';

export interface SettingsDeps extends RenderDeps, DomainDeps {
  instanceSettings: { reload(): void | Promise<void> };
}

const DOMAIN_FIELDS = ['hostname', 'rootRedirect', 'notFoundRedirect'] as const;
type DomainField = (typeof DOMAIN_FIELDS)[number];
interface DomainForm {
  values: Record<DomainField, string>;
  errors: Partial<Record<DomainField | 'form', string>>;
  /** `errors.form` is a plan's refusal and the user an instance admin: it links to the plans. */
  changePlan?: boolean;
}
/** A domain's edit form as sent, with its errors. */
type DomainEdit = DomainForm & { id: string };

const EMPTY_DOMAIN_FORM: DomainForm = { values: { hostname: '', rootRedirect: '', notFoundRedirect: '' }, errors: {} };

const sentence = (s: string) => s.charAt(0).toUpperCase() + s.slice(1) + (s.endsWith('.') ? '' : '.');

/** The service's refusal beside the fields it names (else above the form); anything else is not the form's business. */
function domainFormErrors(e: unknown): DomainForm['errors'] {
  if (!(e instanceof AppError) || e.status >= 500 || e.status === 401 || e.code === 'insufficient_role' || e.code === 'not_found') throw e;
  const out: DomainForm['errors'] = {};
  for (const fe of e.errors ?? []) {
    const field = (DOMAIN_FIELDS as readonly string[]).includes(fe.field) ? (fe.field as DomainField) : 'form';
    out[field] ??= sentence(fe.message);
  }
  if (Object.keys(out).length === 0) out.form = e.detail;
  return out;
}



/** Mounted under /admin: routes say `/settings`, redirects the full path. */
const ROUTE = '/settings';
const SETTINGS = '/admin/settings';

/** The countable limits, shown as meters in this order. */
const METERS = (['links', 'domains', 'qrCodes', 'clicksPerMonth', 'members', 'apiKeys', 'webhookEndpoints'] as const).map((key) => ({
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

  // Domains: plain form posts (the page comes back with the errors beside the fields), so they work without JavaScript.
  const text = (body: unknown, field: string) => {
    const v = (body as Record<string, unknown> | undefined)?.[field];
    return typeof v === 'string' ? v : '';
  };

  router.post(`${ROUTE}/domains`, async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'domains.manage');
    const values = { hostname: text(req.body, 'hostname'), rootRedirect: text(req.body, 'rootRedirect'), notFoundRedirect: text(req.body, 'notFoundRedirect') };
    try {
      const input = parseInput(createDomainBody, {
        hostname: values.hostname,
        rootRedirect: values.rootRedirect.trim() || undefined,
        notFoundRedirect: values.notFoundRedirect.trim() || undefined,
      }, 'body');
      const domain = await createDomain(deps, workspace.workspaceId, res.locals.change!, input);
      await setFlash(deps, adminOf(res).session, { kind: 'ok', text: `Added ${domain.hostname}: add its TXT record (below), then check it.` });
      return redirectTo(req, res, `${SETTINGS}#domains`);
    } catch (e) {
      const errors = domainFormErrors(e);
      const refusal = errors.form === undefined ? undefined : refusalFor(res, errors.form);
      if (refusal) errors.form = refusal.text;
      await page(req, res, { domainForm: { values, errors, changePlan: refusal?.changePlan }, status: 422 });
    }
  });

  router.post(`${ROUTE}/domains/:id`, async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'domains.manage');
    const id = domainId(req.params.id);
    const values = { hostname: '', rootRedirect: text(req.body, `rootRedirect-${id}`), notFoundRedirect: text(req.body, `notFoundRedirect-${id}`) };
    try {
      const input = parseInput(updateDomainBody, { rootRedirect: values.rootRedirect.trim() || null, notFoundRedirect: values.notFoundRedirect.trim() || null }, 'body');
      const domain = await updateDomain(deps, workspace.workspaceId, res.locals.change!, id, input);
      await setFlash(deps, adminOf(res).session, { kind: 'ok', text: `Saved ${domain.hostname}.` });
      return redirectTo(req, res, `${SETTINGS}#domains`);
    } catch (e) {
      await page(req, res, { domainEdit: { id, values, errors: domainFormErrors(e) }, status: 422 });
    }
  });

  router.post(`${ROUTE}/domains/:id/verify`, async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'domains.manage');
    try {
      const domain = await verifyDomain(deps, workspace.workspaceId, res.locals.change!, domainId(req.params.id));
      await setFlash(deps, adminOf(res).session, { kind: 'ok', text: `${domain.hostname} is verified: its links redirect once its DNS points here.` });
    } catch (e) {
      if (!(e instanceof AppError) || e.code !== 'domain_not_verified') throw e;
      await setFlash(deps, adminOf(res).session, { kind: 'error', text: e.detail });
    }
    redirectTo(req, res, `${SETTINGS}#domains`);
  });

  router.post(`${ROUTE}/domains/:id/delete`, async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'domains.manage');
    try {
      await deleteDomain(deps, workspace.workspaceId, res.locals.change!, domainId(req.params.id));
      await setFlash(deps, adminOf(res).session, { kind: 'ok', text: 'Domain removed.' });
    } catch (e) {
      if (!(e instanceof AppError) || e.code !== 'domain_in_use') throw e;
      await setFlash(deps, adminOf(res).session, { kind: 'error', text: e.detail });
    }
    redirectTo(req, res, `${SETTINGS}#domains`);
  });

  function nameFormData(res: Response, form: RenameForm) {
    const { actor } = workspaceOf(res);
    return { ...form, canRename: allows(actor, 'workspace.settings'), csrf: adminOf(res).session.csrf_token };
  }

  async function page(req: Request, res: Response, opts: { form?: RenameForm; domainForm?: DomainForm; domainEdit?: DomainEdit; status?: number } = {}) {
    const { workspace, actor } = workspaceOf(res);
    const [usage, domains] = await Promise.all([
      workspaceUsage(deps.db, workspace.workspaceId, deps.clock.now()),
      // Few per workspace: the plan's limit, or what a team manages by hand.
      listDomains(deps, workspace.workspaceId, { limit: 100 }),
    ]);
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
      domains: {
        domains: domains.data,
        baseHost: baseHostname(deps.baseUrl()),
        canManage: allows(actor, 'domains.manage'),
        form: opts.domainForm ?? EMPTY_DOMAIN_FORM,
        editing: opts.domainEdit,
        csrf: adminOf(res).session.csrf_token,
      },
      csrf: adminOf(res).session.csrf_token,
    });
  }
}
