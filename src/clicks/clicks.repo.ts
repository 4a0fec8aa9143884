import type { Dialect, Queries } from '../db/db.js';
import { encodeRollups } from './pending-rollups.js';
import { addCounts, DAY_MS, rollUp, type Rollups, type WorkspaceCountry } from './rollups.js';
import { greatest, jsonRowsParam, jsonValuesParam, pgJsonRows } from '../db/dialect-sql.js';
import type { PostgresQueries } from '../db/postgres-db.js';

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
  /** ISO 3166-1 alpha-2, or null when unknown. */
  country: string | null;
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

// SQLite: clicks go in CLICKS_PER_INSERT rows a statement (the rest one by one), two statement
// texts prepared once. Measured against one row a statement: 2.5 µs a click instead of 3.5 on
// this machine (the call into SQLite and its per-statement work are paid once per 64 rows).
const CLICKS_PER_INSERT = 64;
const insertClicks = (rows: number) =>
  `insert into clicks (link_id, workspace_id, clicked_at, bot, qr, referrer, referrer_host, user_agent, device, browser, os, ip_hash, country)
  values ${Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`;
const INSERT_CLICK = insertClicks(1);
const INSERT_CLICKS = insertClicks(CLICKS_PER_INSERT);
const clickValues = (c: ClickRecord) =>
  [c.linkId, c.workspaceId, c.at, c.bot ? 1 : 0, c.qr ? 1 : 0, c.referrer, c.referrerHost, c.userAgent, c.device, c.browser, c.os, c.ipHash, c.country];
const bumpLink = (d: Dialect) => `update links set clicks = clicks + ?, total_clicks = total_clicks + ?,
  last_clicked_at = coalesce(${greatest(d, 'last_clicked_at', '?')}, last_clicked_at, ?) where id = ?`;
const BUMP_LINK = { sqlite: bumpLink('sqlite'), postgres: bumpLink('postgres') };
const ADD_MONTHLY = `insert into monthly_clicks (workspace_id, month, human, total) values (?, ?, ?, ?)
  on conflict (workspace_id, month) do update set human = monthly_clicks.human + excluded.human, total = monthly_clicks.total + excluded.total`;
const ADD_PENDING_ROLLUPS = 'insert into pending_rollups (created_at, rollups) values (?, ?)';

// PostgreSQL: the clicks by COPY (appended, nothing to merge); each other table's rows in one
// statement of fixed text (one prepared plan whatever the batch size), the rows passed as one
// JSON parameter (pgJsonRows). A statement per row, as on SQLite, would cost a round trip per
// click: measured, ~600 clicks/s.
const CLICK_COLUMNS = ['link_id', 'workspace_id', 'clicked_at', 'bot', 'qr', 'referrer', 'referrer_host', 'user_agent', 'device', 'browser', 'os', 'ip_hash', 'country'];
const PG_BUMP_LINKS = `update links set clicks = links.clicks + u.human, total_clicks = links.total_clicks + u.total,
    last_clicked_at = coalesce(greatest(links.last_clicked_at, u.last_human_at), links.last_clicked_at)
  from ${pgJsonRows('u', { id: 'text', human: 'bigint', total: 'bigint', last_human_at: 'bigint' })} where links.id = u.id`;
const PG_ADD_MONTHLY = `insert into monthly_clicks (workspace_id, month, human, total)
  select * from ${pgJsonRows('m', { workspace_id: 'text', month: 'text', human: 'bigint', total: 'bigint' })}
  on conflict (workspace_id, month) do update set human = monthly_clicks.human + excluded.human, total = monthly_clicks.total + excluded.total`;

/**
 * The rollup tables: each row a key and counts the applier adds to what the row holds. SQLite
 * upserts a row a statement; PostgreSQL all of a table's rows in one (pgJsonRows).
 */
function addingCounts(table: string, key: Record<string, 'text' | 'bigint'>) {
  const names = [...Object.keys(key), 'total', 'human', 'qr'];
  const columns = names.join(', ');
  const add = addingTo(table, Object.keys(key));
  return {
    keyLength: Object.keys(key).length,
    sqlite: `insert into ${table} (${columns}) values (${names.map(() => '?').join(', ')}) ${add}`,
    postgres: `insert into ${table} (${columns}) select * from ${pgJsonRows('r', { ...key, total: 'bigint', human: 'bigint', qr: 'bigint' })} ${add}`,
  };
}
/** The upsert clause of a rollup table: a row already there gets the new counts added. */
const addingTo = (table: string, key: readonly string[]) => `on conflict (${key.join(', ')}) do update set
    total = ${table}.total + excluded.total, human = ${table}.human + excluded.human, qr = ${table}.qr + excluded.qr`;
