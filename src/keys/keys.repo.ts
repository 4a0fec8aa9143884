import type { Queries } from '../db/db.js';
import type { ApiKeyRow } from '../db/schema.js';

// Runs on every API request.
export const findKeyById = (db: Queries, id: string) => db.row<ApiKeyRow>('select * from api_keys where id = ?', id);

/** The key row with its workspace's plan: what every API request needs, in one statement. */
export const findKeyWithPlan = (db: Queries, id: string) =>
  db.row<ApiKeyRow & { plan_name: string; plan_features: string; plan_limits: string }>(
    `select k.*, p.name as plan_name, p.features as plan_features, p.limits as plan_limits
     from api_keys k join workspaces w on w.id = k.workspace_id join plans p on p.id = w.plan_id where k.id = ?`,
    id,
  );

export const listKeysOfWorkspace = (db: Queries, workspaceId: string) =>
  db.all(db.q.selectFrom('api_keys').selectAll().where('workspace_id', '=', workspaceId).orderBy('id'));

export const insertKey = (db: Queries, row: ApiKeyRow) => db.run(db.q.insertInto('api_keys').values(row));

export const updateKey = async (db: Queries, id: string, patch: Partial<ApiKeyRow>) =>
  (await db.run(db.q.updateTable('api_keys').set(patch).where('id', '=', id))).changes;

export const recordKeyUse = (db: Queries, id: string, use: { requests: number; lastAt: number; lastIp: string }) =>
  db.run(
    db.q
      .updateTable('api_keys')
      .set((eb) => ({ last_used_at: use.lastAt, last_used_ip: use.lastIp, request_count: eb('request_count', '+', use.requests) }))
      .where('id', '=', id),
  );

/** Keys that count against the plan's apiKeys limit: every key not revoked. */
export const countLiveKeys = async (db: Queries, workspaceId: string) =>
  (await db.row<{ n: number }>(`select count(*) as n from api_keys where workspace_id = ? and status != 'revoked'`, workspaceId))!.n;
