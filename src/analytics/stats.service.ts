import { originOf } from '../links/link-presenter.js';
import { clicksCsv } from './clicks-export.js';
import { DAY_MS, FACETS, type Facet, HOUR_MS } from '../clicks/rollups.js';
import type { Db } from '../db/db.js';
import type { Clock } from '../lib/clock.js';
import { errors } from '../lib/errors.js';
import { findLink } from '../links/links.repo.js';
import { requirePlanFeature } from '../workspaces/plans.js';
import {
  type BucketRow,
  type FacetRow,
  linkClickGroupsBetween,
  linkFacets,
  linkDays,
  linkHours,
  linkTotalsByDays,
  linkTotalsByHours,
  listClickRows,
  type CountryRow,
  type LinkTotalsRow,
  workspaceCountries,
  workspaceHours,
} from './stats.repo.js';
import {
  INTERVALS,
  type Interval,
  type ClicksExportQuery,
  type LinkStatsQuery,
  type ListClicksQuery,
  MAX_BUCKETS,
  resolveRange,
  type TimeRange,
  type WorkspaceStatsQuery,
} from './stats.schema.js';

export interface AnalyticsDeps {
  db: Db;
  clock: Clock;
  baseUrl(): string;
}

export interface SeriesPoint {
  t: string;
  total: number;
  human: number;
  qr: number;
}
export interface FacetCount {
  /** null: clicks without a referrer (direct, or the browser sent none). */
  value: string | null;
  total: number;
  human: number;
}

/** How many values each facet table lists (by total, then name). */
const TOP_FACET_VALUES = 10;

const floorTo = (ms: number, step: number) => ms - (((ms % step) + step) % step);
const ceilTo = (ms: number, step: number) => floorTo(ms + step - 1, step);

/**
 * Exact counts for any [from, to): whole days come from the rollups, and the partial days at
 * either edge from the clicks themselves (at most two days of one link's clicks).
 *
 * The reads are separate statements, not one transaction: a click batch committed between two
 * of them shows in the later ones only (a series total may then differ from its facets by that
 * batch). A transaction would hold SQLite's one writer for a read, and fail while the database
 * cannot be written, when analytics should still answer.
 */
export async function linkStats(deps: AnalyticsDeps, workspaceId: string, linkId: string, query: LinkStatsQuery) {
  const { db } = deps;
  await requirePlanFeature(db, workspaceId, 'analytics');
  if (!(await findLink(db, workspaceId, linkId))) throw errors.notFound(`Link ${linkId}`);
  const range = rangeOf(query, defaultEnd(deps.clock.now()));
  const interval = intervalOf(query.interval, range);

  const series = new Series(range, interval);
  const facets = new FacetCounter();
  const whole = { from: ceilTo(range.from, DAY_MS), to: floorTo(range.to, DAY_MS) };
  const rawRanges: TimeRange[] = whole.from < whole.to ? [{ from: range.from, to: whole.from }, { from: whole.to, to: range.to }] : [range];

  if (whole.from < whole.to) {
    const buckets = interval === 'day' ? await linkDays(db, linkId, whole.from, whole.to) : await linkHours(db, linkId, whole.from, whole.to);
    for (const b of buckets) series.add(b);
    for (const f of await linkFacets(db, linkId, whole.from, whole.to)) facets.add(f);
  }
  for (const r of rawRanges) {
    if (r.from >= r.to) continue;
    for (const g of await linkClickGroupsBetween(db, linkId, r.from, r.to)) {
      series.add({ at: g.hour, total: g.total, human: g.human, qr: g.qr });
      const counts = { total: g.total, human: g.human };
      facets.add({ facet: 'referrer', value: g.referrer_host ?? '', ...counts });
      facets.add({ facet: 'device', value: g.device ?? 'other', ...counts });
      facets.add({ facet: 'browser', value: g.browser ?? 'Other', ...counts });
      facets.add({ facet: 'os', value: g.os ?? 'Other', ...counts });
      facets.add({ facet: 'country', value: g.country ?? '', ...counts });
    }
  }
  return {
    linkId,
    ...series.summary(),
    referrers: facets.top('referrer'),
    devices: facets.top('device'),
    browsers: facets.top('browser'),
    os: facets.top('os'),
    countries: facets.top('country'),
  };
}
export type LinkStats = Awaited<ReturnType<typeof linkStats>>;

/** The workspace's clicks in a range (default: the last 30 days) as CSV lines (src/analytics/clicks-export.ts), once the plan is checked. */
export async function exportClicks(deps: AnalyticsDeps, workspaceId: string, query: ClicksExportQuery) {
  await requirePlanFeature(deps.db, workspaceId, 'analytics');
  const range = rangeOf(query, defaultEnd(deps.clock.now()));
  return { range, lines: clicksCsv(deps.db, deps.baseUrl(), workspaceId, range.from, range.to) };
}

