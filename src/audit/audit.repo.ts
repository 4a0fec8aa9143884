import type { Selectable } from 'kysely';
import type { Queries } from '../db/db.js';
import type { AuditRow } from '../db/schema.js';

export type AuditEntryRow = Selectable<AuditRow>;

/**
 * Which entries of a workspace. A page walks the workspace's (created_at, id) index, whose entries
 * carry action, actor and kind of target (migrations/<dialect>/0017_audit_log_indexes.sql), so
 * those filters are checked in the index and skipped entries cost no row read; a target's entries
 * have an index of their own. An empty `actorIds` or `targetIds` list matches nothing.
 */
export interface AuditRowFilter {
  workspaceId: string;
  actorType?: AuditRow['actor_type'];
  actorIds?: readonly string[];
  action?: string;
  targetType?: string;
  targetIds?: readonly string[];
  from?: number;
  to?: number;
}

/** Just past this entry, towards older (smaller created_at, id) or newer ones. */
export interface RowCursor {
  towards: 'older' | 'newer';
  at: number;
  id: number;
}

/**
 * Up to `limit` entries, newest first; with a cursor towards newer ones, the nearest newer ones
 * (still newest first). Keyset paging on (created_at, id): each page is one index range, however
 * deep in the log it is (a rare filter walks that range further to fill its page).
 */
export async function selectAuditRows(db: Queries, f: AuditRowFilter, cursor: RowCursor | undefined, limit: number): Promise<AuditEntryRow[]> {
  if (f.actorIds?.length === 0 || f.targetIds?.length === 0) return [];
  let q = db.q.selectFrom('audit_log').selectAll().where('workspace_id', '=', f.workspaceId);
  if (f.actorType) q = q.where('actor_type', '=', f.actorType);
  if (f.actorIds) q = f.actorIds.length === 1 ? q.where('actor_id', '=', f.actorIds[0]!) : q.where('actor_id', 'in', f.actorIds);
  if (f.action) q = q.where('action', '=', f.action);
  if (f.targetType) q = q.where('target_type', '=', f.targetType);
  if (f.targetIds) q = f.targetIds.length === 1 ? q.where('target_id', '=', f.targetIds[0]!) : q.where('target_id', 'in', f.targetIds);
  if (f.from !== undefined) q = q.where('created_at', '>=', f.from);
  if (f.to !== undefined) q = q.where('created_at', '<', f.to);
  const newer = cursor?.towards === 'newer';
  if (cursor) {
    // (created_at, id) past the cursor's, written so both dialects see a range on created_at.
    const [cmp, eq] = newer ? (['>', '>='] as const) : (['<', '<='] as const);
    q = q.where((eb) => eb.and([eb('created_at', eq, cursor.at), eb.or([eb('created_at', cmp, cursor.at), eb('id', cmp, cursor.id)])]));
  }
  const order = newer ? 'asc' : 'desc';
  const rows = await db.all(q.orderBy('created_at', order).orderBy('id', order).limit(limit));
  return newer ? rows.reverse() : rows;
}

type DistinctColumn = 'action' | 'target_type';

/**
 * The values of a column present in the workspace's entries, in order. Read from the time index,
 * which carries the column (migrations/sqlite/0017_audit_log_indexes.sql): the workspace's index
 * entries, not its rows (about 40 ms at 400,000 entries). An index per column would make this a
 * lookup per value, but cost every audited write more than the page is worth.
 */
export async function distinctAuditValues(db: Queries, workspaceId: string, column: DistinctColumn): Promise<string[]> {
  const rows = await db.rows<{ v: string }>(`select distinct ${column} as v from audit_log where workspace_id = ? order by ${column}`, workspaceId);
  return rows.map((r) => r.v);
}

/** The ids of the actors of one type present in the workspace's entries, as distinctAuditValues. */
export async function distinctAuditActors(db: Queries, workspaceId: string, actorType: AuditRow['actor_type']): Promise<string[]> {
  const rows = await db.rows<{ v: string }>('select distinct actor_id as v from audit_log where workspace_id = ? and actor_type = ? order by actor_id', workspaceId, actorType);
  return rows.map((r) => r.v);
}
