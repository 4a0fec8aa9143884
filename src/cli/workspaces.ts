import { createWorkspace, listWorkspaces } from '../workspaces/workspaces.service.js';
import { type CommandContext, operatorContext } from './command.js';
import { printRows, say } from './output.js';
import { withStore } from './with-store.js';

export async function workspaceCreate(ctx: CommandContext) {
  await withStore(ctx, async (store) => {
    const ws = await createWorkspace(store, operatorContext(), ctx.positionals[0]!);
    say(`Created workspace "${ws.name}". Add its owner with: linkqr member add --workspace "${ws.name}" --email … --role owner`);
    process.stdout.write(`${ws.id}\n`);
  });
}

export async function workspaceList(ctx: CommandContext) {
  await withStore(ctx, async (store) => printRows(await listWorkspaces(store), ctx.options.json === true));
}
