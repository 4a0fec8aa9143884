import { addCounts, ROLLUP_FACETS, type LinkRollup, type RollupFacet, type Rollups, type WorkspaceCountry, type WorkspaceHour } from './rollups.js';

/**
 * A batch's rollups as pending_rollups rows keep them until they are applied
 * (src/clicks/rollup-applier.ts). JSON, each link-day's rows in one array:
 *   {"links": [[linkId, day, facet, value, total, human, qr, facet, value, total, human, qr, …], …],
 *    "hours": [[workspaceId, hour, total, human, qr], …],
 *    "countries": [[workspaceId, hour, country, total, human, qr], …]}
 * cut into pieces of at most `maxRows` link rows (the workspace hours and countries go with the
 * first). A row written by one version may be applied by the next after an upgrade: the format
 * may gain fields, never change the meaning of these.
 *
 * Before migration 0022 the workspace hours were "workspaces" and there were no countries; 0022
 * rewrote the rows pending then (their clicks' countries are in its backfill). The new name keeps
 * an older version's applier off this version's rows: it cannot read them and leaves them to an
 * instance that can. A row of the old form that comes later (an older instance left running
 * during the upgrade, which README's upgrade notes say to stop) is still applied, without
 * countries: its totals count, its countries cannot be known from it.
 */
export function encodeRollups(rollups: Rollups, maxRows: number): string[] {
  const pieces: (string | number)[][][] = [[]];
  let rows = 0;
  let current: (string | number)[] | undefined;
  // rollUp gives a link-day's rows together; a new array starts wherever the link-day changes.
  for (const r of rollups.links) {
    if (rows === maxRows) {
      pieces.push([]);
      rows = 0;
      current = undefined;
    }
    if (!current || current[0] !== r.linkId || current[1] !== r.day) pieces[pieces.length - 1]!.push((current = [r.linkId, r.day]));
    current.push(r.facet, r.value, r.total, r.human, r.qr);
    rows++;
  }
  return pieces.map((linkDays, i) =>
    JSON.stringify({
      links: linkDays,
      hours: i === 0 ? rollups.workspaces.map((w) => [w.workspaceId, w.hour, w.total, w.human, w.qr]) : [],
      countries: i === 0 ? rollups.countries.map((c) => [c.workspaceId, c.hour, c.country, c.total, c.human, c.qr]) : [],
    }),
  );
}

const FACET_NAMES = new Set<unknown>(ROLLUP_FACETS);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** The sums of pending batches' rollups, one row per key. */
export class RollupSums {
  /** Each link-day's rows, by facet and value. */
  private readonly linkDays = new Map<string, Map<string, LinkRollup>>();
  private readonly workspaces = new Map<string, WorkspaceHour>();
  private readonly countries = new Map<string, WorkspaceCountry>();
  private linkRowCount = 0;

  /** Adds one pending row's rollups. Throws, adding nothing, on a row this version cannot read. */
  add(encoded: string): void {
    const { links, hours, countries } = readable(JSON.parse(encoded));
    for (const linkDay of links) {
      const linkId = linkDay[0] as string;
      const day = linkDay[1] as number;
      const dayKey = `${linkId}\u0000${day}`;
      let rows = this.linkDays.get(dayKey);
      if (!rows) this.linkDays.set(dayKey, (rows = new Map()));
      for (let i = 2; i < linkDay.length; i += 5) {
        const facet = linkDay[i] as RollupFacet;
        const value = linkDay[i + 1] as string;
        const key = `${facet}\u0000${value}`;
        const total = linkDay[i + 2] as number;
        const human = linkDay[i + 3] as number;
        const qr = linkDay[i + 4] as number;
        const sum = rows.get(key);
        if (sum) addCounts(sum, total, human, qr);
        else {
          rows.set(key, { linkId, day, facet, value, total, human, qr });
          this.linkRowCount++;
        }
      }
    }
    for (const w of hours) {
      const key = `${w[0]}\u0000${w[1]}`;
      const [total, human, qr] = [w[2] as number, w[3] as number, w[4] as number];
      const sum = this.workspaces.get(key);
      if (sum) addCounts(sum, total, human, qr);
      else this.workspaces.set(key, { workspaceId: w[0] as string, hour: w[1] as number, total, human, qr });
    }
    for (const c of countries) this.addCountry(c[0] as string, c[1] as number, c[2] as string, c[3] as number, c[4] as number, c[5] as number);
  }

  /** How many rows the sums add to. */
  get size(): number {
    return this.linkRowCount + this.workspaces.size + this.countries.size;
  }

  get linkRows(): LinkRollup[] {
    const rows: LinkRollup[] = [];
    for (const day of this.linkDays.values()) for (const row of day.values()) rows.push(row);
    return rows;
  }

  get workspaceRows(): WorkspaceHour[] {
    return [...this.workspaces.values()];
  }

  get countryRows(): WorkspaceCountry[] {
    return [...this.countries.values()];
  }

  private addCountry(workspaceId: string, hour: number, country: string, total: number, human: number, qr: number) {
    const key = `${workspaceId}\u0000${hour}\u0000${country}`;
    const sum = this.countries.get(key);
    if (sum) addCounts(sum, total, human, qr);
    else this.countries.set(key, { workspaceId, hour, country, total, human, qr });
  }
}

/** The parsed JSON of a pending row, checked whole before any of it is added. */
function readable(parsed: unknown): { links: unknown[][]; hours: unknown[][]; countries: unknown[][] } {
  const { links, hours, workspaces, countries } = (parsed ?? {}) as Record<string, unknown>;
  const current = Array.isArray(hours) && Array.isArray(countries);
  if (!Array.isArray(links) || !(current || Array.isArray(workspaces))) throw new Error('links, or hours and countries, missing');
  for (const linkDay of links as unknown[]) {
    if (!Array.isArray(linkDay) || linkDay.length % 5 !== 2) throw new Error('a link-day of the wrong length');
    if (typeof linkDay[0] !== 'string' || !isCount(linkDay[1])) throw new Error('a link-day without link or day');
    for (let i = 2; i < linkDay.length; i += 5) {
      if (!FACET_NAMES.has(linkDay[i]) || typeof linkDay[i + 1] !== 'string' || !isCount(linkDay[i + 2]) || !isCount(linkDay[i + 3]) || !isCount(linkDay[i + 4])) {
        throw new Error('a row this version cannot read');
      }
      // A link-day's total is one row (workspace_link_days has no value column to tell two apart).
      if (linkDay[i] === 'all' && linkDay[i + 1] !== '') throw new Error('a day total with a value');
    }
  }
  const hourRows = (current ? hours : workspaces) as unknown[];
  for (const w of hourRows) {
    if (!Array.isArray(w) || typeof w[0] !== 'string' || !isCount(w[1]) || !isCount(w[2]) || !isCount(w[3]) || !isCount(w[4])) {
      throw new Error('a workspace hour this version cannot read');
    }
  }
  if (current) {
    for (const c of countries as unknown[]) {
      if (!Array.isArray(c) || typeof c[0] !== 'string' || !isCount(c[1]) || typeof c[2] !== 'string' || !isCount(c[3]) || !isCount(c[4]) || !isCount(c[5])) {
        throw new Error('a workspace country this version cannot read');
      }
    }
  }
  return { links: links as unknown[][], hours: hourRows as unknown[][], countries: current ? (countries as unknown[][]) : [] };
}

