import { type ChangeContext, recordAudit } from '../audit/audit.js';
import type { Queries } from '../db/db.js';
import type { Role } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { errors } from '../lib/errors.js';
import { findUserByEmail } from '../users/users.repo.js';
import { requireWithinPlanLimit } from './plans.js';
import { caseless } from '../db/dialect-sql.js';

export interface MemberDeps {
  /** The database, or the handle of a caller's transaction (creating a user adds their membership in theirs). */
  db: Queries;
  clock: Clock;
}

const countMembers = async (db: Queries, workspaceId: string) =>
  (await db.row<{ n: number }>('select count(*) as n from memberships where workspace_id = ?', workspaceId))!.n;
const countOwners = async (db: Queries, workspaceId: string) =>
  (await db.row<{ n: number }>(`select count(*) as n from memberships where workspace_id = ? and role = 'owner'`, workspaceId))!.n;
const roleOf = async (db: Queries, workspaceId: string, userId: string) =>
  (await db.row<{ role: Role }>('select role from memberships where workspace_id = ? and user_id = ?', workspaceId, userId))?.role;

/** Owner is granted, changed and removed by owners only (an admin cannot make themselves one). */
function requireOwnerFor(ctx: ChangeContext, ...roles: (Role | undefined)[]) {
  if (roles.includes('owner') && ctx.actor.type === 'user' && ctx.actor.role !== 'owner') {
    throw errors.forbidden('owner_only', 'Only an owner can grant, change or remove the owner role.');
  }
}

async function requireUser(db: Queries, email: string) {
  const user = await findUserByEmail(db, email.trim().toLowerCase());
  if (!user) throw errors.notFound(`User ${email}`);
  return user;
}

/** Adds an existing user to a workspace with a role (the members limit of the plan applies). */
export async function addMember(deps: MemberDeps, ctx: ChangeContext, workspaceId: string, email: string, role: Role) {
  const now = deps.clock.now();
  return deps.db.tx(async (t) => {
    requireOwnerFor(ctx, role);
    const user = await requireUser(t, email);
    if (await roleOf(t, workspaceId, user.id)) throw errors.conflict('member_exists', `${user.email} is already a member; change their role instead.`);
    await requireWithinPlanLimit(t, workspaceId, 'members', () => countMembers(t, workspaceId));
    await t.exec('insert into memberships (workspace_id, user_id, role, created_at) values (?, ?, ?, ?)', workspaceId, user.id, role, now);
    await recordAudit(t, ctx, { workspaceId, action: 'member.add', targetType: 'user', targetId: user.id, summary: { email: user.email, role }, at: now });
    return { userId: user.id, email: user.email, role };
  });
}

/** A workspace always keeps at least one owner. */
export async function setMemberRole(deps: MemberDeps, ctx: ChangeContext, workspaceId: string, email: string, role: Role) {
  const now = deps.clock.now();
  return deps.db.tx(async (t) => {
    const user = await requireUser(t, email);
    const before = await roleOf(t, workspaceId, user.id);
    if (!before) throw errors.notFound(`Member ${email}`);
    requireOwnerFor(ctx, before, role);
    // Nothing changes, so nothing is audited (like disabling a disabled key).
    if (before === role) return { userId: user.id, email: user.email, role };
    if (before === 'owner' && role !== 'owner' && (await countOwners(t, workspaceId)) === 1) {
      throw errors.conflict('last_owner', 'This is the only owner of the workspace: make someone else owner first.');
    }
    await t.exec('update memberships set role = ? where workspace_id = ? and user_id = ?', role, workspaceId, user.id);
    await recordAudit(t, ctx, { workspaceId, action: 'member.role', targetType: 'user', targetId: user.id, summary: { email: user.email, role: { from: before, to: role } }, at: now });
    return { userId: user.id, email: user.email, role };
  });
}

export async function removeMember(deps: MemberDeps, ctx: ChangeContext, workspaceId: string, email: string): Promise<void> {
  const now = deps.clock.now();
  await deps.db.tx(async (t) => {
    const user = await requireUser(t, email);
    const role = await roleOf(t, workspaceId, user.id);
    if (!role) throw errors.notFound(`Member ${email}`);
    requireOwnerFor(ctx, role);
    if (role === 'owner' && (await countOwners(t, workspaceId)) === 1) {
      throw errors.conflict('last_owner', 'This is the only owner of the workspace: make someone else owner first.');
    }
    await t.exec('delete from memberships where workspace_id = ? and user_id = ?', workspaceId, user.id);
    await recordAudit(t, ctx, { workspaceId, action: 'member.remove', targetType: 'user', targetId: user.id, summary: { email: user.email, role }, at: now });
  });
}

export async function listMembers(db: Queries, workspaceId: string) {
  const rows = await db.rows<{ id: string; email: string; role: Role; created_at: number }>(
    `select u.id, u.email, m.role, m.created_at from memberships m join users u on u.id = m.user_id where m.workspace_id = ? order by ${caseless(db.dialect, 'u.email')}`,
    workspaceId,
  );
  return rows.map((m) => ({ userId: m.id, email: m.email, role: m.role, since: new Date(m.created_at).toISOString() }));
}
