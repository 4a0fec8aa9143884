import type { Role } from '../db/schema.js';
import { errors } from '../lib/errors.js';
import { ROLES } from '../policy/policy.js';
import { addMember, listMembers, removeMember, setMemberRole } from '../workspaces/members.service.js';
import { requireWorkspace } from '../workspaces/workspaces.service.js';
import { type CommandContext, operatorContext, stringOption } from './command.js';
import { printRows, say } from './output.js';
import { withStore } from './with-store.js';

/** A required option's value (main.ts has checked it is there); an empty one is refused here. */
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

export async function memberAdd(ctx: CommandContext) {
  const r = role(ctx);
  await withStore(ctx, async (store) => {
    const ws = await requireWorkspace(store, required(ctx, 'workspace'));
    const m = await addMember(store, operatorContext(), ws.id, required(ctx, 'email'), r);
    say(`${m.email} is now ${m.role} of "${ws.name}".`);
  });
}

export async function memberRole(ctx: CommandContext) {
  const r = role(ctx);
  await withStore(ctx, async (store) => {
    const ws = await requireWorkspace(store, required(ctx, 'workspace'));
    const m = await setMemberRole(store, operatorContext(), ws.id, required(ctx, 'email'), r);
    say(`${m.email} is now ${m.role} of "${ws.name}".`);
  });
}

export async function memberRemove(ctx: CommandContext) {
  await withStore(ctx, async (store) => {
    const ws = await requireWorkspace(store, required(ctx, 'workspace'));
    await removeMember(store, operatorContext(), ws.id, required(ctx, 'email'));
    say(`${required(ctx, 'email')} is no longer a member of "${ws.name}".`);
  });
}

export async function memberList(ctx: CommandContext) {
  await withStore(ctx, async (store) => {
    const ws = await requireWorkspace(store, required(ctx, 'workspace'));
    printRows(await listMembers(store.db, ws.id), ctx.options.json === true);
  });
}