const LINK_ROLLUPS = addingCounts('click_rollups', { link_id: 'text', facet: 'text', day: 'bigint', value: 'text' });
const WORKSPACE_HOURS = addingCounts('workspace_click_hours', { workspace_id: 'text', hour: 'bigint' });
// The workspace's countries by hour, and by day (the summary's whole days: 24 times fewer rows to read).
const COUNTRY_HOURS = addingCounts('workspace_click_country_hours', { workspace_id: 'text', hour: 'bigint', country: 'text' });
const COUNTRY_DAYS = addingCounts('workspace_click_country_days', { workspace_id: 'text', day: 'bigint', country: 'text' });
// Each link's day totals (its 'all' rows) by workspace and day (migrations/sqlite/0023 says why):
// the workspace is the link's, read in the statement. A link deleted since its clicks has no row in
// links, and its day rows are not added: nothing lists a deleted link's days.
const addLinkDays = addingTo('workspace_link_days', ['workspace_id', 'day', 'link_id']);
const WORKSPACE_LINK_DAYS = {
  sqlite: `insert into workspace_link_days (workspace_id, day, link_id, total, human, qr)
    select workspace_id, ?, id, ?, ?, ? from links where id = ? ${addLinkDays}`,
  postgres: `insert into workspace_link_days (workspace_id, day, link_id, total, human, qr)
    select l.workspace_id, r.day, r.link_id, r.total, r.human, r.qr
    from ${pgJsonRows('r', { link_id: 'text', day: 'bigint', total: 'bigint', human: 'bigint', qr: 'bigint' })} join links l on l.id = r.link_id
    order by 1, 2, 3 ${addLinkDays}`,
};

/**
 * A batch of clicks with the counters it adds to, through the handle of the batch's transaction:
 * the links' counters and the monthly counts (what limits read) at once, the rollups (what stats
 * read) as one pending row, applied later together with other batches' (applyRollups).
 * SQLite: multi-row inserts and loops over fixed statements (each prepared once), which it runs at
 * a few microseconds a row. PostgreSQL: one statement per table.
 */
export async function writeClickBatch(
  db: Queries,
  clicks: readonly ClickRecord[],
  totals: readonly LinkClickTotals[],
  months: readonly MonthlyClickTotals[],
): Promise<void> {
  if (db.dialect === 'postgres') return writeClickBatchTogether(db, clicks, totals, months);
  let i = 0;
  for (; i + CLICKS_PER_INSERT <= clicks.length; i += CLICKS_PER_INSERT) {
    await db.exec(INSERT_CLICKS, ...clicks.slice(i, i + CLICKS_PER_INSERT).flatMap(clickValues));
  }
  for (; i < clicks.length; i++) await db.exec(INSERT_CLICK, ...clickValues(clicks[i]!));
  for (const t of totals) await db.exec(BUMP_LINK[db.dialect], t.human, t.total, t.lastHumanAt, t.lastHumanAt, t.linkId);
  for (const m of months) await db.exec(ADD_MONTHLY, m.workspaceId, m.month, m.human, m.total);
  for (const row of pendingRollupsOf(clicks)) await db.exec(ADD_PENDING_ROLLUPS, ...row);
}

/**
 * A pending row holds at most this many rollup rows: a batch of many links is several pending
 * rows, so that applying any one of them fits in one apply's transaction (rollup-applier.ts).
 */
const PENDING_ROWS_MAX = 4_000;

/** The pending_rollups rows of a batch: [created_at, rollups] each. */
function pendingRollupsOf(clicks: readonly ClickRecord[]): [number, string][] {
  if (clicks.length === 0) return [];
  const at = clicks[clicks.length - 1]!.at;
  return encodeRollups(rollUp(clicks), PENDING_ROWS_MAX).map((rollups) => [at, rollups]);
}

async function writeClickBatchTogether(
  db: Queries,
  clicks: readonly ClickRecord[],
  totals: readonly LinkClickTotals[],
  months: readonly MonthlyClickTotals[],
): Promise<void> {
  // The clicks first, by COPY: started here, awaited once the other tables' rows are made.
  const inserted = clicks.length > 0 ? (db as PostgresQueries).copyRows('clicks', CLICK_COLUMNS, clicks.map(clickValues)) : undefined;
  // Awaited below; handled now too, so that if making the other rows throws first, its failure is
  // not an unhandled rejection (the transaction rolls back either way).
  inserted?.catch(() => {});
  const statements: [string, string][] = [];
  if (totals.length > 0) statements.push([PG_BUMP_LINKS, jsonRowsParam(byKey(totals, (t) => t.linkId), (t) => [t.linkId, t.human, t.total, t.lastHumanAt])]);
  if (months.length > 0) {
    statements.push([PG_ADD_MONTHLY, jsonRowsParam(byKey(months, (m) => `${m.workspaceId} ${m.month}`), (m) => [m.workspaceId, m.month, m.human, m.total])]);
  }
  const pending = pendingRollupsOf(clicks);
  await inserted;
  for (const [sql, rows] of statements) await db.exec(sql, rows);
  for (const row of pending) await db.exec(ADD_PENDING_ROLLUPS, ...row);
}

