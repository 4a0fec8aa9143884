import { listAudit } from '../audit/audit.js';
import { errors } from '../lib/errors.js';
import { requireWorkspace } from '../workspaces/workspaces.service.js';
import { type CommandContext, stringOption } from './command.js';
import { printRows } from './output.js';
import { withStore } from './with-store.js';

/** --workspace is a required option (main.ts checks it). */
export async function audit(ctx: CommandContext) {
  const name = stringOption(ctx, 'workspace')!;
  const limitText = stringOption(ctx, 'limit') ?? '50';
  if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 10_000) throw errors.usage('--limit must be a whole number from 1 to 10000');
  await withStore(ctx, async (store) => {
    const entries = await listAudit(store.db, (await requireWorkspace(store, name)).id, Number(limitText));
    if (ctx.options.json) return printRows(entries, true);
    // The summary last: it is the one column of any length.
    printRows(entries.map(({ summary, ...entry }) => ({ ...entry, summary: describeSummary(summary) })), false);
  });
}

/**
 * An audit summary on one line for people: `name="CRM sync", scopes=links:read,links:write`, and a
 * change as `role: member → admin`.
 */
export function describeSummary(summary: Record<string, unknown>): string {
  return Object.entries(summary)
    .map(([field, v]) => (isChange(v) ? `${field}: ${text(v.from)} → ${text(v.to)}` : `${field}=${text(v)}`))
    .join(', ');
}

const isChange = (v: unknown): v is { from: unknown; to: unknown } =>
  v !== null && typeof v === 'object' && Object.keys(v).length === 2 && 'from' in v && 'to' in v;

function text(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (Array.isArray(v)) return v.length === 0 ? '-' : v.map(text).join(',');
  if (typeof v === 'object') return Object.entries(v).map(([k, x]) => `${k}=${text(x)}`).join(',') || '-';
  const s = String(v);
  return s === '' || /[\s,="]/.test(s) ? JSON.stringify(s) : s;
}
