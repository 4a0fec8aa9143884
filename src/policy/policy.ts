import type { Role } from '../db/schema.js';
import type { Scope } from '../keys/scopes.js';
import { AppError } from '../lib/errors.js';

/**
 * The one place that decides "may this actor do that in this workspace". The API, the CLI and
 * the admin UI ask it; no handler checks a role or a scope by itself.
 */
export const ACTIONS = [
  'links.read',
  'links.write',
  'domains.manage',
  'analytics.read',
  'webhooks.read',
  'webhooks.write',
  'keys.manage',
  'members.manage',
  'audit.read',
  'workspace.settings',
  'workspace.plan',
  'workspace.delete',
] as const;
export type Action = (typeof ACTIONS)[number];

/** What a person tries to do, as a refusal names it ("Your role (viewer) cannot view webhooks."). */
export const ACTION_PHRASES: Readonly<Record<Action, string>> = {
  'links.read': 'view links',
  'links.write': 'create or change links',
  'domains.manage': 'manage domains',
  'analytics.read': 'view analytics',
  'webhooks.read': 'view webhooks',
  'webhooks.write': 'change webhooks',
  'keys.manage': 'manage API keys',
  'members.manage': 'manage members',
  'audit.read': 'view the audit log',
  'workspace.settings': 'change the workspace’s settings',
  'workspace.plan': 'change the workspace’s plan',
  'workspace.delete': 'delete the workspace',
};

/** Someone acting in a workspace (users and keys), or the operator at the command line. */
export type Actor =
  | { type: 'user'; id: string; workspaceId: string; role: Role; instanceAdmin: boolean }
  | { type: 'key'; id: string; workspaceId: string; scopes: readonly Scope[] }
  | { type: 'operator'; id: string };

const VIEWER: Action[] = ['links.read', 'analytics.read'];
const MEMBER: Action[] = [...VIEWER, 'links.write'];
// A domain changes where every link on it can be reached: admins, like keys and webhooks.
const ADMIN: Action[] = [...MEMBER, 'domains.manage', 'webhooks.read', 'webhooks.write', 'keys.manage', 'members.manage', 'audit.read'];
const OWNER: Action[] = [...ADMIN, 'workspace.settings', 'workspace.plan', 'workspace.delete'];

/** The roles, strongest first. */
export const ROLES = ['owner', 'admin', 'member', 'viewer'] as const satisfies readonly Role[];

/** SPEC §2's table. */
export const ROLE_ACTIONS: Readonly<Record<Role, readonly Action[]>> = { viewer: VIEWER, member: MEMBER, admin: ADMIN, owner: OWNER };

/** What an API key may do: only what its scopes name. Keys never manage keys, members or settings. */
export const SCOPE_FOR_ACTION: Readonly<Partial<Record<Action, Scope>>> = {
  'links.read': 'links:read',
  'links.write': 'links:write',
  // SPEC §8: domains are part of the links API.
  'domains.manage': 'links:write',
  'analytics.read': 'analytics:read',
  'webhooks.read': 'webhooks:read',
  'webhooks.write': 'webhooks:write',
};

export function allows(actor: Actor, action: Action): boolean {
  switch (actor.type) {
    case 'operator':
      return true; // whoever runs the CLI holds the database file
    case 'user':
      return ROLE_ACTIONS[actor.role].includes(action);
    case 'key': {
      const scope = SCOPE_FOR_ACTION[action];
      return scope !== undefined && actor.scopes.includes(scope);
    }
  }
}

/** Throws 403 unless the actor may; `purpose` says what the action is needed for when it is not the whole route. */
export function authorize(actor: Actor, action: Action, purpose?: string): void {
  if (allows(actor, action)) return;
  if (actor.type === 'key') {
    const scope = SCOPE_FOR_ACTION[action];
    throw new AppError(
      403,
      'insufficient_scope',
      'Forbidden',
      scope ? `This API key lacks the "${scope}" scope needed ${purpose ? `to ${purpose}` : 'for this route'}.` : 'API keys cannot do this; a workspace admin can, in the admin UI.',
    );
  }
  if (actor.type === 'user') {
    throw new AppError(403, 'insufficient_role', 'Forbidden', `Your role (${actor.role}) cannot ${purpose ?? ACTION_PHRASES[action]}.`);
  }
}

/** Instance-wide management (users, workspaces, plans): instance admins and the operator. */
export function authorizeInstance(actor: Actor | { type: 'user'; instanceAdmin: boolean }): void {
  if (actor.type === 'operator' || (actor.type === 'user' && actor.instanceAdmin)) return;
  throw new AppError(403, 'instance_admin_only', 'Forbidden', 'Only instance admins can do this.');
}
