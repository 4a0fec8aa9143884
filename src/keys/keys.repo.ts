import type { Db } from '../db/db.js';
import type { ApiKeyRow } from '../db/schema.js';

export const findKeyById = (db: Db, id: string) =>
  db.first(db.q.selectFrom('api_keys').selectAll().where('id', '=', id));

export const listKeysOfWorkspace = (db: Db, workspaceId: string) =>
  db.all(db.q.selectFrom('api_keys').selectAll().where('workspace_id', '=', workspaceId).orderBy('id'));

export const insertKey = (db: Db, row: ApiKeyRow) => db.run(db.q.insertInto('api_keys').values(row));

export const updateKey = (db: Db, id: string, patch: Partial<ApiKeyRow>) =>
  db.run(db.q.updateTable('api_keys').set(patch).where('id', '=', id)).changes;

export const recordKeyUse = (db: Db, id: string, at: number, ip: string) =>
  db.run(
    db.q
      .updateTable('api_keys')
      .set((eb) => ({ last_used_at: at, last_used_ip: ip, request_count: eb('request_count', '+', 1) }))
      .where('id', '=', id),
  );
