import type { Queries } from '../db/db.js';
import type { Actor } from '../policy/policy.js';
import { selectAuditRows } from './audit.repo.js';

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

/** Who acted, in the log of a workspace the actor is not part of (src/audit/audit-presenter.ts names it). */
export const OUTSIDE_ACTOR = { type: 'operator', id: 'outside-workspace' } as const;

/**
 * Who a change by `ctx` was made by, as the log of `workspaceId` records it: a workspace's log
 * names only its own people, so a user outside it (an instance admin) is OUTSIDE_ACTOR there,
 * without their address or IP. The CLI's operator and API keys stay as they are.
 */
export async function contextInWorkspace(t: Queries, ctx: ChangeContext, workspaceId: string): Promise<ChangeContext> {
  if (ctx.actor.type !== 'user') return ctx;
  const member = await t.row('select 1 as one from memberships where user_id = ? and workspace_id = ?', ctx.actor.id, workspaceId);
  return member === undefined ? { actor: OUTSIDE_ACTOR, ip: null } : ctx;
}

/**
 * An entry about a user (password, two-factor sign-in) in the log of each workspace they belong
 * to, so that each one's admins see it, or once outside any workspace for a user in none. A
 * workspace's log names only its own people: where the one who acted is a user outside that
 * workspace (an owner of another of the user's workspaces, an instance admin), the entry there
 * says so without their address or IP. In the change's transaction.
 */
export async function recordUserAudit(t: Queries, ctx: ChangeContext, userId: string, e: { action: string; summary: Record<string, unknown>; at: number }): Promise<void> {
  const workspaces = (await t.rows<{ workspace_id: string }>('select workspace_id from memberships where user_id = ? order by workspace_id', userId)).map((w) => w.workspace_id);
  for (const workspaceId of workspaces.length > 0 ? workspaces : [null]) {
    const recorded = workspaceId === null || ctx.actor.id === userId ? ctx : await contextInWorkspace(t, ctx, workspaceId);
    await recordAudit(t, recorded, { workspaceId, action: e.action, targetType: 'user', targetId: userId, summary: e.summary, at: e.at });
  }
}

/** The fields whose values differ, as {field: {from, to}}. */
export function changes<T extends Record<string, unknown>>(before: T, after: T, fields: readonly (keyof T & string)[]) {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const f of fields) {
    if (JSON.stringify(before[f]) !== JSON.stringify(after[f])) out[f] = { from: before[f], to: after[f] };
  }
  return out;
}

/** The workspace's latest entries, newest first, as stored (the CLI's `linkqr audit`; the page names them). */
export async function listAudit(db: Queries, workspaceId: string, limit: number) {
  const rows = await selectAuditRows(db, { workspaceId }, undefined, limit);
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
