import type { ClickRecord } from './clicks.repo.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/**
 * The facets of a link's rollups: `all` (its day totals, kept in workspace_link_days), and those of
 * click_rollups: `hour` ('00'…'23') and what a click was classified as.
 */
export const FACETS = ['referrer', 'device', 'browser', 'os', 'country'] as const;
export type Facet = (typeof FACETS)[number];
export type RollupFacet = 'all' | 'hour' | Facet;
export const ROLLUP_FACETS: readonly RollupFacet[] = ['all', 'hour', ...FACETS];

export interface Counts {
  total: number;
  human: number;
  qr: number;
}

export function addCounts(sum: Counts, total: number, human: number, qr: number): void {
  sum.total += total;
  sum.human += human;
  sum.qr += qr;
}

export interface LinkRollup extends Counts {
  linkId: string;
  facet: RollupFacet;
  /** UTC midnight, epoch ms. */
  day: number;
  /** '' for `all`, for a click without a referrer host and one of unknown country; '00'…'23' for `hour`. */
  value: string;
}
export interface WorkspaceHour extends Counts {
  workspaceId: string;
  hour: number;
}
export interface WorkspaceCountry extends Counts {
  workspaceId: string;
  /** Start of the UTC hour, epoch ms. */
  hour: number;
  /** ISO 3166-1 alpha-2, or '' unknown. */
  country: string;
}

export const hourValue = (at: number) => String(Math.floor((at % DAY_MS) / HOUR_MS)).padStart(2, '0');

/** The rows one link has on one UTC day, by facet and value. */
interface LinkDay {
  linkId: string;
  day: number;
  rows: Record<RollupFacet, Map<string, LinkRollup>>;
}

/** The counters one click adds to: its link-day's row of each facet, its workspace-hour, and that hour's row of its country. */
type Targets = [Counts, Counts, Counts, Counts, Counts, Counts, Counts, Counts, Counts];

export interface Rollups {
  links: LinkRollup[];
  workspaces: WorkspaceHour[];
  countries: WorkspaceCountry[];
}

/** What one batch of clicks adds to the rollup tables: one row per key the batch touches. */
export function rollUp(clicks: readonly ClickRecord[]): Rollups {
  const linkDays = new Map<string, LinkDay>();
  const workspaces = new Map<string, WorkspaceHour>();
  const countries = new Map<string, WorkspaceCountry>();
  const rowOf = (linkDay: LinkDay, facet: RollupFacet, value: string): LinkRollup => {
    const byValue = linkDay.rows[facet];
    let row = byValue.get(value);
    if (!row) byValue.set(value, (row = { linkId: linkDay.linkId, facet, day: linkDay.day, value, total: 0, human: 0, qr: 0 }));
    return row;
  };
  // Clicks alike in everything the rollups keep tend to come together (one link's visitors, one
  // agent): such a click adds to the previous click's counters without looking them up again.
  let last: ClickRecord | undefined;
  let lastHour = -1;
  let targets: Targets | undefined;
  for (const click of clicks) {
    const hour = click.at - (click.at % HOUR_MS);
    if (
      !targets ||
      hour !== lastHour ||
      click.linkId !== last!.linkId ||
      click.workspaceId !== last!.workspaceId ||
      click.referrerHost !== last!.referrerHost ||
      click.device !== last!.device ||
      click.browser !== last!.browser ||
      click.os !== last!.os ||
      click.country !== last!.country
    ) {
      const day = hour - (hour % DAY_MS);
      const dayKey = `${click.linkId}\u0000${day}`;
      let linkDay = linkDays.get(dayKey);
      if (!linkDay) {
        const rows = { all: new Map(), hour: new Map(), referrer: new Map(), device: new Map(), browser: new Map(), os: new Map(), country: new Map() };
        linkDays.set(dayKey, (linkDay = { linkId: click.linkId, day, rows }));
      }
      const wsKey = `${click.workspaceId}\u0000${hour}`;
      let wh = workspaces.get(wsKey);
      if (!wh) workspaces.set(wsKey, (wh = { workspaceId: click.workspaceId, hour, total: 0, human: 0, qr: 0 }));
      const country = click.country ?? '';
      const countryKey = `${wsKey}\u0000${country}`;
      let wc = countries.get(countryKey);
      if (!wc) countries.set(countryKey, (wc = { workspaceId: click.workspaceId, hour, country, total: 0, human: 0, qr: 0 }));
      targets = [
        rowOf(linkDay, 'all', ''),
        rowOf(linkDay, 'hour', hourValue(hour)),
        rowOf(linkDay, 'referrer', click.referrerHost ?? ''),
        rowOf(linkDay, 'device', click.device),
        rowOf(linkDay, 'browser', click.browser),
        rowOf(linkDay, 'os', click.os),
        rowOf(linkDay, 'country', country),
        wh,
        wc,
      ];
      last = click;
      lastHour = hour;
    }
    const human = click.bot ? 0 : 1;
    const qr = click.qr ? 1 : 0;
    for (const c of targets) {
      c.total++;
      c.human += human;
      c.qr += qr;
    }
  }
  const links: LinkRollup[] = [];
  for (const linkDay of linkDays.values()) for (const facet of ROLLUP_FACETS) links.push(...linkDay.rows[facet].values());
  return { links, workspaces: [...workspaces.values()], countries: [...countries.values()] };
}
