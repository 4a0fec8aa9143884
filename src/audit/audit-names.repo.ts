import type { Queries } from '../db/db.js';
import { equalsCaseless } from '../db/dialect-sql.js';

/*
 * The names of what audit entries point at (links, keys, webhooks, users, domains, imports,
 * workspaces), for showing a page of entries. The one place the audit log reads other features'
 * tables, read-only: one query per kind of target for a whole page, never one per entry. What a
 * query does not find has been deleted since (or belongs to another workspace), and the entry's
 * own summary names it.
 */

export interface LiveLink {
  slug: string;
  domain: string;
}

export interface LiveUser {
  email: string;
  /** Still a member of the workspace: the Team page lists them. */
  member: boolean;
}

export interface LiveNames {
  links: Map<string, LiveLink>;
  keys: Map<string, string>;
  webhooks: Map<string, string>;
  users: Map<string, LiveUser>;
  domains: Map<string, string>;
  imports: Map<string, string>;
  workspaces: Map<string, string>;
}

export interface NameRequest {
  links?: readonly string[];
  keys?: readonly string[];
  webhooks?: readonly string[];
  users?: readonly string[];
  domains?: readonly string[];
  imports?: readonly string[];
  workspaces?: readonly string[];
}

/** The current names of these ids in the workspace; each kind is one query (none for no ids). */
export async function liveNames(db: Queries, workspaceId: string, ids: NameRequest): Promise<LiveNames> {
  const some = (list: readonly string[] | undefined): list is readonly string[] => list !== undefined && list.length > 0;
  const [links, keys, webhooks, users, domains, imports, workspaces] = await Promise.all([
    some(ids.links) ? db.all(db.q.selectFrom('links').select(['id', 'slug', 'domain']).where('workspace_id', '=', workspaceId).where('id', 'in', ids.links)) : [],
    some(ids.keys) ? db.all(db.q.selectFrom('api_keys').select(['id', 'name']).where('workspace_id', '=', workspaceId).where('id', 'in', ids.keys)) : [],
    some(ids.webhooks) ? db.all(db.q.selectFrom('webhook_endpoints').select(['id', 'url']).where('workspace_id', '=', workspaceId).where('id', 'in', ids.webhooks)) : [],
    some(ids.users)
      ? db.all(
          db.q
            .selectFrom('users')
            .leftJoin('memberships', (j) => j.onRef('memberships.user_id', '=', 'users.id').on('memberships.workspace_id', '=', workspaceId))
            .select(['users.id', 'users.email', 'memberships.user_id as member_id'])
            .where('users.id', 'in', ids.users),
        )
      : [],
    some(ids.domains) ? db.all(db.q.selectFrom('domains').select(['id', 'hostname']).where('workspace_id', '=', workspaceId).where('id', 'in', ids.domains)) : [],
    some(ids.imports) ? db.all(db.q.selectFrom('imports').select(['id', 'format']).where('workspace_id', '=', workspaceId).where('id', 'in', ids.imports)) : [],
    some(ids.workspaces) ? db.all(db.q.selectFrom('workspaces').select(['id', 'name']).where('id', '=', workspaceId).where('id', 'in', ids.workspaces)) : [],
  ]);
  return {
    links: new Map(links.map((l) => [l.id, { slug: l.slug, domain: l.domain }])),
    keys: new Map(keys.map((k) => [k.id, k.name])),
    webhooks: new Map(webhooks.map((w) => [w.id, w.url])),
    users: new Map(users.map((u) => [u.id, { email: u.email, member: u.member_id !== null }])),
    domains: new Map(domains.map((d) => [d.id, d.hostname])),
    imports: new Map(imports.map((i) => [i.id, i.format])),
    workspaces: new Map(workspaces.map((w) => [w.id, w.name])),
  };
}

/**
 * The ids of the workspace's targets that go by this name today: a link by its slug, a key by its
 * name (any case), a webhook by its URL, a user by their email, a domain by its host name.
 * `kinds` limits the lookups to the target types asked for.
 */
export async function idsNamed(db: Queries, workspaceId: string, name: { text: string; slug: string }, kinds: ReadonlySet<string> | undefined): Promise<string[]> {
  const wants = (kind: string) => kinds === undefined || kinds.has(kind);
  const lookups: Promise<{ id: string }[]>[] = [];
  const text = name.text;
  // By (domain, slug), the index slugs are unique in: the base URL's host ('') and the workspace's domains.
  if (wants('link')) {
    lookups.push(
      db.rows(
        `select id from links where slug = ? and workspace_id = ? and domain in (select '' union all select hostname from domains where workspace_id = ?)`,
        name.slug, workspaceId, workspaceId,
      ),
    );
  }
  if (wants('api_key')) lookups.push(db.rows('select id from api_keys where workspace_id = ? and lower(name) = lower(?) limit 100', workspaceId, text));
  if (wants('webhook_endpoint')) lookups.push(db.rows('select id from webhook_endpoints where workspace_id = ? and url = ? limit 100', workspaceId, text));
  if (wants('user')) lookups.push(db.rows(`select id from users where ${equalsCaseless(db.dialect, 'email')}`, text));
  if (wants('domain')) lookups.push(db.rows('select id from domains where workspace_id = ? and hostname = lower(?)', workspaceId, text));
  return [...new Set((await Promise.all(lookups)).flat().map((r) => r.id))];
}
