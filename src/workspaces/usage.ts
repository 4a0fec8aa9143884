import type { Db } from '../db/db.js';
import { countLiveKeys } from '../keys/keys.repo.js';
import { countLinks } from '../links/links.repo.js';
import { countQrCodes } from '../qr/qr.service.js';
import { PLAN_FEATURES } from './plan-catalog.js';
import { planOfWorkspace } from './plans.js';

/** YYYY-MM of a time, UTC: the period of the clicksPerMonth limit. */
export const monthOf = (ms: number) => new Date(ms).toISOString().slice(0, 7);

const count = (db: Db, sql: string, ...params: unknown[]) => (db.stmt(sql).get(...params) as { n: number }).n;

/**
 * Usage against every limit of the workspace's plan (Settings page, GET /api/v1/me). `max` is
 * null when the plan has no such limit. Clicks past clicksPerMonth are never refused: they are
 * counted, and the overage shown here.
 */
export function workspaceUsage(db: Db, workspaceId: string, now: number) {
  const plan = planOfWorkspace(db, workspaceId);
  const max = (limit: keyof typeof plan.limits) => plan.limits[limit] ?? null;
  const month = monthOf(now);
  const clicks = count(db, 'select coalesce(sum(human), 0) as n from monthly_clicks where workspace_id = ? and month = ?', workspaceId, month);
  const clickLimit = max('clicksPerMonth');
  return {
    plan: plan.name,
    features: Object.fromEntries(PLAN_FEATURES.map((f) => [f, plan.features[f] !== false])),
    period: month,
    limits: {
      links: { used: countLinks(db, workspaceId), max: max('links') },
      qrCodes: { used: countQrCodes(db, workspaceId), max: max('qrCodes') },
      clicksPerMonth: { used: clicks, max: clickLimit, overage: clickLimit === null ? 0 : Math.max(0, clicks - clickLimit) },
      members: { used: count(db, 'select count(*) as n from memberships where workspace_id = ?', workspaceId), max: max('members') },
      apiKeys: { used: countLiveKeys(db, workspaceId), max: max('apiKeys') },
      webhookEndpoints: { used: count(db, 'select count(*) as n from webhook_endpoints where workspace_id = ?', workspaceId), max: max('webhookEndpoints') },
      analyticsRetentionDays: { max: max('analyticsRetentionDays') },
    },
  };
}
