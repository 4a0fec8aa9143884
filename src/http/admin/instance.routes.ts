import type { Config } from '../../config.js';
import type { Request, Response, Router } from 'express';
import type { ChangeContext } from '../../audit/audit.js';
import { listUnverifiedClaims, releaseDomainClaim, type ReleaseDeps } from '../../domains/domain-claims.js';
import { AppError, errors } from '../../lib/errors.js';
import { authorizeInstance } from '../../policy/policy.js';
import { setFlash } from '../../sessions/sessions.service.js';
import type { InstanceSettingsStore } from '../../settings/instance-settings.js';
import { listUsers } from '../../users/users.service.js';
import { resetTwoFactor, type TwoFactorDeps, usersWithTwoFactor } from '../../users/two-factor.js';
import { PLAN_FEATURES, PLAN_LIMIT_MIN, PLAN_LIMITS, type PlanFeature, type PlanLimit } from '../../workspaces/plan-catalog.js';
import { listPlans, planNameProblem, type PlanDefinition, setWorkspacePlan, upsertPlan } from '../../workspaces/plans.js';
import { findWorkspaceById } from '../../workspaces/workspaces.repo.js';
import { listWorkspaces } from '../../workspaces/workspaces.service.js';
import { adminOf, isHtmx, redirectTo } from './admin-session.js';
import { FEATURE_LABELS, LIMIT_LABELS } from './plan-labels.js';
import { type RenderDeps, renderAdminPage } from './render.js';

export interface InstanceDeps extends RenderDeps, TwoFactorDeps, ReleaseDeps {
  clientIp(req: Request): string;
  instanceSettings: InstanceSettingsStore;
  config: Pick<Config, 'apiRateLimit'>;
}

/** Mounted under /admin: routes say `/instance`, redirects the full path. */
const ROUTE = '/instance';
const INSTANCE = '/admin/instance';

const MAX_LIMIT_DIGITS = 12;

type PlanField = 'name' | PlanLimit | 'form';

/** The plan form as typed, and a message beside each field the server refused. */
interface PlanFormState {
  /** The plan being changed; undefined while creating one. */
  plan?: string | undefined;
  values: { name: string; features: PlanFeature[]; limits: Record<PlanLimit, string> };
  errors: Partial<Record<PlanField, string>>;
}

type Plan = Awaited<ReturnType<typeof listPlans>>[number];

/**
 * Instance (instance admins only): every user; every workspace with its plan (changed from its
 * row, audited in that workspace's log); the domains workspaces added and never verified, each
 * released from its row; the plans, created and edited here; and the settings of the whole
 * instance. Everything posts to /admin/instance itself, the one instance path a user
 * in no workspace can reach, and the form's `intent` field says which change it is.
 *   GET  /instance              page
 *   GET  /instance?edit=PLAN    fragment: partials/admin/instance/plan-edit (in the dialog), or the page with the form
 *   POST /instance  intent=workspace-plan   a workspace moves to a plan
 *   POST /instance  intent=plan.create      fragment with errors: partials/admin/instance/plan-create
 *   POST /instance  intent=plan.update      fragment with errors: partials/admin/instance/plan-edit
 *   POST /instance  intent=settings         instance settings
 *   POST /instance  intent=two-factor-reset a user's two-factor sign-in turned off (a lost device)
 *   POST /instance  intent=domain-release   an unverified domain removed with its links, so another workspace can add the name
 * A change that is saved redirects to the page, which shows a flash.
 */
