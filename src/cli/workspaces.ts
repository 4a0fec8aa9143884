import { createWorkspace, listWorkspaces } from '../workspaces/workspaces.service.js';
import { type Command, JSON_OPTION, operatorContext } from './command.js';
import { printRows, say } from './output.js';
import { withStore } from './with-store.js';

export const workspaceCreateCommand: Command = {
  name: ['workspace', 'create'],
  summary: 'create a workspace on the default plan; prints its id',
  positionals: [{ name: 'W', required: true }],
  async run(ctx) {
    await withStore(ctx, (store) => {
      const ws = createWorkspace(store, operatorContext(), ctx.positionals[0]!);
      say(`Created workspace "${ws.name}". Add its owner with: linkqr member add --workspace "${ws.name}" --email … --role owner`);
      process.stdout.write(`${ws.id}\n`);
    });
  },
};

export const workspaceListCommand: Command = {
  name: ['workspace', 'list'],
  summary: 'list workspaces',
  options: JSON_OPTION,
  async run(ctx) {
    await withStore(ctx, (store) => printRows(listWorkspaces(store), ctx.options.json === true));
  },
};
