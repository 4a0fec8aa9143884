// What a plan can switch on and limit: names only, so that the CLI's help can list them without
// loading the plan service.

export const PLAN_FEATURES = ['api', 'webhooks', 'qr', 'analytics'] as const;
export type PlanFeature = (typeof PLAN_FEATURES)[number];

/**
 * Keys of plans.limits; a missing key means no limit. Except `apiRequestsPerMinute` (per API key):
 * missing means the instance's LINKQR_API_RATE_LIMIT, and 0 means unlimited, as it does there.
 */
export type PlanLimit =
  | 'links'
  | 'domains'
  | 'qrCodes'
  | 'clicksPerMonth'
  | 'members'
  | 'apiKeys'
  | 'webhookEndpoints'
  | 'analyticsRetentionDays'
  | 'apiRequestsPerMinute';

/** The smallest value of each limit: a plan may allow no links at all, but keeps analytics a day at least. */
export const PLAN_LIMIT_MIN: Partial<Record<PlanLimit, number>> = { analyticsRetentionDays: 1 };

export const PLAN_LIMITS: readonly PlanLimit[] = [
  'links',
  'domains',
  'qrCodes',
  'clicksPerMonth',
  'members',
  'apiKeys',
  'webhookEndpoints',
  'analyticsRetentionDays',
  'apiRequestsPerMinute',
];