export function bindInstancePages(router: Router, deps: InstanceDeps) {
  router.get(ROUTE, async (req, res) => {
    requireInstanceAdmin(res);
    const editing = text(req.query.edit);
    if (!editing) return page(req, res);
    const form = formOfPlan(await requirePlan(editing));
    if (isHtmx(req)) return renderFragment(res, 'partials/admin/instance/plan-edit', form);
    await page(req, res, { edit: form });
  });

  router.post(ROUTE, async (req, res) => {
    requireInstanceAdmin(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    switch (body.intent) {
      case 'workspace-plan':
        return moveWorkspace(req, res, body);
      case 'plan.create':
      case 'plan.update':
        return savePlan(req, res, body, body.intent);
      case 'settings':
        return saveSettings(req, res, body);
      case 'two-factor-reset':
        return resetUserTwoFactor(req, res, body);
      case 'domain-release':
        return releaseClaim(req, res, body);
      default:
        throw errors.badRequest('unknown_intent', 'This form is not one the Instance page knows.');
    }
  });

  async function moveWorkspace(req: Request, res: Response, body: Record<string, unknown>) {
    const workspace = typeof body.workspace === 'string' ? await findWorkspaceById(deps.db, body.workspace) : undefined;
    if (!workspace) throw errors.notFound('Workspace');
    const plan = text(body.plan);
    await setWorkspacePlan(deps.db, changeOf(req, res), workspace.id, plan, deps.clock.now());
    await setFlash(deps, adminOf(res).session, { kind: 'ok', text: `${workspace.name} is on the ${plan} plan.` });
    redirectTo(req, res, INSTANCE);
  }

  async function savePlan(req: Request, res: Response, body: Record<string, unknown>, intent: 'plan.create' | 'plan.update') {
    const existing = intent === 'plan.update' ? await requirePlan(text(body.name)) : undefined;
    const form = formFromBody(body, existing?.name);
    const change = parsePlanForm(form);
    if (!existing && !form.errors.name) {
      const taken = (await listPlans(deps.db)).find((p) => sameName(p.name, form.values.name.trim()));
      if (taken) form.errors.name = `The plan ${taken.name} exists already: edit it in the table.`;
    }
    if (Object.keys(form.errors).length > 0) {
      if (isHtmx(req)) return renderFragment(res, existing ? 'partials/admin/instance/plan-edit' : 'partials/admin/instance/plan-create', form, 422);
      return page(req, res, { status: 422, ...(existing ? { edit: form } : { create: form }) });
    }
    const name = existing?.name ?? form.values.name.trim();
    let flash = existing ? `Saved the ${name} plan.` : `Created the ${name} plan.`;
    // Saving an untouched form writes nothing, so the audit log only holds real changes.
    if (existing && isSameDefinition(existing, change)) flash = `Nothing changed in the ${name} plan.`;
    else await upsertPlan(deps.db, changeOf(req, res), name, change, deps.clock.now());
    await setFlash(deps, adminOf(res).session, { kind: 'ok', text: flash });
    redirectTo(req, res, INSTANCE);
  }

  async function saveSettings(req: Request, res: Response, body: Record<string, unknown>) {
    const keepUserAgents = body.keepUserAgents === 'on';
    const requireTwoFactor = body.requireTwoFactor === 'on';
    const before = deps.instanceSettings.get();
    await deps.instanceSettings.update(changeOf(req, res), { keepUserAgents, requireTwoFactor }, deps.clock.now());
    const said: string[] = [];
    if (before.keepUserAgents !== keepUserAgents) said.push(keepUserAgents ? 'New clicks keep their raw user agent from now on.' : 'New clicks no longer keep their raw user agent.');
    if (before.requireTwoFactor !== requireTwoFactor) {
      said.push(requireTwoFactor ? 'Every user must now sign in with two-factor authentication.' : 'Two-factor sign-in is no longer required.');
    }
    const text = said.length === 0 ? 'Nothing changed in the instance settings.' : said.join(' ');
    await setFlash(deps, adminOf(res).session, { kind: 'ok', text });
    redirectTo(req, res, INSTANCE);
  }

  /** A user lost their authenticator and their recovery codes: they sign in with their password alone, and may set it up again. */
  async function resetUserTwoFactor(req: Request, res: Response, body: Record<string, unknown>) {
    const { email } = await resetTwoFactor(deps, changeOf(req, res), text(body.user));
    await setFlash(deps, adminOf(res).session, { kind: 'ok', text: `Two-factor sign-in is off for ${email}: they sign in with their password, and can set it up again on their Account page.` });
    redirectTo(req, res, INSTANCE);
  }

  /** Refused (verified meanwhile, released already): said on the page, as the outcome is. */
  async function releaseClaim(req: Request, res: Response, body: Record<string, unknown>) {
    let flash: { kind: 'ok' | 'error'; text: string };
    try {
      const released = await releaseDomainClaim(deps, changeOf(req, res), text(body.hostname));
      const links = released.linksRemoved === 1 ? '1 link' : `${released.linksRemoved} links`;
      flash = { kind: 'ok', text: `Released ${released.hostname}: the unverified domain of ${released.workspace} and its ${links} are removed; any workspace can add it now.` };
    } catch (e) {
      if (!(e instanceof AppError) || e.status === 403 || e.status >= 500) throw e;
      flash = { kind: 'error', text: e.detail };
    }
    await setFlash(deps, adminOf(res).session, flash);
    redirectTo(req, res, INSTANCE);
  }

  async function page(req: Request, res: Response, opts: { status?: number; create?: PlanFormState; edit?: PlanFormState } = {}) {
    const [users, workspaces, plans, twoFactor, claims] = await Promise.all([
      listUsers(deps),
      listWorkspaces(deps),
      listPlans(deps.db),
      usersWithTwoFactor(deps.db),
      listUnverifiedClaims(deps.db),
    ]);
    await renderAdminPage(deps, req, res, 'pages/admin/instance', {
      title: 'Instance',
      section: 'instance',
      status: opts.status,
      users: users.map((u) => ({ ...u, twoFactor: twoFactor.has(u.id) })),
      workspaces,
      claims,
      plans: plans.map((p) => ({
        ...p,
        editUrl: `${INSTANCE}?${new URLSearchParams({ edit: p.name })}`,
        features: PLAN_FEATURES.map((f) => ({ name: f, on: p.features[f] !== false })),
        limits: PLAN_LIMITS.map((l) => ({
          label: LIMIT_LABELS[l].column,
          max: (p.limits[l] ?? null) as number | null,
          // Without a plan value the API rate limit is the instance's (LINKQR_API_RATE_LIMIT); 0 is unlimited.
          unset: l === 'apiRequestsPerMinute' ? `${rateLimitText(deps.config.apiRateLimit)} (instance)` : '∞',
          zero: l === 'apiRequestsPerMinute' ? '∞' : '0',
        })),
      })),
      planCreate: formData(opts.create ?? emptyForm()),
      planEdit: opts.edit && formData(opts.edit),
      settings: deps.instanceSettings.get(),
      csrf: adminOf(res).session.csrf_token,
    });
  }

  /** What the plan form partials need besides the form itself. */
  function formData(form: PlanFormState) {
    return {
      form,
      features: PLAN_FEATURES.map((f) => ({ name: f, label: FEATURE_LABELS[f] })),
      limits: PLAN_LIMITS.map((l) => ({
        name: l,
        label: LIMIT_LABELS[l].field,
        min: PLAN_LIMIT_MIN[l] ?? 0,
        placeholder: l === 'apiRequestsPerMinute' ? `Instance: ${rateLimitText(deps.config.apiRateLimit)}` : 'No limit',
      })),
    };
  }

  function renderFragment(res: Response, partial: string, form: PlanFormState, status = 200) {
    const html = deps.views.render(partial, { ...formData(form), csrf: adminOf(res).session.csrf_token });
    res.status(status).type('html').send(html);
  }

  async function requirePlan(name: string): Promise<Plan> {
    const plan = (await listPlans(deps.db)).find((p) => p.name === name);
    if (!plan) throw errors.notFound(`Plan "${name}"`);
    return plan;
  }

  function requireInstanceAdmin(res: Response) {
    authorizeInstance({ type: 'user', instanceAdmin: adminOf(res).user.instanceAdmin });
  }

  /** Who makes the change: the signed-in user, even one who belongs to no workspace. */
  function changeOf(req: Request, res: Response): ChangeContext {
    if (res.locals.change) return res.locals.change;
    const { user } = adminOf(res);
    return { actor: { type: 'user', id: user.id, workspaceId: '', role: 'viewer', instanceAdmin: user.instanceAdmin }, ip: deps.clientIp(req) };
  }
}

const text = (v: unknown) => (typeof v === 'string' ? v : '');

/** Plan names compare as SQLite's NOCASE does: ASCII letters only. */
const sameName = (a: string, b: string) => a.replace(/[A-Z]/g, (c) => c.toLowerCase()) === b.replace(/[A-Z]/g, (c) => c.toLowerCase());

function emptyForm(): PlanFormState {
  return {
    values: { name: '', features: [...PLAN_FEATURES], limits: Object.fromEntries(PLAN_LIMITS.map((l) => [l, ''])) as Record<PlanLimit, string> },
    errors: {},
  };
}

/** A plan as the edit form shows it: a blank limit is no limit. */
function formOfPlan(plan: Plan): PlanFormState {
  const limits = Object.fromEntries(PLAN_LIMITS.map((l) => [l, plan.limits[l] === undefined ? '' : String(plan.limits[l])])) as Record<PlanLimit, string>;
  return { plan: plan.name, values: { name: plan.name, features: PLAN_FEATURES.filter((f) => plan.features[f] !== false), limits }, errors: {} };
}

/** The posted form as typed; an unchecked feature is simply absent from the body. */
function formFromBody(body: Record<string, unknown>, plan: string | undefined): PlanFormState {
  const checked = ([] as unknown[]).concat(body.features ?? []);
  const features = PLAN_FEATURES.filter((f) => checked.includes(f));
  const limits = Object.fromEntries(PLAN_LIMITS.map((l) => [l, text(body[l])])) as Record<PlanLimit, string>;
  return { plan, values: { name: plan ?? text(body.name), features, limits }, errors: {} };
}

/** The form as a plan change: every feature on or off, every limit a number or null (none). Errors go into `form.errors`. */
function parsePlanForm(form: PlanFormState): PlanDefinition {
  const { values, errors } = form;
  if (form.plan === undefined) {
    const problem = planNameProblem(values.name.trim());
    if (problem) errors.name = `${problem.charAt(0).toUpperCase()}${problem.slice(1)}.`;
  }
  const features = Object.fromEntries(PLAN_FEATURES.map((f) => [f, values.features.includes(f)]));
  const limits: PlanDefinition['limits'] = {};
  for (const l of PLAN_LIMITS) {
    const raw = values.limits[l].trim();
    const min = PLAN_LIMIT_MIN[l] ?? 0;
    if (raw === '') limits[l] = null;
    else if (/^-\d+$/.test(raw)) errors[l] = `Must be ${min} or more.`;
    else if (!/^\d+$/.test(raw)) errors[l] = 'Must be a whole number, or blank for no limit.';
    else if (raw.replace(/^0+(?=\d)/, '').length > MAX_LIMIT_DIGITS) errors[l] = `Must be at most ${MAX_LIMIT_DIGITS} digits long.`;
    else if (Number(raw) < min) errors[l] = `Must be ${min} or more.`;
    else limits[l] = Number(raw);
  }
  return { features, limits };
}

function isSameDefinition(plan: Plan, change: PlanDefinition): boolean {
  const featuresSame = PLAN_FEATURES.every((f) => (plan.features[f] !== false) === change.features[f]);
  const limitsSame = PLAN_LIMITS.every((l) => (plan.limits[l] ?? null) === (change.limits[l] ?? null));
  return featuresSame && limitsSame;
}

const rateLimitText = (perMinute: number) => (perMinute === 0 ? 'unlimited' : perMinute.toLocaleString('en-US'));
