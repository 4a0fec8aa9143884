import type BetterSqlite3 from 'better-sqlite3';
import type { Db } from '../db/db.js';

export interface ClickRecord {
  linkId: string;
  workspaceId: string;
  at: number;
  bot: boolean;
  qr: boolean;
  referrer: string | null;
  userAgent: string | null;
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

/**
 * Fixed statements prepared once: a batch is a loop of single-row inserts inside one
 * transaction, which SQLite runs at a few microseconds a row.
 */
export function clickStatements(db: Db) {
  let insert: BetterSqlite3.Statement | undefined;
  let bump: BetterSqlite3.Statement | undefined;
  let monthly: BetterSqlite3.Statement | undefined;
  return {
    writeBatch(clicks: readonly ClickRecord[], totals: readonly LinkClickTotals[], months: readonly MonthlyClickTotals[]) {
      insert ??= db.sqlite.prepare(
        `insert into clicks (link_id, workspace_id, clicked_at, bot, qr, referrer, user_agent, ip_hash)
         values (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      bump ??= db.sqlite.prepare(
        `update links set clicks = clicks + ?, total_clicks = total_clicks + ?,
           last_clicked_at = coalesce(max(last_clicked_at, ?), last_clicked_at, ?) where id = ?`,
      );
      for (const c of clicks) {
        insert.run(c.linkId, c.workspaceId, c.at, c.bot ? 1 : 0, c.qr ? 1 : 0, c.referrer, c.userAgent, c.ipHash);
      }
      monthly ??= db.sqlite.prepare(
        `insert into monthly_clicks (workspace_id, month, human, total) values (?, ?, ?, ?)
         on conflict (workspace_id, month) do update set human = human + excluded.human, total = total + excluded.total`,
      );
      for (const t of totals) bump.run(t.human, t.total, t.lastHumanAt, t.lastHumanAt, t.linkId);
      for (const m of months) monthly.run(m.workspaceId, m.month, m.human, m.total);
    },
  };
}
