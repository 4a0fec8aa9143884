import { errors } from '../lib/errors.js';
import { PLAN_FEATURES, PLAN_LIMIT_MIN, PLAN_LIMITS, type PlanFeature, type PlanLimit } from '../workspaces/plan-catalog.js';
import { listPlans, planNameProblem, type PlanDefinition, setWorkspacePlan, upsertPlan } from '../workspaces/plans.js';
import { requireWorkspace } from '../workspaces/workspaces.service.js';
import { type CommandContext, operatorContext, stringOption } from './command.js';
import { printRows, say } from './output.js';
import { withStore } from './with-store.js';

/** `a=1,b=2` → [[a, 1], [b, 2]], naming the flag in errors. */
function pairs(text: string | undefined, flag: string): [string, string][] {
  if (!text) return [];
  return text.split(',').map((part) => {
    const [k, v, ...rest] = part.split('=').map((x) => x.trim());
    if (!k || v === undefined || rest.length > 0) throw errors.usage(`${flag} takes name=value pairs separated by commas (bad: "${part}")`);
    return [k, v];
  });
}

export function parsePlanChange(featureText: string | undefined, limitText: string | undefined): PlanDefinition {
  const features: PlanDefinition['features'] = {};
  for (const [k, v] of pairs(featureText, '--feature')) {
    if (!(PLAN_FEATURES as readonly string[]).includes(k)) throw errors.usage(`unknown feature "${k}"; features are ${PLAN_FEATURES.join(', ')}`);
    if (!['on', 'off'].includes(v)) throw errors.usage(`--feature ${k} must be on or off`);
    features[k as PlanFeature] = v === 'on';
  }
  const limits: PlanDefinition['limits'] = {};
  for (const [k, v] of pairs(limitText, '--limit')) {
    if (!(PLAN_LIMITS as readonly string[]).includes(k)) throw errors.usage(`unknown limit "${k}"; limits are ${PLAN_LIMITS.join(', ')}`);
    // For the API rate limit a missing value means "the instance setting", and 0 means unlimited.
    if (k === 'apiRequestsPerMinute' && v === 'unlimited') limits[k] = 0;
    else if (v === 'none' || v === 'unlimited') limits[k as PlanLimit] = null;
    else {
      const min = PLAN_LIMIT_MIN[k as PlanLimit] ?? 0;
      if (!/^\d{1,12}$/.test(v) || Number(v) < min) throw errors.usage(`--limit ${k} must be a whole number${min > 0 ? ` of at least ${min}` : ''}, or "none"`);
      limits[k as PlanLimit] = Number(v);
    }
  }
  return { features, limits };
}

/** Features and limits for people, in the syntax plan upsert takes: `api=on,webhooks=off`, `links=100,members=5`. */
function pairsText(o: Record<string, unknown>, none: string): string {
  return Object.entries(o).map(([k, v]) => `${k}=${v === true ? 'on' : v === false ? 'off' : String(v)}`).join(',') || none;
}

export async function planUpsert(ctx: CommandContext) {
  const name = ctx.positionals[0]!.trim();
  const problem = planNameProblem(name);
  if (problem) throw errors.usage(`the plan name ${problem}`);
  const change = parsePlanChange(stringOption(ctx, 'feature'), stringOption(ctx, 'limit'));
  await withStore(ctx, async (store) => {
    const plan = await upsertPlan(store.db, operatorContext(), name, change, store.clock.now());
    if (ctx.options.json) return printRows([{ name: plan.name, features: plan.features, limits: plan.limits }], true);
    say(`Plan "${plan.name}": features ${pairsText(plan.features, 'none')}; limits ${pairsText(plan.limits, 'none')}.`);
  });
}

export async function planList(ctx: CommandContext) {
  await withStore(ctx, async (store) => {
    const plans = await listPlans(store.db);
    if (ctx.options.json) return printRows(plans, true);
    printRows(plans.map((p) => ({ ...p, features: pairsText(p.features, '-'), limits: pairsText(p.limits, 'none') })), false);
  });
}

export async function workspaceSetPlan(ctx: CommandContext) {
  await withStore(ctx, async (store) => {
    const ws = await requireWorkspace(store, ctx.positionals[0]!);
    await setWorkspacePlan(store.db, operatorContext(), ws.id, ctx.positionals[1]!, store.clock.now());
    say(`Workspace "${ws.name}" is on plan "${ctx.positionals[1]}".`);
  });
}
