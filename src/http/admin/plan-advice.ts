import type { Response } from 'express';
import { ASK_FOR_A_LARGER_PLAN } from '../../workspaces/plans.js';
import { adminOf } from './admin-session.js';

/**
 * A refusal's text as an admin page shows it. A plan's limit ends by telling to ask the instance
 * admin for a larger plan (API clients read the same words); an instance admin is that person, so
 * they read the rest, and `changePlan` has the page link to the plans instead
 * (partials/admin/change-plan).
 */
export function refusalFor(res: Response, detail: string): { text: string; changePlan: boolean } {
  if (!adminOf(res).user.instanceAdmin || !detail.endsWith(ASK_FOR_A_LARGER_PLAN)) return { text: detail, changePlan: false };
  return { text: detail.slice(0, -ASK_FOR_A_LARGER_PLAN.length).trimEnd(), changePlan: true };
}
