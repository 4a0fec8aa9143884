import { sql } from 'kysely';
import type { Db } from '../db/db.js';
import type { LinkRow } from '../db/schema.js';

export const findLink = (db: Db, workspaceId: string, id: string) =>
  db.first(db.q.selectFrom('links').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id));

export const findLinkById = (db: Db, id: string) => db.first(db.q.selectFrom('links').selectAll().where('id', '=', id));

// The redirect path's cache miss: a fixed statement rather than a query built per call.
export const findLinkBySlug = (db: Db, slug: string) => db.stmt('select * from links where slug = ?').get(slug) as LinkRow | undefined;

const LINK_COLUMNS = [
  'id', 'workspace_id', 'slug', 'url', 'title', 'tags', 'status', 'expires_at', 'expired_url', 'max_clicks', 'redirect_code',
  'created_by_user_id', 'created_by_key_id', 'clicks', 'total_clicks', 'last_clicked_at', 'created_at', 'updated_at',
] as const satisfies readonly (keyof LinkRow)[];
const INSERT_LINK = `insert into links (${LINK_COLUMNS.join(', ')}) values (${LINK_COLUMNS.map((c) => `@${c}`).join(', ')})`;

// The API's busiest write: a fixed statement rather than a query built per call.
export const insertLink = (db: Db, row: LinkRow) => db.stmt(INSERT_LINK).run(row);

export const updateLinkRow = (db: Db, id: string, patch: Partial<LinkRow>) =>
  db.run(db.q.updateTable('links').set(patch).where('id', '=', id));

export const deleteLinkRow = (db: Db, id: string) => db.run(db.q.deleteFrom('links').where('id', '=', id));

export interface LinkFilter {
  workspaceId: string;
  limit: number;
  after?: string | undefined;
  q?: string | undefined;
  tag?: string | undefined;
  status?: LinkRow['status'] | undefined;
}

/** Newest first; ids sort by creation time, so the last id of a page is the cursor. */
export function listLinkRows(db: Db, f: LinkFilter): LinkRow[] {
  let query = db.q.selectFrom('links').selectAll().where('workspace_id', '=', f.workspaceId);
  if (f.after) query = query.where('id', '<', f.after);
  if (f.status) query = query.where('status', '=', f.status);
  if (f.tag) query = query.where(sql<boolean>`exists (select 1 from json_each(links.tags) where value = ${f.tag})`);
  if (f.q) {
    const pattern = `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const like = (col: 'slug' | 'url' | 'title') => sql<boolean>`${sql.ref(col)} like ${pattern} escape '\\'`;
    query = query.where((eb) => eb.or([like('slug'), like('url'), like('title')]));
  }
  return db.all(query.orderBy('id', 'desc').limit(f.limit));
}

export const countLinks = (db: Db, workspaceId: string) =>
  (db.stmt('select count(*) as n from links where workspace_id = ?').get(workspaceId) as { n: number }).n;

/** Every tag used by the workspace's links, once each, in alphabetical order (the Links page's tag filter). */
export const listLinkTags = (db: Db, workspaceId: string) =>
  (
    db
      .stmt('select distinct t.value as tag from links, json_each(links.tags) t where links.workspace_id = ? order by t.value collate nocase')
      .all(workspaceId) as { tag: string }[]
  ).map((r) => r.tag);
