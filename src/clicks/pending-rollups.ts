import { ROLLUP_FACETS, type LinkRollup, type RollupFacet, type WorkspaceHour } from './rollups.js';

/**
 * A batch's rollups as pending_rollups rows keep them until they are applied
 * (src/clicks/rollup-applier.ts). JSON, each link-day's rows in one array:
 *   {"links": [[linkId, day, facet, value, total, human, qr, facet, value, total, human, qr, …], …],
 *    "workspaces": [[workspaceId, hour, total, human, qr], …]}
 * cut into pieces of at most `maxRows` link rows (the workspace hours go with the first). A row
 * written by one version may be applied by the next after an upgrade: the format may gain
 * fields, never change the meaning of these.
 */
export function encodeRollups(links: readonly LinkRollup[], workspaces: readonly WorkspaceHour[], maxRows: number): string[] {
  const pieces: (string | number)[][][] = [[]];
  let rows = 0;
  let current: (string | number)[] | undefined;
  // rollUp gives a link-day's rows together; a new array starts wherever the link-day changes.
  for (const r of links) {
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
    JSON.stringify({ links: linkDays, workspaces: i === 0 ? workspaces.map((w) => [w.workspaceId, w.hour, w.total, w.human, w.qr]) : [] }),
  );
}

const FACET_NAMES = new Set<unknown>(ROLLUP_FACETS);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** The sums of pending batches' rollups, one row per key. */
export class RollupSums {
  /** Each link-day's rows, by facet and value. */
  private readonly linkDays = new Map<string, Map<string, LinkRollup>>();
  private readonly workspaces = new Map<string, WorkspaceHour>();
  private linkRowCount = 0;

  /** Adds one pending row's rollups. Throws, adding nothing, on a row this version cannot read. */
  add(encoded: string): void {
    const { links, workspaces } = readable(JSON.parse(encoded));
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
    for (const w of workspaces) {
      const key = `${w[0]}\u0000${w[1]}`;
      const [total, human, qr] = [w[2] as number, w[3] as number, w[4] as number];
      const sum = this.workspaces.get(key);
      if (sum) addCounts(sum, total, human, qr);
      else this.workspaces.set(key, { workspaceId: w[0] as string, hour: w[1] as number, total, human, qr });
    }
  }

  /** How many rows the sums add to. */
  get size(): number {
    return this.linkRowCount + this.workspaces.size;
  }

  get linkRows(): LinkRollup[] {
    const rows: LinkRollup[] = [];
    for (const day of this.linkDays.values()) for (const row of day.values()) rows.push(row);
    return rows;
  }

  get workspaceRows(): WorkspaceHour[] {
    return [...this.workspaces.values()];
  }
}

/** The parsed JSON of a pending row, checked whole before any of it is added. */
function readable(parsed: unknown): { links: unknown[][]; workspaces: unknown[][] } {
  const { links, workspaces } = (parsed ?? {}) as { links?: unknown; workspaces?: unknown };
  if (!Array.isArray(links) || !Array.isArray(workspaces)) throw new Error('links or workspaces missing');
  for (const linkDay of links as unknown[]) {
    if (!Array.isArray(linkDay) || linkDay.length % 5 !== 2) throw new Error('a link-day of the wrong length');
    if (typeof linkDay[0] !== 'string' || !isCount(linkDay[1])) throw new Error('a link-day without link or day');
    for (let i = 2; i < linkDay.length; i += 5) {
      if (!FACET_NAMES.has(linkDay[i]) || typeof linkDay[i + 1] !== 'string' || !isCount(linkDay[i + 2]) || !isCount(linkDay[i + 3]) || !isCount(linkDay[i + 4])) {
        throw new Error('a row this version cannot read');
      }
    }
  }
  for (const w of workspaces as unknown[]) {
    if (!Array.isArray(w) || typeof w[0] !== 'string' || !isCount(w[1]) || !isCount(w[2]) || !isCount(w[3]) || !isCount(w[4])) {
      throw new Error('a workspace hour this version cannot read');
    }
  }
  return { links: links as unknown[][], workspaces: workspaces as unknown[][] };
}

function addCounts(sum: { total: number; human: number; qr: number }, total: number, human: number, qr: number) {
  sum.total += total;
  sum.human += human;
  sum.qr += qr;
}
