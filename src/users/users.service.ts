import * as z from 'zod';
import type { Queries } from '../db/db.js';
import type { Role, UserRow } from '../db/schema.js';
import { errors } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { hashPassword } from '../lib/passwords.js';
import { ROLES } from '../policy/policy.js';
import type { WorkspaceDeps } from '../workspaces/workspaces.service.js';
import { createWorkspace, workspaceName } from '../workspaces/workspaces.service.js';
import { findWorkspaceByName } from '../workspaces/workspaces.repo.js';
import { addMember } from '../workspaces/members.service.js';
import type { ChangeContext } from '../audit/audit.js';
import { countUsers, findUserByEmail, insertUser } from './users.repo.js';
import { caseless } from '../db/dialect-sql.js';


const newUserInput = z.object({
  email: z.email('must be an email address').max(254).transform((e) => e.toLowerCase()),
  password: z.string().min(10, 'must be at least 10 characters').max(1024, 'must be at most 1024 characters'),
  role: z.enum(ROLES, { message: `must be one of ${ROLES.join(', ')}` }).optional(),
  workspace: z.string().optional(),
});
export interface NewUserInput {
  email: string;
  password: string;
  role?: string | undefined;
  workspace?: string | undefined;
  /** Refuse (409) unless this is the instance's first user: the setup page's guarantee. */
  onlyIfFirst?: boolean;
}

/** Field errors of a new user's input, without creating anything (forms show them all at once). */
export function newUserFieldErrors(input: NewUserInput): Record<string, string> {
  const parsed = newUserInput.safeParse(input);
  const fieldErrors: Record<string, string> = {};
  if (!parsed.success) for (const i of parsed.error.issues) fieldErrors[i.path.join('.')] ??= i.message;
  if (input.workspace !== undefined) {
    const ws = workspaceName.safeParse(input.workspace);
    if (!ws.success) fieldErrors.workspace = ws.error.issues[0]!.message;
  }
  return fieldErrors;
}

/** The name given to the first workspace when the first user is created without one. */
export const FIRST_WORKSPACE_NAME = 'Default';

/**
 * Creates a user. The first user of the instance is its admin and, when no workspace is named,
 * owns a new "Default" workspace (what the setup page does). With a workspace name, the
 * workspace is created if missing and the user joins it with `role` (default owner).
 */
export async function createUser(deps: WorkspaceDeps, ctx: ChangeContext, input: NewUserInput): Promise<{ user: UserRow; workspace: string | null; role: Role | null }> {
  const parsed = newUserInput.safeParse(input);
  if (!parsed.success) {
    throw errors.validation(parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })));
  }
  const { email, password, role, workspace } = parsed.data;
  if (await findUserByEmail(deps.db, email)) throw errors.conflict('user_exists', `A user with email ${email} already exists.`);

  // Hashed before the transaction: argon2 must not hold the database's writer.
  const passwordHash = await hashPassword(password);
  return deps.db.tx(async (t) => {
    const first = (await countUsers(t)) === 0;
    if (input.onlyIfFirst && !first) throw errors.conflict('setup_done', 'The first user already exists.');
    const workspaceName = workspace ?? (first ? FIRST_WORKSPACE_NAME : undefined);
    if (!workspaceName && role) throw errors.usage('--role needs --workspace (which workspace is the role in?)');
    if (await findUserByEmail(t, email)) throw errors.conflict('user_exists', `A user with email ${email} already exists.`);

    const now = deps.clock.now();
    const user: UserRow = {
      id: newId('usr', now),
      email,
      password_hash: passwordHash,
      is_instance_admin: first ? 1 : 0,
      created_at: now,
      updated_at: now,
    };
    await insertUser(t, user);
    if (!workspaceName) return { user, workspace: null, role: null };

    const inTx = { ...deps, db: t };
    const ws = (await findWorkspaceByName(t, workspaceName)) ?? (await createWorkspace(inTx, ctx, workspaceName));
    const membershipRole = role ?? 'owner';
    await addMember(inTx, ctx, ws.id, user.email, membershipRole);
    return { user, workspace: ws.name, role: membershipRole };
  });
}

/** Every user of the instance with the workspaces they belong to (Instance page). */
export async function listUsers(deps: { db: Queries }) {
  const rows = await deps.db.rows<{ id: string; email: string; is_instance_admin: number; created_at: number; workspace: string | null; role: Role | null }>(
    `select u.id, u.email, u.is_instance_admin, u.created_at, w.name as workspace, m.role
     from users u left join memberships m on m.user_id = u.id left join workspaces w on w.id = m.workspace_id
     order by ${caseless(deps.db.dialect, 'u.email')}, ${caseless(deps.db.dialect, 'w.name')}`,
  );
  const users = new Map<string, { id: string; email: string; instanceAdmin: boolean; createdAt: string; workspaces: { name: string; role: Role }[] }>();
  for (const r of rows) {
    let u = users.get(r.id);
    if (!u) users.set(r.id, (u = { id: r.id, email: r.email, instanceAdmin: r.is_instance_admin === 1, createdAt: new Date(r.created_at).toISOString(), workspaces: [] }));
    if (r.workspace !== null && r.role !== null) u.workspaces.push({ name: r.workspace, role: r.role });
  }
  return [...users.values()];
}
