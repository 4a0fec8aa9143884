import { originOf } from '../links/link-presenter.js';
import { actionLabel } from './action-labels.js';
import type { LiveNames, NameRequest } from './audit-names.repo.js';
import type { AuditEntryRow } from './audit.repo.js';
import { OUTSIDE_ACTOR } from './audit.js';
import { actorValue, isCliActor, SETUP_PAGE_ACTOR_ID } from './audit.schema.js';

/** An entry as people read it: names instead of ids, with a link to what still exists. */
export interface PresentedEntry {
  id: number;
  createdAt: number;
  /** ISO 8601, UTC. */
  at: string;
  actor: PresentedActor;
  action: string;
  actionLabel: string;
  target: PresentedTarget;
  /** The summary, one "field: value" (or "field: from → to") per line. */
  details: string[];
  summary: Record<string, unknown>;
  ip: string | null;
}

export interface PresentedActor {
  type: string;
  id: string;
  /** The member's email, the key's name, "Command line" or "Setup page". */
  name: string;
  /** What kind of actor, in words ("User", "API key", the OS account at the command line). */
  kind: string;
  href?: string;
  /** Its value in the actor filter. */
  filterValue: string;
}

export interface PresentedTarget {
  type: string;
  typeLabel: string;
  id: string | null;
  /** Its name today, or (once deleted) the one the entry recorded; null when neither is known. */
  name: string | null;
  href?: string;
  /** It no longer exists in this workspace. */
  gone: boolean;
}

const TARGET_TYPE_LABELS: Readonly<Record<string, string>> = {
  link: 'Link',
  api_key: 'API key',
  webhook_endpoint: 'Webhook',
  user: 'User',
  domain: 'Domain',
  import: 'Import',
  workspace: 'Workspace',
  instance: 'Instance',
  plan: 'Plan',
};

/** A kind of target for people; an unknown one as its id, underscores as spaces. */
export const targetTypeLabel = (type: string) => TARGET_TYPE_LABELS[type] ?? type.replace(/_/g, ' ');

/** The ids a page of entries needs names for, by kind: targets and actors alike. */
export function namesNeeded(rows: readonly AuditEntryRow[]): NameRequest {
  const sets = { links: new Set<string>(), keys: new Set<string>(), webhooks: new Set<string>(), users: new Set<string>(), domains: new Set<string>(), imports: new Set<string>(), workspaces: new Set<string>() };
  const kindOf: Record<string, keyof typeof sets> = { link: 'links', api_key: 'keys', webhook_endpoint: 'webhooks', user: 'users', domain: 'domains', import: 'imports', workspace: 'workspaces' };
  for (const r of rows) {
    if (r.actor_type === 'user') sets.users.add(r.actor_id);
    if (r.actor_type === 'key') sets.keys.add(r.actor_id);
    const kind = kindOf[r.target_type];
    if (kind && r.target_id) sets[kind].add(r.target_id);
  }
  const list = (set: Set<string>) => [...set];
  return {
    links: list(sets.links), keys: list(sets.keys), webhooks: list(sets.webhooks), users: list(sets.users),
    domains: list(sets.domains), imports: list(sets.imports), workspaces: list(sets.workspaces),
  };
}

export function presentEntry(r: AuditEntryRow, names: LiveNames, baseUrl: string): PresentedEntry {
  const summary = JSON.parse(r.summary) as Record<string, unknown>;
  return {
    id: r.id,
    createdAt: r.created_at,
    at: new Date(r.created_at).toISOString(),
    actor: presentActor(r.actor_type, r.actor_id, names),
    action: r.action,
    actionLabel: actionLabel(r.action),
    target: presentTarget(r.target_type, r.target_id, summary, names, baseUrl),
    details: describeSummary(summary),
    summary,
    ip: r.ip,
  };
}

