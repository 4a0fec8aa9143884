import type { Selectable } from 'kysely';
import type { Db } from '../db/db.js';
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

/** Call inside the transaction of the change, so the entry exists if and only if the change does. */
export function recordAudit(db: Db, ctx: ChangeContext, e: AuditEntry): void {
  db.stmt(
    `insert into audit_log (workspace_id, actor_type, actor_id, action, target_type, target_id, summary, ip, created_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(e.workspaceId, ctx.actor.type, ctx.actor.id, e.action, e.targetType, e.targetId, JSON.stringify(e.summary ?? {}), ctx.ip, e.at);
}

/** The fields whose values differ, as {field: {from, to}}. */
export function changes<T extends Record<string, unknown>>(before: T, after: T, fields: readonly (keyof T & string)[]) {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const f of fields) {
    if (JSON.stringify(before[f]) !== JSON.stringify(after[f])) out[f] = { from: before[f], to: after[f] };
  }
  return out;
}

export function listAudit(db: Db, workspaceId: string, limit: number) {
  const rows = db
    .stmt('select * from audit_log where workspace_id = ? order by id desc limit ?')
    .all(workspaceId, limit) as Selectable<AuditRow>[];
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
