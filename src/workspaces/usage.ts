import type { Queries } from '../db/db.js';
import { countLiveKeys } from '../keys/keys.repo.js';
import { countDomains } from '../domains/domains.repo.js';
import { countLinks } from '../links/links.repo.js';
import { countQrCodes } from '../qr/qr.service.js';
import { PLAN_FEATURES } from './plan-catalog.js';
import { planOfWorkspace } from './plans.js';

/** YYYY-MM of a time, UTC: the period of the clicksPerMonth limit. */
export const monthOf = (ms: number) => new Date(ms).toISOString().slice(0, 7);

const count = async (db: Queries, sql: string, ...params: unknown[]) => (await db.row<{ n: number }>(sql, ...params))!.n;

/**
 * Usage against every limit of the workspace's plan (Settings page, GET /api/v1/me). `max` is
 * null when the plan has no such limit. Clicks past clicksPerMonth are never refused: they are
 * counted, and the overage shown here.
 */
export async function workspaceUsage(db: Queries, workspaceId: string, now: number) {
  const month = monthOf(now);
  // Side by side: the reads are independent, and no transaction is open here.
  const [plan, clicks, links, domains, qrCodes, members, apiKeys, webhookEndpoints] = await Promise.all([
    planOfWorkspace(db, workspaceId),
    count(db, 'select cast(coalesce(sum(human), 0) as bigint) as n from monthly_clicks where workspace_id = ? and month = ?', workspaceId, month),
    countLinks(db, workspaceId),
    countDomains(db, workspaceId),
    countQrCodes(db, workspaceId),
    count(db, 'select count(*) as n from memberships where workspace_id = ?', workspaceId),
    countLiveKeys(db, workspaceId),
    count(db, 'select count(*) as n from webhook_endpoints where workspace_id = ?', workspaceId),
  ]);
  const max = (limit: keyof typeof plan.limits) => plan.limits[limit] ?? null;
  const clickLimit = max('clicksPerMonth');
  return {
    plan: plan.name,
    features: Object.fromEntries(PLAN_FEATURES.map((f) => [f, plan.features[f] !== false])),
    period: month,
    limits: {
      links: { used: links, max: max('links') },
      domains: { used: domains, max: max('domains') },
      qrCodes: { used: qrCodes, max: max('qrCodes') },
      clicksPerMonth: { used: clicks, max: clickLimit, overage: clickLimit === null ? 0 : Math.max(0, clicks - clickLimit) },
      members: { used: members, max: max('members') },
      apiKeys: { used: apiKeys, max: max('apiKeys') },
      webhookEndpoints: { used: webhookEndpoints, max: max('webhookEndpoints') },
      analyticsRetentionDays: { max: max('analyticsRetentionDays') },
    },
  };
}