/**
 * The workspace over a range of whole hours: totals and series from the workspace's hourly
 * rollup, countries from its rows by day and by hour, top links from each link's day and hour
 * totals. Clicks of links deleted since count in the totals and countries (they happened) but
 * deleted links are not listed.
 */
export async function workspaceStats(deps: AnalyticsDeps, workspaceId: string, query: WorkspaceStatsQuery) {
  const { db } = deps;
  await requirePlanFeature(db, workspaceId, 'analytics');
  const range = rangeOf(query, defaultEnd(deps.clock.now()));
  for (const field of ['from', 'to'] as const) {
    if (range[field] % HOUR_MS !== 0) {
      throw errors.validation([{ field, message: 'must be a whole UTC hour (like 2026-11-01T14:00:00Z) or a date for the workspace summary' }]);
    }
  }
  const interval = intervalOf(query.interval, range);
  const series = new Series(range, interval);

  // Whole days from the day totals; the hours of a partial day at either end from the hour totals.
  // Countries the same way, from the workspace's own rows by day and by hour. The parts (the hours,
  // the whole days, each partial day) are independent: read at once, so that on PostgreSQL the
  // summary waits for the longest, not for their sum; each part's two reads one after the other,
  // so that a summary holds at most four of the pool's connections.
  const wholeDays = { from: ceilTo(range.from, DAY_MS), to: floorTo(range.to, DAY_MS) };
  const hourOf = (ms: number, day: number) => String((ms - day) / HOUR_MS).padStart(2, '0');
  const bothOf = async (links: () => Promise<LinkTotalsRow[]>, countries: () => Promise<CountryRow[]>) => [await links(), await countries()] as const;
  const reads: Promise<readonly [LinkTotalsRow[], CountryRow[]]>[] = [];
  if (wholeDays.from < wholeDays.to) {
    reads.push(
      bothOf(
        () => linkTotalsByDays(db, workspaceId, wholeDays.from, wholeDays.to),
        () => workspaceCountries(db, workspaceId, 'day', wholeDays.from, wholeDays.to),
      ),
    );
  }
  for (let day = floorTo(range.from, DAY_MS); day < range.to; day += DAY_MS) {
    if (day >= wholeDays.from && day + DAY_MS <= wholeDays.to) continue;
    const from = Math.max(range.from, day);
    const to = Math.min(range.to, day + DAY_MS);
    reads.push(
      bothOf(
        () => linkTotalsByHours(db, workspaceId, day, hourOf(from, day), hourOf(to, day)),
        () => workspaceCountries(db, workspaceId, 'hour', from, to),
      ),
    );
  }
  const [hours, parts] = await Promise.all([workspaceHours(db, workspaceId, range.from, range.to), Promise.all(reads)]);
  for (const h of hours) series.add(h);

  const perLink = new Map<string, LinkTotalsRow>();
  const merge = (rows: LinkTotalsRow[]) => {
    for (const r of rows) {
      const seen = perLink.get(r.link_id);
      if (!seen) perLink.set(r.link_id, { ...r });
      else {
        seen.total += r.total;
        seen.human += r.human;
        seen.qr += r.qr;
      }
    }
  };
  const countries = new FacetCounter();
  for (const [links, countryRows] of parts) {
    merge(links);
    for (const c of countryRows) countries.add({ facet: 'country', value: c.country, total: c.total, human: c.human });
  }
  const ranked = [...perLink.values()].sort((a, b) => b.human - a.human || b.total - a.total || (a.link_id < b.link_id ? -1 : 1));
  const top = ranked.slice(0, query.limit);
  // Independent reads, outside any transaction: all at once.
  const links = await Promise.all(top.map((r) => findLink(db, workspaceId, r.link_id)));
  const topLinks = [];
  for (const [i, r] of top.entries()) {
    const link = links[i];
    if (!link) continue; // deleted since the totals were read
    topLinks.push({
      link: { id: link.id, slug: link.slug, shortUrl: `${originOf(link.domain, deps.baseUrl())}/${link.slug}`, title: link.title, url: link.url },
      total: r.total,
      human: r.human,
      bots: r.total - r.human,
      qr: r.qr,
    });
  }
  return { ...series.summary(), topLinks, countries: countries.top('country') };
}
export type WorkspaceStats = Awaited<ReturnType<typeof workspaceStats>>;

