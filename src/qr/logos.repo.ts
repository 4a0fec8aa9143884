import type { Queries } from '../db/db.js';
import type { QrLogoRow } from '../db/schema.js';

/** A logo row without its bytes (their length instead): what choosing a code's logo needs; the parsed-logo cache usually has the rest. */
export type LogoHead = Omit<QrLogoRow, 'id' | 'bytes'> & { id: number; size_bytes: number };

const HEAD = 'select id, workspace_id, link_id, content_type, sha256, created_at, length(bytes) as size_bytes from qr_logos';

/** The logo a link's codes are drawn with: its own, else its workspace's. */
export const findLogoInEffect = (db: Queries, workspaceId: string, linkId: string) =>
  db.row<LogoHead>(`${HEAD} where workspace_id = ? and (link_id = ? or link_id is null) order by link_id is null limit 1`, workspaceId, linkId);

/** The link's own logo (linkId) or the workspace's (null). */
export const findLogo = (db: Queries, workspaceId: string, linkId: string | null) =>
  linkId === null
    ? db.row<LogoHead>(`${HEAD} where workspace_id = ? and link_id is null`, workspaceId)
    : db.row<LogoHead>(`${HEAD} where workspace_id = ? and link_id = ?`, workspaceId, linkId);

export const readLogoBytes = (db: Queries, id: number) =>
  db.row<Pick<QrLogoRow, 'bytes' | 'content_type'>>('select bytes, content_type from qr_logos where id = ?', id);

/** Sets the workspace's logo (link_id null) or a link's, replacing the one it had. */
export async function upsertLogo(db: Queries, row: Omit<QrLogoRow, 'id'>): Promise<void> {
  // The conflict target names the partial unique index the row falls under (migrations 0014).
  const target = row.link_id === null ? '(workspace_id) where link_id is null' : '(link_id) where link_id is not null';
  await db.exec(
    `insert into qr_logos (workspace_id, link_id, content_type, bytes, sha256, created_at) values (?, ?, ?, ?, ?, ?)
     on conflict ${target} do update set content_type = excluded.content_type, bytes = excluded.bytes, sha256 = excluded.sha256, created_at = excluded.created_at`,
    row.workspace_id, row.link_id, row.content_type, row.bytes, row.sha256, row.created_at,
  );
}

export const deleteLogoRow = (db: Queries, id: number) => db.exec('delete from qr_logos where id = ?', id);

/** With the link, in the transaction that deletes it: a link's logo has no foreign key to cascade from (migrations 0014). */
export const deleteLinkLogo = (db: Queries, linkId: string) => db.exec('delete from qr_logos where link_id = ?', linkId);
