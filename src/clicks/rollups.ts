import type { ClickRecord } from './clicks.repo.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** The facets of click_rollups: `all` (day totals), `hour` ('00'…'23'), and what a click was classified as. */
export const FACETS = ['referrer', 'device', 'browser', 'os', 'country'] as const;
export type Facet = (typeof FACETS)[number];
export type RollupFacet = 'all' | 'hour' | Facet;
export const ROLLUP_FACETS: readonly RollupFacet[] = ['all', 'hour', ...FACETS];

export interface Counts {
  total: number;
  human: number;
  qr: number;
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

export const hourValue = (at: number) => String(Math.floor((at % DAY_MS) / HOUR_MS)).padStart(2, '0');

/** What one batch of clicks adds to the rollup tables: one row per key the batch touches. */
export function rollUp(clicks: readonly ClickRecord[]): { links: LinkRollup[]; workspaces: WorkspaceHour[] } {
  // First the clicks alike in everything the rollups keep (one key per click: this loop runs on
  // every redirect's batch), then each kind of click spread over its seven facet rows.
  const kinds = new Map<string, Counts & { click: ClickRecord; hour: number }>();
  for (const click of clicks) {
    const hour = click.at - (click.at % HOUR_MS);
    const key = `${click.linkId}\u0000${hour}\u0000${click.referrerHost ?? ''}\u0000${click.device}\u0000${click.browser}\u0000${click.os}\u0000${click.country ?? ''}`;
    let kind = kinds.get(key);
    if (!kind) kinds.set(key, (kind = { click, hour, total: 0, human: 0, qr: 0 }));
    kind.total++;
    if (!click.bot) kind.human++;
    if (click.qr) kind.qr++;
  }

  const links = new Map<string, LinkRollup>();
  const workspaces = new Map<string, WorkspaceHour>();
  const add = (c: Counts, k: Counts) => {
    c.total += k.total;
    c.human += k.human;
    c.qr += k.qr;
  };
  for (const kind of kinds.values()) {
    const { click, hour } = kind;
    const day = hour - (hour % DAY_MS);
    const rows: [RollupFacet, string][] = [
      ['all', ''],
      ['hour', hourValue(hour)],
      ['referrer', click.referrerHost ?? ''],
      ['device', click.device],
      ['browser', click.browser],
      ['os', click.os],
      ['country', click.country ?? ''],
    ];
    for (const [facet, value] of rows) {
      const key = `${click.linkId}\u0000${facet}\u0000${day}\u0000${value}`;
      let row = links.get(key);
      if (!row) links.set(key, (row = { linkId: click.linkId, facet, day, value, total: 0, human: 0, qr: 0 }));
      add(row, kind);
    }
    const wsKey = `${click.workspaceId}\u0000${hour}`;
    let wh = workspaces.get(wsKey);
    if (!wh) workspaces.set(wsKey, (wh = { workspaceId: click.workspaceId, hour, total: 0, human: 0, qr: 0 }));
    add(wh, kind);
  }
  return { links: [...links.values()], workspaces: [...workspaces.values()] };
}
