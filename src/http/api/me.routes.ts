import type { Router } from 'express';
import type { Db } from '../../db/db.js';
import { type Clock, toIso } from '../../lib/clock.js';
import { workspaceUsage } from '../../workspaces/usage.js';
import { findPlanById, findWorkspaceById } from '../../workspaces/workspaces.repo.js';
import { principalOf } from '../middleware/auth.js';
import { noQuery } from '../middleware/validate.js';
import { sendJson } from './send-json.js';

export function bindMeApi(router: Router, deps: { db: Db; clock: Clock }) {
  // Any valid key may ask who it is: integrations use this as their "test connection" call.
  router.get('/me', noQuery, async (_req, res) => {
    const p = principalOf(res);
    const workspace = (await findWorkspaceById(deps.db, p.workspaceId))!;
    const [plan, usage] = await Promise.all([findPlanById(deps.db, workspace.plan_id), workspaceUsage(deps.db, workspace.id, deps.clock.now())]);
    sendJson(res, 200, {
      id: p.keyId,
      name: p.name,
      environment: p.environment,
      scopes: p.scopes,
      expiresAt: toIso(p.expiresAt),
      workspace: { id: workspace.id, name: workspace.name, plan: plan!.name, usage },
    });
  });
}
