import type { Role } from '../db/schema.js';
import { errors } from '../lib/errors.js';
import { ROLES } from '../policy/policy.js';
import { addMember, listMembers, removeMember, setMemberRole } from '../workspaces/members.service.js';
import { requireWorkspace } from '../workspaces/workspaces.service.js';
import { type Command, type CommandContext, JSON_OPTION, operatorContext, stringOption } from './command.js';
import { printRows, say } from './output.js';
import { withStore } from './with-store.js';

const WORKSPACE = { type: 'string', usage: '--workspace W', description: 'workspace name (required)' } as const;
const EMAIL = { type: 'string', usage: '--email E', description: 'the user (required; must exist: linkqr user create)' } as const;
const ROLE = { type: 'string', usage: '--role R', description: `${ROLES.join(', ')}` } as const;

function required(ctx: CommandContext, name: string): string {
  const v = stringOption(ctx, name);
  if (!v) throw errors.usage(`--${name} is required`);
  return v;
}

function role(ctx: CommandContext): Role {
  const r = required(ctx, 'role');
  if (!(ROLES as readonly string[]).includes(r)) throw errors.usage(`--role must be one of ${ROLES.join(', ')}`);
  return r as Role;
}

export const memberAddCommand: Command = {
  name: ['member', 'add'],
  summary: 'add an existing user to a workspace with a role',
  options: { workspace: WORKSPACE, email: EMAIL, role: ROLE },
  async run(ctx) {
    const r = role(ctx);
    await withStore(ctx, (store) => {
      const ws = requireWorkspace(store, required(ctx, 'workspace'));
      const m = addMember(store, operatorContext(), ws.id, required(ctx, 'email'), r);
      say(`${m.email} is now ${m.role} of "${ws.name}".`);
    });
  },
};

export const memberRoleCommand: Command = {
  name: ['member', 'role'],
  summary: "change a member's role (a workspace keeps at least one owner)",
  options: { workspace: WORKSPACE, email: EMAIL, role: ROLE },
  async run(ctx) {
    const r = role(ctx);
    await withStore(ctx, (store) => {
      const ws = requireWorkspace(store, required(ctx, 'workspace'));
      const m = setMemberRole(store, operatorContext(), ws.id, required(ctx, 'email'), r);
      say(`${m.email} is now ${m.role} of "${ws.name}".`);
    });
  },
};

export const memberRemoveCommand: Command = {
  name: ['member', 'remove'],
  summary: 'remove a member from a workspace (not its last owner)',
  options: { workspace: WORKSPACE, email: EMAIL },
  async run(ctx) {
    await withStore(ctx, (store) => {
      const ws = requireWorkspace(store, required(ctx, 'workspace'));
      removeMember(store, operatorContext(), ws.id, required(ctx, 'email'));
      say(`${required(ctx, 'email')} is no longer a member of "${ws.name}".`);
    });
  },
};

export const memberListCommand: Command = {
  name: ['member', 'list'],
  summary: 'list the members of a workspace',
  options: { workspace: WORKSPACE, ...JSON_OPTION },
  async run(ctx) {
    await withStore(ctx, (store) => {
      const ws = requireWorkspace(store, required(ctx, 'workspace'));
      printRows(listMembers(store.db, ws.id), ctx.options.json === true);
    });
  },
};
