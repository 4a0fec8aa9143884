import { type ChangeContext, recordAudit } from '../audit/audit.js';
import type { Db } from '../db/db.js';
import type { Role } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { errors } from '../lib/errors.js';
import { findUserByEmail } from '../users/users.repo.js';
import { requireWithinPlanLimit } from './plans.js';

export interface MemberDeps {
  db: Db;
  clock: Clock;
}

const countMembers = (db: Db, workspaceId: string) =>
  (db.stmt('select count(*) as n from memberships where workspace_id = ?').get(workspaceId) as { n: number }).n;
const countOwners = (db: Db, workspaceId: string) =>
  (db.stmt(`select count(*) as n from memberships where workspace_id = ? and role = 'owner'`).get(workspaceId) as { n: number }).n;
const roleOf = (db: Db, workspaceId: string, userId: string) =>
  (db.stmt('select role from memberships where workspace_id = ? and user_id = ?').get(workspaceId, userId) as { role: Role } | undefined)?.role;

/** Owner is granted, changed and removed by owners only (an admin cannot make themselves one). */
function requireOwnerFor(ctx: ChangeContext, ...roles: (Role | undefined)[]) {
  if (roles.includes('owner') && ctx.actor.type === 'user' && ctx.actor.role !== 'owner') {
    throw errors.forbidden('owner_only', 'Only an owner can grant, change or remove the owner role.');
  }
}

function requireUser(db: Db, email: string) {
  const user = findUserByEmail(db, email.trim().toLowerCase());
  if (!user) throw errors.notFound(`User ${email}`);
  return user;
}

/** Adds an existing user to a workspace with a role (the members limit of the plan applies). */
export function addMember(deps: MemberDeps, ctx: ChangeContext, workspaceId: string, email: string, role: Role) {
  const now = deps.clock.now();
  return deps.db.tx(() => {
    requireOwnerFor(ctx, role);
    const user = requireUser(deps.db, email);
    if (roleOf(deps.db, workspaceId, user.id)) throw errors.conflict('member_exists', `${user.email} is already a member; change their role instead.`);
    requireWithinPlanLimit(deps.db, workspaceId, 'members', () => countMembers(deps.db, workspaceId));
    deps.db.stmt('insert into memberships (workspace_id, user_id, role, created_at) values (?, ?, ?, ?)').run(workspaceId, user.id, role, now);
    recordAudit(deps.db, ctx, { workspaceId, action: 'member.add', targetType: 'user', targetId: user.id, summary: { email: user.email, role }, at: now });
    return { userId: user.id, email: user.email, role };
  });
}

/** A workspace always keeps at least one owner. */
export function setMemberRole(deps: MemberDeps, ctx: ChangeContext, workspaceId: string, email: string, role: Role) {
  const now = deps.clock.now();
  return deps.db.tx(() => {
    const user = requireUser(deps.db, email);
    const before = roleOf(deps.db, workspaceId, user.id);
    if (!before) throw errors.notFound(`Member ${email}`);
    requireOwnerFor(ctx, before, role);
    // Nothing changes, so nothing is audited (like disabling a disabled key).
    if (before === role) return { userId: user.id, email: user.email, role };
    if (before === 'owner' && role !== 'owner' && countOwners(deps.db, workspaceId) === 1) {
      throw errors.conflict('last_owner', 'This is the only owner of the workspace: make someone else owner first.');
    }
    deps.db.stmt('update memberships set role = ? where workspace_id = ? and user_id = ?').run(role, workspaceId, user.id);
    recordAudit(deps.db, ctx, { workspaceId, action: 'member.role', targetType: 'user', targetId: user.id, summary: { email: user.email, role: { from: before, to: role } }, at: now });
    return { userId: user.id, email: user.email, role };
  });
}

export function removeMember(deps: MemberDeps, ctx: ChangeContext, workspaceId: string, email: string) {
  const now = deps.clock.now();
  deps.db.tx(() => {
    const user = requireUser(deps.db, email);
    const role = roleOf(deps.db, workspaceId, user.id);
    if (!role) throw errors.notFound(`Member ${email}`);
    requireOwnerFor(ctx, role);
    if (role === 'owner' && countOwners(deps.db, workspaceId) === 1) {
      throw errors.conflict('last_owner', 'This is the only owner of the workspace: make someone else owner first.');
    }
    deps.db.stmt('delete from memberships where workspace_id = ? and user_id = ?').run(workspaceId, user.id);
    recordAudit(deps.db, ctx, { workspaceId, action: 'member.remove', targetType: 'user', targetId: user.id, summary: { email: user.email, role }, at: now });
  });
}

export function listMembers(db: Db, workspaceId: string) {
  return (
    db
      .stmt('select u.id, u.email, m.role, m.created_at from memberships m join users u on u.id = m.user_id where m.workspace_id = ? order by u.email')
      .all(workspaceId) as { id: string; email: string; role: Role; created_at: number }[]
  ).map((m) => ({ userId: m.id, email: m.email, role: m.role, since: new Date(m.created_at).toISOString() }));
}