/** Raw clicks of a link, newest first. Visitors appear only as the salted hash of their address. */
export async function listClicks(deps: AnalyticsDeps, workspaceId: string, linkId: string, query: ListClicksQuery) {
  const { db } = deps;
  await requirePlanFeature(db, workspaceId, 'analytics');
  if (!(await findLink(db, workspaceId, linkId))) throw errors.notFound(`Link ${linkId}`);
  if (query.from !== undefined && query.to !== undefined && query.from >= query.to) throw errors.validation([{ field: 'from', message: 'must be before to' }]);
  const [beforeAt, beforeId] = query.after ? query.after.split('_').map(Number) : [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
  const rows = await listClickRows(db, {
    linkId,
    from: query.from ?? 0,
    to: query.to ?? Number.MAX_SAFE_INTEGER,
    beforeAt: beforeAt!,
    beforeId: beforeId!,
    limit: query.limit + 1,
  });
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  return {
    data: page.map((r) => ({
      id: String(r.id),
      at: new Date(r.clicked_at).toISOString(),
      bot: r.bot === 1,
      qr: r.qr === 1,
      referrer: r.referrer,
      referrerHost: r.referrer_host,
      device: r.device ?? 'other',
      browser: r.browser ?? 'Other',
      os: r.os ?? 'Other',
      country: r.country,
      /** Null unless the instance keeps raw user agents. */
      userAgent: r.user_agent,
      /** The same visitor (address) gives the same value within a UTC day; not reversible once the day's salt is deleted. */
      visitor: r.ip_hash,
    })),
    nextCursor: rows.length > query.limit && last ? `${last.clicked_at}_${last.id}` : null,
  };
}

/**
 * Ranges without `to` end with the current UTC day: whole days, so the answer comes from the
 * rollups alone (today's included), and a click made this very millisecond is in.
 */
const defaultEnd = (now: number) => ceilTo(now + 1, DAY_MS);

function rangeOf(query: { from?: number; to?: number }, defaultTo: number): TimeRange {
  const range = resolveRange(query, defaultTo);
  if ('field' in range) throw errors.validation([range]);
  return range;
}

/** The asked interval, else hours for up to three days and days beyond. */
function intervalOf(asked: Interval | undefined, range: TimeRange): Interval {
  const interval = asked ?? (range.to - range.from <= 3 * DAY_MS ? 'hour' : 'day');
  const buckets = Math.ceil((range.to - floorTo(range.from, INTERVALS[interval])) / INTERVALS[interval]);
  if (buckets > MAX_BUCKETS) {
    throw errors.validation(
      [{ field: 'interval', message: `gives ${buckets} buckets for this range; at most ${MAX_BUCKETS} (use interval=day or a shorter range)` }],
      'The range is too long for this interval.',
    );
  }
  return interval;
}

/** Every bucket of the range, zeros included, so a chart has no gaps. */
class Series {
  private readonly step: number;
  private readonly first: number;
  private readonly points: { total: number; human: number; qr: number }[];

  constructor(
    private readonly range: TimeRange,
    private readonly interval: Interval,
  ) {
    this.step = INTERVALS[interval];
    this.first = floorTo(range.from, this.step);
    const count = Math.ceil((range.to - this.first) / this.step);
    this.points = Array.from({ length: count }, () => ({ total: 0, human: 0, qr: 0 }));
  }

  add(row: BucketRow) {
    const p = this.points[Math.floor((row.at - this.first) / this.step)];
    if (!p) return; // cannot happen for rows read inside the range
    p.total += row.total;
    p.human += row.human;
    p.qr += row.qr;
  }

  summary() {
    let total = 0;
    let human = 0;
    let qr = 0;
    const series: SeriesPoint[] = this.points.map((p, i) => {
      total += p.total;
      human += p.human;
      qr += p.qr;
      return { t: new Date(this.first + i * this.step).toISOString(), ...p };
    });
    return {
      from: new Date(this.range.from).toISOString(),
      to: new Date(this.range.to).toISOString(),
      interval: this.interval,
      total,
      human,
      bots: total - human,
      qr,
      series,
    };
  }
}

class FacetCounter {
  private readonly counts = new Map<Facet, Map<string, { total: number; human: number }>>(FACETS.map((f) => [f, new Map()]));

  add(row: FacetRow) {
    const values = this.counts.get(row.facet);
    if (!values) return;
    const c = values.get(row.value);
    if (c) {
      c.total += row.total;
      c.human += row.human;
    } else values.set(row.value, { total: row.total, human: row.human });
  }

  top(facet: Facet): FacetCount[] {
    return [...this.counts.get(facet)!.entries()]
      // Plain code-unit order for ties: the same on every machine, whatever its locale.
      .sort(([va, a], [vb, b]) => b.total - a.total || (va < vb ? -1 : va > vb ? 1 : 0))
      .slice(0, TOP_FACET_VALUES)
      .map(([value, c]) => ({ value: value === '' ? null : value, ...c }));
  }
}
