import { stringify } from 'csv-stringify/sync';
import type { Queries } from '../db/db.js';
import { guardCell } from '../imports/link-csv.js';
import { actionLabel } from './action-labels.js';
import { idsNamed, liveNames } from './audit-names.repo.js';
import { namesNeeded, operatorName, type PresentedEntry, presentActor, presentEntry, targetTypeLabel } from './audit-presenter.js';
import { type AuditRowFilter, distinctAuditActors, distinctAuditValues, selectAuditRows } from './audit.repo.js';
import { ACTOR_CLI, ACTOR_SETUP, type AuditCursor, type AuditFilter, type AuditFilterValues, cursorOf, isCliActor, SETUP_PAGE_ACTOR_ID } from './audit.schema.js';

/** Reading a workspace's audit log: a page of it, the filters' choices, all of it as CSV. */

export interface AuditReadDeps {
  db: Queries;
  /** Base of short URLs: a link target shows as its short URL. */
  baseUrl(): string;
}

export const AUDIT_PAGE_SIZE = 50;

export interface AuditPage {
  entries: PresentedEntry[];
  /** The cursors of the pages beside this one (`before` / `after`), when there are entries there. */
  older?: string;
  newer?: string;
}

/**
 * One page of entries matching the filter, newest first, starting past the cursor. Pages stay the
 * same size and meet without a gap or an overlap in both directions; going newer past the newest
 * full page gives the newest page.
 */
export async function readAuditPage(deps: AuditReadDeps, workspaceId: string, filter: AuditFilter, cursor: AuditCursor | undefined, size = AUDIT_PAGE_SIZE): Promise<AuditPage> {
  const where = await rowFilterOf(deps.db, workspaceId, filter);
  let rows = await selectAuditRows(deps.db, where, cursor, size + 1);
  let hasOlder: boolean;
  let hasNewer: boolean;
  if (cursor?.towards === 'newer' && rows.length >= size) {
    // The one beyond the page is the newest of them (rows come newest first).
    hasNewer = rows.length > size;
    rows = rows.slice(rows.length - size);
    hasOlder = true;
  } else {
    // Less than a page newer than the cursor: the newest page, full, rather than a short one.
    if (cursor?.towards === 'newer') rows = await selectAuditRows(deps.db, where, undefined, size + 1);
    hasOlder = rows.length > size;
    hasNewer = cursor?.towards === 'older';
    rows = rows.slice(0, size);
  }
  const names = await liveNames(deps.db, workspaceId, namesNeeded(rows));
  const entries = rows.map((r) => presentEntry(r, names, deps.baseUrl()));
  const first = entries[0];
  const last = entries[entries.length - 1];
  return {
    entries,
    ...(hasOlder && last ? { older: cursorOf(last) } : {}),
    ...(hasNewer && first ? { newer: cursorOf(first) } : {}),
  };
}

export interface Choice {
  value: string;
  label: string;
}

export interface AuditChoices {
  actors: { label: string; choices: Choice[] }[];
  actions: Choice[];
  targetTypes: Choice[];
}

/**
 * The filters' options: the actors, actions and kinds of target present in the workspace's log
 * (a value chosen in the URL but absent from the log stays listed, so it shows as chosen).
 */
export async function auditFilterChoices(deps: AuditReadDeps, workspaceId: string, chosen: AuditFilterValues): Promise<AuditChoices> {
  const { db } = deps;
  const [actions, targetTypes, userIds, keyIds, operatorIds] = await Promise.all([
    distinctAuditValues(db, workspaceId, 'action'),
    distinctAuditValues(db, workspaceId, 'target_type'),
    distinctAuditActors(db, workspaceId, 'user'),
    distinctAuditActors(db, workspaceId, 'key'),
    distinctAuditActors(db, workspaceId, 'operator'),
  ]);
  const names = await liveNames(db, workspaceId, { users: userIds, keys: keyIds });
  const byLabel = (a: Choice, b: Choice) => a.label.localeCompare(b.label);
  const actorChoices = (type: 'user' | 'key', ids: string[]) =>
    ids.map((id) => presentActor(type, id, names)).map((a) => ({ value: a.filterValue, label: a.name })).sort(byLabel);
  const other: Choice[] = [];
  if (operatorIds.some(isCliActor)) other.push({ value: ACTOR_CLI, label: 'Command line' });
  if (operatorIds.includes(SETUP_PAGE_ACTOR_ID)) other.push({ value: ACTOR_SETUP, label: 'Setup page' });
  for (const id of operatorIds.filter((id) => id !== SETUP_PAGE_ACTOR_ID && !isCliActor(id))) other.push({ value: `operator:${id}`, label: operatorName(id) });
  const actors = [
    { label: 'Users', choices: actorChoices('user', userIds) },
    { label: 'API keys', choices: actorChoices('key', keyIds) },
    { label: 'Other', choices: other },
  ];
  const listed = (choices: Choice[], value: string, label: (v: string) => string) =>
    value === '' || choices.some((c) => c.value === value) ? choices : [...choices, { value, label: label(value) }];
  if (chosen.actor && !actors.some((g) => g.choices.some((c) => c.value === chosen.actor))) actors[2]!.choices.push({ value: chosen.actor, label: chosen.actor });
  return {
    actors: actors.filter((g) => g.choices.length > 0),
    actions: listed(actions.map((a) => ({ value: a, label: actionLabel(a) })).sort(byLabel), chosen.action, actionLabel),
    targetTypes: listed(targetTypes.map((t) => ({ value: t, label: targetTypeLabel(t) })).sort(byLabel), chosen.targetType, targetTypeLabel),
  };
}

