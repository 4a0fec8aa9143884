import type { Queries } from '../db/db.js';
import { type ChangeContext, recordAudit } from '../audit/audit.js';
import { AppError, errors } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { PLAN_FEATURES, type PlanFeature, type PlanLimit } from './plan-catalog.js';
import { caseless, equalsCaseless } from '../db/dialect-sql.js';

export interface WorkspacePlan {
  name: string;
  features: Partial<Record<PlanFeature, boolean>>;
  limits: Partial<Record<PlanLimit, number>>;
}

export async function planOfWorkspace(db: Queries, workspaceId: string): Promise<WorkspacePlan> {
  const row = (await db.row<{ name: string; features: string; limits: string }>(
    'select p.name, p.features, p.limits from plans p join workspaces w on w.plan_id = p.id where w.id = ?',
    workspaceId,
  ))!;
  return { name: row.name, features: JSON.parse(row.features), limits: JSON.parse(row.limits) };
}

export async function requirePlanFeature(db: Queries, workspaceId: string, feature: PlanFeature): Promise<void> {
  requireFeatureOf(await planOfWorkspace(db, workspaceId), feature);
}

/** requirePlanFeature for a plan already read (the API key's, read with the key). */
export function requireFeatureOf(plan: WorkspacePlan, feature: PlanFeature): void {
  if (plan.features[feature] === false) {
    throw new AppError(403, 'plan_feature_disabled', 'Forbidden', `The "${plan.name}" plan of this workspace does not include ${feature}.`, undefined, undefined, {
      feature,
      plan: plan.name,
    });
  }
}

/** How a plan's refusal ends: what to do about it (the admin UI offers an instance admin the Instance page instead). */
export const ASK_FOR_A_LARGER_PLAN = 'Ask the instance admin for a larger plan.';

/**
 * Refuses one more item when the plan's limit is reached. Call with the handle of the write
 * transaction that adds the item (and count `usage` through it too), so concurrent requests
 * cannot both pass. `usage` is only counted when the plan has that limit.
 */
export async function requireWithinPlanLimit(
  db: Queries,
  workspaceId: string,
  limit: PlanLimit,
  usage: () => number | Promise<number>,
): Promise<void> {
  let plan = await planOfWorkspace(db, workspaceId);
  if (plan.limits[limit] === undefined) return;
  // On PostgreSQL transactions run side by side: two creates could each count 1 of 2 and both
  // insert. Locking the workspace's row makes the checks of one workspace take turns (until each
  // transaction ends), and the plan is read again after it; other workspaces are not held up, nor
  // inserts that only reference the workspace (NO KEY UPDATE). Only under a limit: the creates of
  // a workspace whose plan has none run side by side (taking turns, one instance created 510
  // links/s here; side by side, 710-756). SQLite runs one transaction at a time.
  if (db.dialect === 'postgres') {
    await db.row('select 1 from workspaces where id = ? for no key update', workspaceId);
    plan = await planOfWorkspace(db, workspaceId);
  }
  const max = plan.limits[limit];
  if (max === undefined) return;
  const used = await usage();
  if (used >= max) {
    throw new AppError(
      403,
      'plan_limit_reached',
      'Forbidden',
      `The "${plan.name}" plan allows ${max} ${limit}; this workspace has ${used}. ${ASK_FOR_A_LARGER_PLAN}`,
      undefined,
      undefined,
      { limit, plan: plan.name, usage: used, max },
    );
  }
}

/** Why a plan name cannot be used (after trimming), or undefined when it can. */
export function planNameProblem(name: string): string | undefined {
  if (name === '') return 'must not be empty';
  if (name.length > 64) return 'must be at most 64 characters';
  if (/[\x00-\x1f\x7f]/.test(name)) return 'must not contain control characters';
  return undefined;
}

export interface PlanDefinition {
  features: Partial<Record<PlanFeature, boolean>>;
  /** null removes a limit. */
  limits: Partial<Record<PlanLimit, number | null>>;
}

/**
 * Creates or changes a plan by name. Features not named stay as they were (a new plan has
 * every feature on); limits not named stay; a null limit is removed (unlimited).
 */
export async function upsertPlan(db: Queries, ctx: ChangeContext, name: string, change: PlanDefinition, now: number) {
  return db.tx(async (t) => {
    // Names compare case-insensitively (COLLATE NOCASE): "growth" changes the plan "Growth".
    const existing = await t.row<{ id: string; name: string; features: string; limits: string }>(
      `select id, name, features, limits from plans where ${equalsCaseless(t.dialect, 'name')}`,
      name,
    );
    if (existing) name = existing.name;
    const features: Record<string, boolean> = existing
      ? JSON.parse(existing.features)
      : Object.fromEntries(PLAN_FEATURES.map((f) => [f, true]));
    const limits: Record<string, number> = existing ? JSON.parse(existing.limits) : {};
    Object.assign(features, change.features);
    for (const [k, v] of Object.entries(change.limits)) {
      if (v === null) delete limits[k];
      else limits[k] = v;
    }
    const id = existing?.id ?? newId('pln', now);
    if (existing) {
      await t.exec('update plans set features = ?, limits = ?, updated_at = ? where id = ?', JSON.stringify(features), JSON.stringify(limits), now, id);
    } else {
      await t.exec(
        'insert into plans (id, name, features, limits, created_at, updated_at) values (?, ?, ?, ?, ?, ?)',
        id, name, JSON.stringify(features), JSON.stringify(limits), now, now,
      );
    }
    await recordAudit(t, ctx, { workspaceId: null, action: existing ? 'plan.update' : 'plan.create', targetType: 'plan', targetId: id, summary: { name, features, limits }, at: now });
    return { id, name, features, limits };
  });
}

export async function listPlans(db: Queries) {
  const rows = await db.rows<{ name: string; features: string; limits: string; workspaces: number }>(
    `select p.name, p.features, p.limits, (select count(*) from workspaces w where w.plan_id = p.id) as workspaces from plans p order by ${caseless(db.dialect, 'p.name')}`,
  );
  return rows.map((r) => ({ name: r.name, features: JSON.parse(r.features), limits: JSON.parse(r.limits), workspaces: r.workspaces }));
}

/** Moves a workspace to a plan; takes effect on the next request. Audited in the workspace's log. */
export async function setWorkspacePlan(db: Queries, ctx: ChangeContext, workspaceId: string, planName: string, now: number): Promise<void> {
  await db.tx(async (t) => {
    const plan = await t.row<{ id: string; name: string }>(`select id, name from plans where ${equalsCaseless(t.dialect, 'name')}`, planName);
    if (!plan) throw errors.notFound(`Plan "${planName}"`);
    const before = (await planOfWorkspace(t, workspaceId)).name;
    if (before === plan.name) return; // already there: no change to audit
    await t.exec('update workspaces set plan_id = ?, updated_at = ? where id = ?', plan.id, now, workspaceId);
    await recordAudit(t, ctx, { workspaceId, action: 'workspace.set_plan', targetType: 'workspace', targetId: workspaceId, summary: { plan: { from: before, to: plan.name } }, at: now });
  });
}
