import type { Selectable } from 'kysely';
import type { Queries } from '../db/db.js';
import type { ClickRow } from '../db/schema.js';
import { FACETS, type Facet, HOUR_MS } from '../clicks/rollups.js';
import { least } from '../db/dialect-sql.js';

export interface BucketRow {
  /** Start of the hour or day (epoch ms, UTC). */
  at: number;
  total: number;
  human: number;
  qr: number;
}
export interface FacetRow {
  facet: Facet;
  value: string;
  total: number;
  human: number;
}
export type RawClickRow = Omit<Selectable<ClickRow>, 'link_id' | 'workspace_id'>;
export interface LinkTotalsRow {
  link_id: string;
  total: number;
  human: number;
  qr: number;
}

// Every query reads key ranges (click_rollups: link, facet, day, value; workspace_link_days: by
// link and day, or by workspace and day; the workspace's other tables: workspace, then hour or
// day); days are UTC midnights.

/** Day totals of a link over whole days [fromDay, toDay). */
export const linkDays = (db: Queries, linkId: string, fromDay: number, toDay: number) =>
  db.rows<BucketRow>(
    'select day as at, total, human, qr from workspace_link_days where link_id = ? and day >= ? and day < ?',
    linkId, fromDay, toDay,
  );

/** Hour totals of a link over whole days [fromDay, toDay). */
export const linkHours = (db: Queries, linkId: string, fromDay: number, toDay: number) =>
  db.rows<BucketRow>(
    `select day + cast(value as integer) * ${HOUR_MS} as at, total, human, qr from click_rollups
       where link_id = ? and facet = 'hour' and day >= ? and day < ?`,
    linkId, fromDay, toDay,
  );

export const linkFacets = (db: Queries, linkId: string, fromDay: number, toDay: number) =>
  db.rows<FacetRow>(
    `select facet, value, cast(sum(total) as bigint) as total, cast(sum(human) as bigint) as human from click_rollups
       where link_id = ? and facet in (${FACETS.map((f) => `'${f}'`).join(', ')}) and day >= ? and day < ? group by facet, value`,
    linkId, fromDay, toDay,
  );

/**
 * Clicks of a link in [from, to) (the partial days at the edges of a range), counted in SQL by
 * hour and by what they were classified as: a few hundred rows back however many clicks there are.
 */
export const linkClickGroupsBetween = (db: Queries, linkId: string, from: number, to: number) =>
  db.rows<{
    hour: number;
    referrer_host: string | null;
    device: string | null;
    browser: string | null;
    os: string | null;
    country: string | null;
    total: number;
    human: number;
    qr: number;
  }>(
    `select clicked_at - clicked_at % ${HOUR_MS} as hour, referrer_host, device, browser, os, country,
              count(*) as total, count(*) filter (where bot = 0) as human, count(*) filter (where qr = 1) as qr
       from clicks where link_id = ? and clicked_at >= ? and clicked_at < ?
       group by 1, 2, 3, 4, 5, 6`,
    linkId, from, to,
  );

/**
 * Newest first, one page, after the cursor (clicked_at, id). The order is the index's
 * (link_id, clicked_at, rowid); SQLite does not seek on the row-value comparison, so the plain
 * bound on clicked_at is what starts the scan at the cursor: a page reads about `limit` entries
 * however many clicks exist.
 */
export const listClickRows = (db: Queries, f: { linkId: string; from: number; to: number; beforeAt: number; beforeId: number; limit: number }) =>
  db.rows<RawClickRow>(
    `select id, clicked_at, bot, qr, referrer, referrer_host, user_agent, device, browser, os, ip_hash, country from clicks
       where link_id = ? and clicked_at >= ? and clicked_at <= ${least(db.dialect, 'cast(? as bigint) - 1', '?')}
         and (clicked_at, id) < (?, ?)
       order by clicked_at desc, id desc limit ?`,
    f.linkId, f.from, f.to, f.beforeAt, f.beforeAt, f.beforeId, f.limit,
  );

export const workspaceHours = (db: Queries, workspaceId: string, from: number, to: number) =>
  db.rows<BucketRow>(
    'select hour as at, total, human, qr from workspace_click_hours where workspace_id = ? and hour >= ? and hour < ?',
    workspaceId, from, to,
  );

/**
 * Per-link totals of the workspace's links over whole days [fromDay, toDay): one primary-key range
 * of workspace_link_days (migrations/sqlite/0023 says why), summed by link, then joined with the
 * workspace's links: the links deleted since are not among them.
 */
export const linkTotalsByDays = (db: Queries, workspaceId: string, fromDay: number, toDay: number) =>
  db.rows<LinkTotalsRow>(
    `select d.* from (
         select link_id, cast(sum(total) as bigint) as total, cast(sum(human) as bigint) as human, cast(sum(qr) as bigint) as qr
         from workspace_link_days where workspace_id = ? and day >= ? and day < ? group by link_id
       ) d join links l on l.id = d.link_id and l.workspace_id = ?`,
    workspaceId, fromDay, toDay, workspaceId,
  );

export interface CountryRow {
  country: string;
  total: number;
  human: number;
}

/**
 * The workspace's countries over [from, to), the clicks of links deleted since included: whole
 * days from its rows by day, the hours of a partial day from its rows by hour.
 */
export const workspaceCountries = (db: Queries, workspaceId: string, by: 'day' | 'hour', from: number, to: number) =>
  db.rows<CountryRow>(
    `select country, cast(sum(total) as bigint) as total, cast(sum(human) as bigint) as human from workspace_click_country_${by}s
       where workspace_id = ? and ${by} >= ? and ${by} < ? group by country`,
    workspaceId, from, to,
  );

/** Per-link totals over the hours [fromHour, toHour) ('00'…'24') of one day. */
export const linkTotalsByHours = (db: Queries, workspaceId: string, day: number, fromHour: string, toHour: string) =>
  db.rows<LinkTotalsRow>(
    `select r.link_id, cast(sum(r.total) as bigint) as total, cast(sum(r.human) as bigint) as human, cast(sum(r.qr) as bigint) as qr
       from links l join click_rollups r on r.link_id = l.id and r.facet = 'hour' and r.day = ? and r.value >= ? and r.value < ?
       where l.workspace_id = ? group by r.link_id`,
    day, fromHour, toHour, workspaceId,
  );
