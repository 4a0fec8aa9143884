import * as z from 'zod';
import { type ChangeContext, recordAudit } from '../audit/audit.js';
import type { Db } from '../db/db.js';
import type { WorkspaceRow } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { toIso } from '../lib/clock.js';
import { errors } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { findWorkspaceById, findWorkspaceByName, insertWorkspace, listWorkspacesWithCounts } from './workspaces.repo.js';

export interface WorkspaceDeps {
  db: Db;
  clock: Clock;
}

export const DEFAULT_PLAN_ID = 'pln_default';

export const workspaceName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[^\x00-\x1f]+$/, 'must not contain control characters');

export function createWorkspace(deps: WorkspaceDeps, ctx: ChangeContext, name: string): WorkspaceRow {
  const parsed = workspaceName.safeParse(name);
  if (!parsed.success) throw errors.validation([{ field: 'name', message: parsed.error.issues[0]!.message }]);
  if (findWorkspaceByName(deps.db, parsed.data)) {
    throw errors.conflict('workspace_exists', `A workspace named "${parsed.data}" already exists.`);
  }
  const now = deps.clock.now();
  const row: WorkspaceRow = { id: newId('wsp', now), name: parsed.data, plan_id: DEFAULT_PLAN_ID, created_at: now, updated_at: now };
  deps.db.tx(() => {
    insertWorkspace(deps.db, row);
    recordAudit(deps.db, ctx, { workspaceId: row.id, action: 'workspace.create', targetType: 'workspace', targetId: row.id, summary: { name: row.name }, at: now });
  });
  return row;
}

/**
 * Renames a workspace (Settings page; owners). Names are unique, case-insensitively; renaming to
 * the same name changes nothing and is not audited. A change of case alone is a rename.
 */
export function renameWorkspace(deps: WorkspaceDeps, ctx: ChangeContext, workspaceId: string, name: string): WorkspaceRow {
  const parsed = workspaceName.safeParse(name);
  if (!parsed.success) throw errors.validation([{ field: 'name', message: parsed.error.issues[0]!.message }]);
  const now = deps.clock.now();
  return deps.db.tx(() => {
    const row = findWorkspaceById(deps.db, workspaceId);
    if (!row) throw errors.notFound('Workspace');
    if (row.name === parsed.data) return row;
    const other = findWorkspaceByName(deps.db, parsed.data);
    if (other && other.id !== workspaceId) {
      throw errors.conflict('workspace_exists', `A workspace named "${parsed.data}" already exists.`, [{ field: 'name', message: 'another workspace has this name' }]);
    }
    deps.db.stmt('update workspaces set name = ?, updated_at = ? where id = ?').run(parsed.data, now, workspaceId);
    recordAudit(deps.db, ctx, { workspaceId, action: 'workspace.rename', targetType: 'workspace', targetId: workspaceId, summary: { name: { from: row.name, to: parsed.data } }, at: now });
    return { ...row, name: parsed.data, updated_at: now };
  });
}

/** Finds a workspace by name, or says clearly that it does not exist. */
export function requireWorkspace(deps: WorkspaceDeps, name: string): WorkspaceRow {
  const row = findWorkspaceByName(deps.db, name);
  if (!row) throw errors.notFound(`Workspace "${name}"`);
  return row;
}

export function listWorkspaces(deps: WorkspaceDeps) {
  return listWorkspacesWithCounts(deps.db).map((w) => ({
    id: w.id,
    name: w.name,
    plan: w.plan,
    members: Number(w.members),
    links: Number(w.links),
    createdAt: toIso(w.created_at),
  }));
}
