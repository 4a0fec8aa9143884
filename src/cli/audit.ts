import { listAudit } from '../audit/audit.js';
import { errors } from '../lib/errors.js';
import { requireWorkspace } from '../workspaces/workspaces.service.js';
import { type Command, JSON_OPTION, stringOption } from './command.js';
import { printRows } from './output.js';
import { withStore } from './with-store.js';

export const auditCommand: Command = {
  name: ['audit'],
  summary: 'recent audit entries of a workspace, newest first',
  options: {
    workspace: { type: 'string', usage: '--workspace W', description: 'workspace name (required)' },
    limit: { type: 'string', usage: '--limit N', description: 'how many (default 50, at most 10000)' },
    ...JSON_OPTION,
  },
  async run(ctx) {
    const name = stringOption(ctx, 'workspace');
    if (!name) throw errors.usage('--workspace is required');
    const limitText = stringOption(ctx, 'limit') ?? '50';
    if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 10_000) throw errors.usage('--limit must be a whole number from 1 to 10000');
    await withStore(ctx, (store) => {
      const entries = listAudit(store.db, requireWorkspace(store, name).id, Number(limitText));
      if (ctx.options.json) return printRows(entries, true);
      printRows(entries.map((e) => ({ ...e, summary: JSON.stringify(e.summary) })), false);
    });
  },
};