/** The CSV's columns: `actor` and `target` are the names the page shows, the ids beside them. */
export const AUDIT_CSV_COLUMNS = ['id', 'at', 'actor', 'actorType', 'actorId', 'action', 'targetType', 'targetId', 'target', 'targetDeleted', 'ip', 'summary'] as const;

/** Entries read per query when exporting. */
const CSV_BATCH = 1_000;

const csvLine = (cells: readonly (string | number | null)[]) =>
  stringify([cells.map((c) => (c === null ? '' : guardCell(String(c))))], { quoted: true, record_delimiter: '\r\n' });

/**
 * Every entry matching the filter as CSV, newest first, streamed a batch at a time (names resolved
 * per batch, as for a page): memory stays flat however long the log. `bom` for Excel.
 */
export async function* auditCsv(deps: AuditReadDeps, workspaceId: string, filter: AuditFilter, bom = false) {
  yield `${bom ? '\uFEFF' : ''}${csvLine(AUDIT_CSV_COLUMNS)}`;
  const where = await rowFilterOf(deps.db, workspaceId, filter);
  let cursor: AuditCursor | undefined;
  for (;;) {
    const rows = await selectAuditRows(deps.db, where, cursor, CSV_BATCH);
    const names = await liveNames(deps.db, workspaceId, namesNeeded(rows));
    yield rows
      .map((r) => presentEntry(r, names, deps.baseUrl()))
      .map((e) =>
        csvLine([
          e.id, e.at, e.actor.name, e.actor.type, e.actor.id, e.action, e.target.type, e.target.id, e.target.name,
          e.target.id === null ? null : e.target.gone ? 'true' : 'false', e.ip, JSON.stringify(e.summary),
        ]),
      )
      .join('');
    if (rows.length < CSV_BATCH) return;
    const last = rows[rows.length - 1]!;
    cursor = { towards: 'older', at: last.created_at, id: last.id };
  }
}

/** The filter as the conditions the audit log's indexes answer (names looked up to ids first). */
async function rowFilterOf(db: Queries, workspaceId: string, f: AuditFilter): Promise<AuditRowFilter> {
  const where: AuditRowFilter = { workspaceId };
  const actor = f.actor;
  if (actor?.kind === 'user' || actor?.kind === 'key' || actor?.kind === 'operator') Object.assign(where, { actorType: actor.kind, actorIds: [actor.id] });
  if (actor?.kind === 'setup') Object.assign(where, { actorType: 'operator', actorIds: [SETUP_PAGE_ACTOR_ID] });
  if (actor?.kind === 'cli') {
    // The command line's ids, listed: equalities the actor index answers, where a prefix would not be.
    const ids = await distinctAuditActors(db, workspaceId, 'operator');
    Object.assign(where, { actorType: 'operator', actorIds: ids.filter(isCliActor) });
  }
  if (f.action) where.action = f.action;
  if (f.targetType) where.targetType = f.targetType;
  if (f.target) {
    const named = await idsNamed(db, workspaceId, { text: f.target, slug: slugOf(f.target) }, f.targetType ? new Set([f.targetType]) : undefined);
    // The text itself too: an id, or the id of a target deleted since.
    where.targetIds = [...new Set([f.target, ...named])].slice(0, 100);
  }
  if (f.from !== undefined) where.from = f.from;
  if (f.to !== undefined) where.to = f.to;
  return where;
}

/** A link's slug from what one may paste: "promo", "/promo", "go.example/promo" or its short URL. */
function slugOf(text: string): string {
  const path = text.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const slash = path.lastIndexOf('/');
  return slash < 0 ? path : path.slice(slash + 1);
}
