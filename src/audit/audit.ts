import type { Selectable } from 'kysely';
import type { Queries } from '../db/db.js';
import type { AuditRow } from '../db/schema.js';
import type { Actor } from '../policy/policy.js';

/** Who did it and from where: what every audited write receives. */
export interface ChangeContext {
  actor: Actor;
  ip: string | null;
}

export interface AuditEntry {
  workspaceId: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  /** What changed. Callers list fields explicitly; secrets never go here. */
  summary?: Record<string, unknown>;
  at: number;
}

/**
 * Call with the handle of the change's transaction, so the entry exists if and only if the change
 * does.
 */
export async function recordAudit(db: Queries, ctx: ChangeContext, e: AuditEntry): Promise<void> {
  await db.exec(
    `insert into audit_log (workspace_id, actor_type, actor_id, action, target_type, target_id, summary, ip, created_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    e.workspaceId, ctx.actor.type, ctx.actor.id, e.action, e.targetType, e.targetId, JSON.stringify(e.summary ?? {}), ctx.ip, e.at,
  );
}

/** The fields whose values differ, as {field: {from, to}}. */
export function changes<T extends Record<string, unknown>>(before: T, after: T, fields: readonly (keyof T & string)[]) {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const f of fields) {
    if (JSON.stringify(before[f]) !== JSON.stringify(after[f])) out[f] = { from: before[f], to: after[f] };
  }
  return out;
}

export async function listAudit(db: Queries, workspaceId: string, limit: number) {
  const rows = await db.rows<Selectable<AuditRow>>('select * from audit_log where workspace_id = ? order by id desc limit ?', workspaceId, limit);
  return rows.map((r) => ({
    id: r.id,
    at: new Date(r.created_at).toISOString(),
    actor: `${r.actor_type}:${r.actor_id}`,
    action: r.action,
    target: r.target_id ? `${r.target_type}:${r.target_id}` : r.target_type,
    summary: JSON.parse(r.summary) as Record<string, unknown>,
    ip: r.ip,
  }));
}
