import type { PlanFeature, PlanLimit } from '../../workspaces/plan-catalog.js';

/** How the admin pages name a plan's features. */
export const FEATURE_LABELS: Record<PlanFeature, string> = { api: 'API', webhooks: 'Webhooks', qr: 'QR codes', analytics: 'Analytics' };

/**
 * How the admin pages name a plan's limits: `column` heads the Instance page's plans table (nine
 * share a row), `field` labels the plan form, `meter` (countable limits only) the Settings usage.
 */
export const LIMIT_LABELS: Record<PlanLimit, { column: string; field: string; meter?: string }> = {
  links: { column: 'Links', field: 'Links', meter: 'Links' },
  domains: { column: 'Domains', field: 'Domains', meter: 'Domains' },
  qrCodes: { column: 'QR codes', field: 'QR codes', meter: 'QR codes' },
  clicksPerMonth: { column: 'Clicks/mo', field: 'Clicks per month', meter: 'Clicks this month' },
  members: { column: 'Members', field: 'Members', meter: 'Members' },
  apiKeys: { column: 'API keys', field: 'API keys', meter: 'API keys' },
  webhookEndpoints: { column: 'Webhooks', field: 'Webhook endpoints', meter: 'Webhook endpoints' },
  analyticsRetentionDays: { column: 'Days kept', field: 'Analytics kept (days)' },
  apiRequestsPerMinute: { column: 'API req/min', field: 'API requests per minute, per key (0: unlimited)' },
};
