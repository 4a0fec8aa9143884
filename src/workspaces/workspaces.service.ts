import * as z from 'zod';
import { type ChangeContext, recordAudit } from '../audit/audit.js';
import type { Queries } from '../db/db.js';
import type { WorkspaceRow } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { toIso } from '../lib/clock.js';
import { errors } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { findWorkspaceById, findWorkspaceByName, insertWorkspace, listWorkspacesWithCounts } from './workspaces.repo.js';

export interface WorkspaceDeps {
  /** The database, or the handle of a caller's transaction (creating a user creates their workspace in theirs). */
  db: Queries;
  clock: Clock;
}

export const DEFAULT_PLAN_ID = 'pln_default';

export const workspaceName = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[^\x00-\x1f]+$/, 'must not contain control characters');

export async function createWorkspace(deps: WorkspaceDeps, ctx: ChangeContext, name: string): Promise<WorkspaceRow> {
  const parsed = workspaceName.safeParse(name);
  if (!parsed.success) throw errors.validation([{ field: 'name', message: parsed.error.issues[0]!.message }]);
  const now = deps.clock.now();
  const row: WorkspaceRow = { id: newId('wsp', now), name: parsed.data, plan_id: DEFAULT_PLAN_ID, created_at: now, updated_at: now };
  await deps.db.tx(async (t) => {
    // Checked in the transaction that inserts: another request's create cannot come in between.
    if (await findWorkspaceByName(t, parsed.data)) {
      throw errors.conflict('workspace_exists', `A workspace named "${parsed.data}" already exists.`);
    }
    await insertWorkspace(t, row);
    await recordAudit(t, ctx, { workspaceId: row.id, action: 'workspace.create', targetType: 'workspace', targetId: row.id, summary: { name: row.name }, at: now });
  });
  return row;
}

/**
 * Renames a workspace (Settings page; owners). Names are unique, case-insensitively; renaming to
 * the same name changes nothing and is not audited. A change of case alone is a rename.
 */
export async function renameWorkspace(deps: WorkspaceDeps, ctx: ChangeContext, workspaceId: string, name: string): Promise<WorkspaceRow> {
  const parsed = workspaceName.safeParse(name);
  if (!parsed.success) throw errors.validation([{ field: 'name', message: parsed.error.issues[0]!.message }]);
  const now = deps.clock.now();
  return deps.db.tx(async (t) => {
    const row = await findWorkspaceById(t, workspaceId);
    if (!row) throw errors.notFound('Workspace');
    if (row.name === parsed.data) return row;
    const other = await findWorkspaceByName(t, parsed.data);
    if (other && other.id !== workspaceId) {
      throw errors.conflict('workspace_exists', `A workspace named "${parsed.data}" already exists.`, [{ field: 'name', message: 'another workspace has this name' }]);
    }
    await t.exec('update workspaces set name = ?, updated_at = ? where id = ?', parsed.data, now, workspaceId);
    await recordAudit(t, ctx, { workspaceId, action: 'workspace.rename', targetType: 'workspace', targetId: workspaceId, summary: { name: { from: row.name, to: parsed.data } }, at: now });
    return { ...row, name: parsed.data, updated_at: now };
  });
}

/** Finds a workspace by name, or says clearly that it does not exist. */
export async function requireWorkspace(deps: WorkspaceDeps, name: string): Promise<WorkspaceRow> {
  const row = await findWorkspaceByName(deps.db, name);
  if (!row) throw errors.notFound(`Workspace "${name}"`);
  return row;
}

export async function listWorkspaces(deps: WorkspaceDeps) {
  return (await listWorkspacesWithCounts(deps.db)).map((w) => ({
    id: w.id,
    name: w.name,
    plan: w.plan,
    members: Number(w.members),
    links: Number(w.links),
    createdAt: toIso(w.created_at),
  }));
}