/** Rows in key order, so that two instances' transactions lock the rows they share in the same order. */
function byKey<T>(rows: readonly T[], key: (row: T) => string): T[] {
  // Each row's key is made once: made in the comparison, it cost more than the rest of the batch's client work.
  return rows
    .map((row) => ({ row, key: key(row) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(({ row }) => row);
}

/** The oldest pending rows after `afterId`, at most `limit` of them. */
export function pendingRollups(db: Queries, afterId: number, limit: number): Promise<{ id: number; rollups: string }[]> {
  return db.rows('select id, rollups from pending_rollups where id > ? order by id limit ?', afterId, limit);
}

/** How many batches' rollups wait to be applied, and since when (epoch ms of the oldest batch's last click). */
export async function pendingRollupsBacklog(db: Queries): Promise<{ batches: number; oldestAt: number | null }> {
  const row = await db.row<{ batches: number; oldest_at: number | null }>('select count(*) as batches, min(created_at) as oldest_at from pending_rollups');
  return { batches: Number(row?.batches ?? 0), oldestAt: row?.oldest_at ?? null };
}

/**
 * Adds the sums of pending batches' rollups to the links' day totals (workspace_link_days), their
 * other rows (click_rollups) and the workspace's hours and countries by hour and by day, and
 * removes those batches, in the caller's transaction: each batch is counted exactly once. Throws
 * (rolling back) if any of them was applied already.
 */
export async function applyRollups(t: Queries, ids: readonly number[], sums: Rollups): Promise<void> {
  const removed = await t.exec(`delete from pending_rollups where id in (select cast(value as bigint) from ${jsonValuesParam(t.dialect)})`, JSON.stringify(ids));
  if (removed.changes !== ids.length) throw new Error(`pending rollups: ${ids.length - removed.changes} of ${ids.length} batches were applied by someone else`);
  // A link-day has one day-total row (RollupSums; a row of facet 'all' with a value is not readable).
  const linkDays = sums.links.filter((l) => l.facet === 'all');
  const tables: [ReturnType<typeof addingCounts>, (string | number)[][]][] = [
    [LINK_ROLLUPS, sums.links.filter((l) => l.facet !== 'all').map((l) => [l.linkId, l.facet, l.day, l.value, l.total, l.human, l.qr])],
    [WORKSPACE_HOURS, sums.workspaces.map((w) => [w.workspaceId, w.hour, w.total, w.human, w.qr])],
    [COUNTRY_HOURS, sums.countries.map((c) => [c.workspaceId, c.hour, c.country, c.total, c.human, c.qr])],
    [COUNTRY_DAYS, countryDays(sums.countries)],
  ];
  for (const [table, rows] of tables) {
    if (t.dialect === 'postgres') {
      // In key order: PostgreSQL then walks the primary key's pages in order.
      if (rows.length > 0) await t.exec(table.postgres, JSON.stringify(byKey(rows, (r) => r.slice(0, table.keyLength).join(' '))));
    } else {
      // SQLite has one writer, so no order to keep; a link-day's rows come together (RollupSums).
      for (const row of rows) await t.exec(table.sqlite, ...row);
    }
  }
  if (t.dialect === 'postgres') {
    if (linkDays.length > 0) await t.exec(WORKSPACE_LINK_DAYS.postgres, jsonRowsParam(linkDays, (l) => [l.linkId, l.day, l.total, l.human, l.qr]));
  } else {
    for (const l of linkDays) await t.exec(WORKSPACE_LINK_DAYS.sqlite, l.day, l.total, l.human, l.qr, l.linkId);
  }
}

/** The countries' hour rows summed by UTC day: [workspaceId, day, country, total, human, qr] each. */
function countryDays(hours: readonly WorkspaceCountry[]): (string | number)[][] {
  const days = new Map<string, WorkspaceCountry>();
  for (const c of hours) {
    const day = c.hour - (c.hour % DAY_MS);
    const key = `${c.workspaceId}\u0000${day}\u0000${c.country}`;
    const sum = days.get(key);
    if (sum) addCounts(sum, c.total, c.human, c.qr);
    else days.set(key, { ...c, hour: day });
  }
  return [...days.values()].map((d) => [d.workspaceId, d.hour, d.country, d.total, d.human, d.qr]);
}

/**
 * The human clicks each of a batch's links has and may have (maxClicks), through the handle of the
 * batch's transaction. On PostgreSQL the rows stay locked until the batch commits, so instances
 * writing clicks of one limited link take turns and each sees the others' committed clicks (SQLite's
 * transactions already take turns). All the batch's links, in the byte order of their ids, the
 * order writeClickBatchTogether updates them in, so two batches cannot lock them crosswise; and
 * no batch waits more than 5 s for a row another instance holds (its redirects answer 503 then).
 */
export async function clickLimitsOf(db: Queries, linkIds: readonly string[]): Promise<Map<string, { clicks: number; maxClicks: number | null }>> {
  if (db.dialect === 'postgres') await db.exec(`set local lock_timeout = '5s'`);
  const rows = await db.rows<{ id: string; clicks: number; max_clicks: number | null }>(
    `select id, clicks, max_clicks from links where id in (select value from ${jsonValuesParam(db.dialect)})` +
      (db.dialect === 'postgres' ? ' order by id collate "C" for no key update' : ''),
    JSON.stringify(linkIds),
  );
  return new Map(rows.map((r) => [r.id, { clicks: r.clicks, maxClicks: r.max_clicks }]));
}