export function presentActor(type: string, id: string, names: Pick<LiveNames, 'users' | 'keys'>): PresentedActor {
  const filterValue = actorValue(type, id);
  if (type === 'user') return { type, id, name: names.users.get(id)?.email ?? id, kind: 'User', filterValue };
  if (type === 'key') {
    const name = names.keys.get(id);
    return { type, id, name: name ?? id, kind: `API key · ${id}`, ...(name === undefined ? {} : { href: `/admin/api#key-${id}` }), filterValue };
  }
  if (id === SETUP_PAGE_ACTOR_ID) return { type, id, name: 'Setup page', kind: 'First-run setup', filterValue };
  if (isCliActor(id)) return { type, id, name: 'Command line', kind: `as ${id.slice(4)}`, filterValue };
  if (id === OUTSIDE_ACTOR.id) return { type, id, name: 'Someone outside this workspace', kind: 'An owner of another workspace, or an instance admin', filterValue };
  // A page or link that changes something with no one signed in ("password-link"): named by its id.
  return { type, id, name: operatorName(id), kind: 'No one signed in', filterValue };
}

/** "forgot-password-page" → "Forgot password page". */
export const operatorName = (id: string) => id.charAt(0).toUpperCase() + id.slice(1).replace(/[-_]/g, ' ');

function presentTarget(type: string, id: string | null, summary: Record<string, unknown>, names: LiveNames, baseUrl: string): PresentedTarget {
  const base = { type, typeLabel: targetTypeLabel(type), id };
  /** Deleted (or never known here): the name the entry recorded, without a link. */
  const gone = (...fields: string[]): PresentedTarget => ({ ...base, name: recorded(summary, fields), gone: true });
  if (id === null) return { ...base, name: null, gone: false };
  switch (type) {
    case 'link': {
      const link = names.links.get(id);
      if (!link) return gone('slug');
      return { ...base, name: `${originOf(link.domain, baseUrl).replace(/^https?:\/\//, '')}/${link.slug}`, href: `/admin/links/${id}`, gone: false };
    }
    case 'api_key': {
      const name = names.keys.get(id);
      return name === undefined ? gone('name') : { ...base, name, href: `/admin/api#key-${id}`, gone: false };
    }
    case 'webhook_endpoint': {
      const url = names.webhooks.get(id);
      return url === undefined ? gone('url') : { ...base, name: url, href: `/admin/api/webhooks/${id}`, gone: false };
    }
    case 'user': {
      const user = names.users.get(id);
      if (!user) return gone('email');
      // A user who left the workspace still has their email; the Team page no longer lists them.
      return { ...base, name: user.email, ...(user.member ? { href: `/admin/team#member-${id}` } : {}), gone: false };
    }
    case 'domain': {
      const hostname = names.domains.get(id);
      return hostname === undefined ? gone('hostname') : { ...base, name: hostname, href: `/admin/settings#domain-${id}`, gone: false };
    }
    case 'import': {
      const format = names.imports.get(id);
      return format === undefined ? gone('format') : { ...base, name: `${format.toUpperCase()} import`, href: `/admin/imports/${id}`, gone: false };
    }
    case 'workspace': {
      const name = names.workspaces.get(id);
      return name === undefined ? gone('name') : { ...base, name, href: '/admin/settings', gone: false };
    }
    default:
      return { ...base, name: null, gone: false };
  }
}

/** The first of these summary fields that holds text; of a change, the value it changed to. */
function recorded(summary: Record<string, unknown>, fields: readonly string[]): string | null {
  for (const field of fields) {
    const v = summary[field];
    if (typeof v === 'string' && v !== '') return v;
    if (isChange(v) && typeof v.to === 'string' && v.to !== '') return v.to;
  }
  return null;
}

const isChange = (v: unknown): v is { from: unknown; to: unknown } => v !== null && typeof v === 'object' && 'from' in v && 'to' in v;

/** {"name":"Acme","role":{"from":"member","to":"admin"}} → ["name: Acme", "role: member → admin"]. */
export function describeSummary(summary: Record<string, unknown>): string[] {
  const show = (v: unknown): string =>
    typeof v === 'string' ? v : v === null ? 'none' : Array.isArray(v) ? v.map(show).join(', ') : JSON.stringify(v);
  return Object.entries(summary).map(([field, value]) => (isChange(value) ? `${field}: ${show(value.from)} → ${show(value.to)}` : `${field}: ${show(value)}`));
}
