import type { Dialect, Queries } from '../db/db.js';
import { rollUp } from './rollups.js';
import { greatest } from '../db/dialect-sql.js';

export interface ClickRecord {
  linkId: string;
  workspaceId: string;
  at: number;
  bot: boolean;
  qr: boolean;
  referrer: string | null;
  referrerHost: string | null;
  /** Kept only when the instance setting says so; device/browser/os are always kept. */
  userAgent: string | null;
  device: string;
  browser: string;
  os: string;
  ipHash: string | null;
}

export interface LinkClickTotals {
  linkId: string;
  human: number;
  total: number;
  /** lastClickedAt follows human clicks, like `clicks`. */
  lastHumanAt: number | null;
}

export interface MonthlyClickTotals {
  workspaceId: string;
  /** YYYY-MM, UTC */
  month: string;
  human: number;
  total: number;
}

const INSERT_CLICK = `insert into clicks (link_id, workspace_id, clicked_at, bot, qr, referrer, referrer_host, user_agent, device, browser, os, ip_hash)
  values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const bumpLink = (d: Dialect) => `update links set clicks = clicks + ?, total_clicks = total_clicks + ?,
  last_clicked_at = coalesce(${greatest(d, 'last_clicked_at', '?')}, last_clicked_at, ?) where id = ?`;
const BUMP_LINK = { sqlite: bumpLink('sqlite'), postgres: bumpLink('postgres') };
const ADD_MONTHLY = `insert into monthly_clicks (workspace_id, month, human, total) values (?, ?, ?, ?)
  on conflict (workspace_id, month) do update set human = monthly_clicks.human + excluded.human, total = monthly_clicks.total + excluded.total`;
const ADD_LINK_ROLLUP = `insert into click_rollups (link_id, facet, day, value, total, human, qr) values (?, ?, ?, ?, ?, ?, ?)
  on conflict (link_id, facet, day, value) do update set total = click_rollups.total + excluded.total, human = click_rollups.human + excluded.human, qr = click_rollups.qr + excluded.qr`;
const ADD_WORKSPACE_HOUR = `insert into workspace_click_hours (workspace_id, hour, total, human, qr) values (?, ?, ?, ?, ?)
  on conflict (workspace_id, hour) do update set total = workspace_click_hours.total + excluded.total, human = workspace_click_hours.human + excluded.human, qr = workspace_click_hours.qr + excluded.qr`;

/**
 * A batch of clicks with the counters it adds to, through the handle of the batch's transaction:
 * a loop of single-row inserts and rollup upserts over fixed statements (each prepared once),
 * which SQLite runs at a few microseconds a row.
 */
export async function writeClickBatch(
  db: Queries,
  clicks: readonly ClickRecord[],
  totals: readonly LinkClickTotals[],
  months: readonly MonthlyClickTotals[],
): Promise<void> {
  for (const c of clicks) {
    await db.exec(INSERT_CLICK, c.linkId, c.workspaceId, c.at, c.bot ? 1 : 0, c.qr ? 1 : 0, c.referrer, c.referrerHost, c.userAgent, c.device, c.browser, c.os, c.ipHash);
  }
  for (const t of totals) await db.exec(BUMP_LINK[db.dialect], t.human, t.total, t.lastHumanAt, t.lastHumanAt, t.linkId);
  for (const m of months) await db.exec(ADD_MONTHLY, m.workspaceId, m.month, m.human, m.total);
  const r = rollUp(clicks);
  for (const l of r.links) await db.exec(ADD_LINK_ROLLUP, l.linkId, l.facet, l.day, l.value, l.total, l.human, l.qr);
  for (const w of r.workspaces) await db.exec(ADD_WORKSPACE_HOUR, w.workspaceId, w.hour, w.total, w.human, w.qr);
}
