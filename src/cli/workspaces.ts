import { openStore } from '../app.js';
import { createWorkspace, listWorkspaces } from '../workspaces/workspaces.service.js';
import { type Command, JSON_OPTION, operatorContext } from './command.js';
import { printRows, say } from './output.js';

export const workspaceCreateCommand: Command = {
  name: ['workspace', 'create'],
  summary: 'create a workspace on the default plan; prints its id',
  positionals: [{ name: 'W', required: true }],
  async run(ctx) {
    const store = openStore(ctx.config, { assets: ctx.assets, log: ctx.log });
    try {
      const ws = createWorkspace(store, operatorContext(), ctx.positionals[0]!);
      say(`Created workspace "${ws.name}".`);
      process.stdout.write(`${ws.id}\n`);
    } finally {
      store.db.close();
    }
  },
};

export const workspaceListCommand: Command = {
  name: ['workspace', 'list'],
  summary: 'list workspaces',
  options: JSON_OPTION,
  async run(ctx) {
    const store = openStore(ctx.config, { assets: ctx.assets, log: ctx.log });
    try {
      printRows(listWorkspaces(store), ctx.options.json === true);
    } finally {
      store.db.close();
    }
  },
};
