import type { Db } from '../db/db.js';
import { AppError } from '../lib/errors.js';

export const PLAN_FEATURES = ['api', 'webhooks', 'qr', 'analytics'] as const;
export type PlanFeature = (typeof PLAN_FEATURES)[number];

/** Keys of plans.limits; a missing key means no limit. */
export type PlanLimit = 'links' | 'qrCodes' | 'clicksPerMonth' | 'members' | 'apiKeys' | 'webhookEndpoints' | 'analyticsRetentionDays';

interface WorkspacePlan {
  name: string;
  features: Partial<Record<PlanFeature, boolean>>;
  limits: Partial<Record<PlanLimit, number>>;
}

export function planOfWorkspace(db: Db, workspaceId: string): WorkspacePlan {
  const row = db
    .stmt('select p.name, p.features, p.limits from plans p join workspaces w on w.plan_id = p.id where w.id = ?')
    .get(workspaceId) as { name: string; features: string; limits: string };
  return { name: row.name, features: JSON.parse(row.features), limits: JSON.parse(row.limits) };
}

export function requirePlanFeature(db: Db, workspaceId: string, feature: PlanFeature): void {
  const plan = planOfWorkspace(db, workspaceId);
  if (plan.features[feature] === false) {
    throw new AppError(403, 'plan_feature_disabled', 'Forbidden', `The "${plan.name}" plan of this workspace does not include ${feature}.`, undefined, undefined, {
      feature,
      plan: plan.name,
    });
  }
}

/**
 * Refuses one more item when the plan's limit is reached. Call inside the write transaction that
 * adds the item, so concurrent requests cannot both pass. `usage` is only counted when the plan
 * has that limit.
 */
export function requireWithinPlanLimit(db: Db, workspaceId: string, limit: PlanLimit, usage: () => number): void {
  const plan = planOfWorkspace(db, workspaceId);
  const max = plan.limits[limit];
  if (max === undefined) return;
  const used = usage();
  if (used >= max) {
    throw new AppError(
      403,
      'plan_limit_reached',
      'Forbidden',
      `The "${plan.name}" plan allows ${max} ${limit}; this workspace has ${used}. Ask the instance admin for a larger plan.`,
      undefined,
      undefined,
      { limit, plan: plan.name, usage: used, max },
    );
  }
}
