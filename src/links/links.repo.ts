import { type ExpressionBuilder, sql } from 'kysely';
import type { Queries } from '../db/db.js';
import type { Database, LinkRow } from '../db/schema.js';
import type { LinkState } from './links.schema.js';
import { caseless, jsonValuesOf, likeCaseless, pgJsonRows } from '../db/dialect-sql.js';

export const findLink = (db: Queries, workspaceId: string, id: string) =>
  db.first(db.q.selectFrom('links').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id));

/** findLink for a change of the row: on PostgreSQL it stays locked until the transaction ends (SQLite's run one at a time). */
export const findLinkForUpdate = (db: Queries, workspaceId: string, id: string) =>
  db.first(
    db.q
      .selectFrom('links')
      .selectAll()
      .where('workspace_id', '=', workspaceId)
      .where('id', '=', id)
      .$if(db.dialect === 'postgres', (q) => q.forNoKeyUpdate()),
  );

export const findLinkById = (db: Queries, id: string) => db.first(db.q.selectFrom('links').selectAll().where('id', '=', id));

// The redirect path's cache miss: a fixed statement rather than a query built per call.
export const findLinkBySlug = (db: Queries, domain: string, slug: string) =>
  db.row<LinkRow>('select * from links where domain = ? and slug = ?', domain, slug);

// Each (domain, slug) pair one seek of links_by_domain_slug; the pairs as one JSON parameter.
const LINKS_BY_SLUGS = {
  sqlite: `select l.* from json_each(?) k join links l on l.domain = k.value ->> 0 and l.slug = k.value ->> 1`,
  postgres: `select l.* from ${pgJsonRows('k', { domain: 'text', slug: 'text' })} join links l on l.domain = k.domain and l.slug = k.slug`,
};

/** The links of many (domain, slug) pairs in one statement; pairs without a link are left out. */
export const findLinksBySlugs = (db: Queries, pairs: readonly (readonly [domain: string, slug: string])[]) =>
  db.rows<LinkRow>(LINKS_BY_SLUGS[db.dialect], JSON.stringify(pairs));

const LINK_COLUMNS = [
  'id', 'workspace_id', 'slug', 'url', 'title', 'tags', 'status', 'expires_at', 'expired_url', 'max_clicks', 'redirect_code', 'forward_query',
  'created_by_user_id', 'created_by_key_id', 'clicks', 'total_clicks', 'last_clicked_at', 'created_at', 'updated_at', 'domain', 'targets', 'password_hash',
] as const satisfies readonly (keyof LinkRow)[];
const INSERT_LINK = `insert into links (${LINK_COLUMNS.join(', ')}) values (${LINK_COLUMNS.map(() => '?').join(', ')})`;

// The API's busiest write: a fixed statement rather than a query built per call.
export const insertLink = (db: Queries, row: LinkRow) => db.exec(INSERT_LINK, ...LINK_COLUMNS.map((c) => row[c]));

export const updateLinkRow = (db: Queries, id: string, patch: Partial<LinkRow>) =>
  db.run(db.q.updateTable('links').set(patch).where('id', '=', id));

export const deleteLinkRow = (db: Queries, id: string) => db.run(db.q.deleteFrom('links').where('id', '=', id));

export interface LinkFilter {
  workspaceId: string;
  limit: number;
  after?: string | undefined;
  q?: string | undefined;
  tag?: string | undefined;
  status?: LinkRow['status'] | undefined;
  /** As the admin's table shows links at `at` (link-presenter.ts linkState). */
  state?: { is: LinkState; at: number } | undefined;
}

/** linkState (link-presenter.ts) in SQL: the links in `state` at `now`. */
function inState(eb: ExpressionBuilder<Database, 'links'>, state: LinkState, now: number) {
  if (state === 'disabled') return eb('status', '=', 'disabled');
  const expired = eb.and([eb('expires_at', 'is not', null), eb('expires_at', '<=', now)]);
  const notExpired = eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]);
  const usedUp = eb.and([eb('max_clicks', 'is not', null), eb('clicks', '>=', eb.ref('max_clicks'))]);
  const notUsedUp = eb.or([eb('max_clicks', 'is', null), eb('clicks', '<', eb.ref('max_clicks'))]);
  const active = eb('status', '=', 'active');
  if (state === 'expired') return eb.and([active, expired]);
  if (state === 'limit_reached') return eb.and([active, notExpired, usedUp]);
  return eb.and([active, notExpired, notUsedUp]);
}

/** Newest first; ids sort by creation time, so the last id of a page is the cursor. */
export function listLinkRows(db: Queries, f: LinkFilter): Promise<LinkRow[]> {
  let query = db.q.selectFrom('links').selectAll().where('workspace_id', '=', f.workspaceId);
  if (f.after) query = query.where('id', '<', f.after);
  if (f.status) query = query.where('status', '=', f.status);
  if (f.state) {
    const { is, at } = f.state;
    query = query.where((eb) => inState(eb, is, at));
  }
  if (f.tag) query = query.where(sql<boolean>`exists (select 1 from ${sql.raw(jsonValuesOf(db.dialect, 'links.tags'))} where value = ${f.tag})`);
  if (f.q) {
    const pattern = `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const like = (col: 'slug' | 'url' | 'title') => sql<boolean>`${sql.ref(col)} ${sql.raw(likeCaseless(db.dialect))} ${pattern} escape '\\'`;
    query = query.where((eb) => eb.or([like('slug'), like('url'), like('title')]));
  }
  return db.all(query.orderBy('id', 'desc').limit(f.limit));
}

export const countLinks = async (db: Queries, workspaceId: string) =>
  (await db.row<{ n: number }>('select count(*) as n from links where workspace_id = ?', workspaceId))!.n;

/** Every tag used by the workspace's links, once each, in alphabetical order (the Links page's tag filter). */
export const listLinkTags = async (db: Queries, workspaceId: string) =>
  (
    await db.rows<{ tag: string }>(
      `select t.value as tag from links, ${jsonValuesOf(db.dialect, 'links.tags')} t where links.workspace_id = ? group by t.value order by ${caseless(db.dialect, 't.value')}`,
      workspaceId,
    )
  ).map((r) => r.tag);
