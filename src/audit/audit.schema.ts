/**
 * The Audit log's filters and page, read from a query string (the page, its htmx fragment and its
 * CSV export share them, so a filtered view is a URL one can send). Parsing never throws: each
 * value that does not hold gets a message for beside its field, and is left out of the filter.
 */

/**
 * Who made the change: one member, one API key, anyone at the command line, first-run setup, or
 * another operator id (a change no one signed in made, recorded under a name of its own).
 */
export type ActorFilter = { kind: 'user' | 'key' | 'operator'; id: string } | { kind: 'cli' } | { kind: 'setup' };

export interface AuditFilter {
  actor?: ActorFilter;
  action?: string;
  targetType?: string;
  /** An id, or a name (slug, short URL, key name, webhook URL, email, host name) of a target that exists. */
  target?: string;
  /** Epoch ms: from the start of the From day (UTC)… */
  from?: number;
  /** …to the end of the To day (exclusive). */
  to?: number;
}

/** Where a page starts: just past an entry (created_at, id), towards older or newer ones. */
export interface AuditCursor {
  towards: 'older' | 'newer';
  at: number;
  id: number;
}

/** The filter fields as typed, for the form and for links that keep them. */
export interface AuditFilterValues {
  actor: string;
  action: string;
  targetType: string;
  target: string;
  from: string;
  to: string;
}

export type AuditFilterField = keyof AuditFilterValues;

export interface AuditQuery {
  values: AuditFilterValues;
  filter: AuditFilter;
  cursor: AuditCursor | undefined;
  /** Messages by field; `page` for a broken before/after. */
  errors: Partial<Record<AuditFilterField | 'page', string>>;
}

export const FILTER_FIELDS: readonly AuditFilterField[] = ['actor', 'action', 'targetType', 'target', 'from', 'to'];

/** The actor filter's values for the command line and for first-run setup. */
export const ACTOR_CLI = 'cli';
export const ACTOR_SETUP = 'setup';

/** The actor id (type operator) that first-run setup (/setup) records its changes with: "Setup page". */
export const SETUP_PAGE_ACTOR_ID = 'setup-page';

const DAY_MS = 86_400_000;
const MAX_TARGET_LENGTH = 300;
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const OPERATOR_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const ACTION = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
const TARGET_TYPE = /^[a-z][a-z0-9_]{0,39}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const CURSOR = /^(\d{1,15})-(\d{1,15})$/;

export function parseAuditQuery(query: Record<string, unknown>): AuditQuery {
  const errors: AuditQuery['errors'] = {};
  const single = (name: string): string => {
    const v = query[name];
    if (v === undefined) return '';
    if (typeof v === 'string') return v.trim();
    // ?action=a&action=b (or ?action[x]=…): each filter takes one value.
    errors[name as AuditFilterField] = 'Choose one value.';
    return '';
  };
  const values: AuditFilterValues = {
    actor: single('actor'),
    action: single('action'),
    targetType: single('targetType'),
    target: single('target'),
    from: single('from'),
    to: single('to'),
  };
  const filter: AuditFilter = {};
  const refuse = (field: AuditFilterField, message: string) => {
    errors[field] ??= message;
  };

  if (values.actor) {
    const actor = actorFilterOf(values.actor);
    if (actor) filter.actor = actor;
    else refuse('actor', 'Choose who from the list.');
  }
  if (values.action) {
    if (values.action.length <= 64 && ACTION.test(values.action)) filter.action = values.action;
    else refuse('action', 'Choose an action from the list.');
  }
  if (values.targetType) {
    if (TARGET_TYPE.test(values.targetType)) filter.targetType = values.targetType;
    else refuse('targetType', 'Choose a kind of target from the list.');
  }
  if (values.target) {
    if (values.target.length <= MAX_TARGET_LENGTH) filter.target = values.target;
    else refuse('target', `At most ${MAX_TARGET_LENGTH} characters.`);
  }
  const from = values.from ? dayStart(values.from) : undefined;
  const to = values.to ? dayStart(values.to) : undefined;
  if (from === null) refuse('from', 'Not a day: enter one as YYYY-MM-DD.');
  if (to === null) refuse('to', 'Not a day: enter one as YYYY-MM-DD.');
  if (typeof from === 'number' && typeof to === 'number' && to < from) refuse('to', 'Must be on or after the From date.');
  else {
    if (typeof from === 'number') filter.from = from;
    if (typeof to === 'number') filter.to = to + DAY_MS;
  }

  let cursor: AuditCursor | undefined;
  const before = typeof query.before === 'string' ? query.before : undefined;
  const after = typeof query.after === 'string' ? query.after : undefined;
  const broken = () => (errors.page = 'This page’s address is not one the Audit log made: start again from the newest entries.');
  if ((query.before !== undefined && before === undefined) || (query.after !== undefined && after === undefined) || (before && after)) broken();
  else if (before || after) {
    const m = CURSOR.exec((before ?? after)!);
    if (m) cursor = { towards: before ? 'older' : 'newer', at: Number(m[1]), id: Number(m[2]) };
    else broken();
  }
  return { values, filter, cursor, errors };
}

function actorFilterOf(value: string): ActorFilter | undefined {
  if (value === ACTOR_CLI) return { kind: 'cli' };
  if (value === ACTOR_SETUP) return { kind: 'setup' };
  const colon = value.indexOf(':');
  const kind = value.slice(0, colon);
  const id = value.slice(colon + 1);
  if ((kind === 'user' || kind === 'key') && ID.test(id)) return { kind, id };
  if (kind === 'operator' && OPERATOR_ID.test(id)) return id === SETUP_PAGE_ACTOR_ID ? { kind: 'setup' } : isCliActor(id) ? { kind: 'cli' } : { kind, id };
  return undefined;
}

/** Whether an operator id is the command line's: "cli:<OS account>" (src/cli/command.ts), "cli:import". */
export const isCliActor = (operatorId: string) => operatorId.startsWith('cli:');

/** The actor filter's value for an entry's actor (the form's options). */
export function actorValue(type: string, id: string): string {
  if (type !== 'operator') return `${type}:${id}`;
  return id === SETUP_PAGE_ACTOR_ID ? ACTOR_SETUP : isCliActor(id) ? ACTOR_CLI : `operator:${id}`;
}

/** 00:00 UTC of a YYYY-MM-DD day, or null when the text is no such day. */
function dayStart(text: string): number | null {
  const m = DATE.exec(text);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  // Date.UTC rolls 2026-02-30 over to March: a day that does not exist is refused.
  if (y < 1970 || back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return null;
  return ms;
}

/** The cursor text of an entry: what `before`/`after` carry. */
export const cursorOf = (entry: { createdAt: number; id: number }) => `${entry.createdAt}-${entry.id}`;

/** A query string holding only the filters in use (and the page, if any), for links and the CSV. */
export function auditQueryString(values: AuditFilterValues, page?: { before: string } | { after: string }): string {
  const params = new URLSearchParams();
  for (const field of FILTER_FIELDS) if (values[field]) params.set(field, values[field]);
  if (page && 'before' in page) params.set('before', page.before);
  if (page && 'after' in page) params.set('after', page.after);
  return params.size > 0 ? `?${params}` : '';
}
