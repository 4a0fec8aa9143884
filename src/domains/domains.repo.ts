import type { Queries } from '../db/db.js';
import type { DomainRow } from '../db/schema.js';

export const findDomain = (db: Queries, workspaceId: string, id: string) =>
  db.first(db.q.selectFrom('domains').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id));

export const findWorkspaceDomain = (db: Queries, workspaceId: string, hostname: string) =>
  db.first(db.q.selectFrom('domains').selectAll().where('workspace_id', '=', workspaceId).where('hostname', '=', hostname));

/**
 * The workspace's domain of this hostname, read to put links on it: on PostgreSQL the row stays
 * locked (shared) until the caller's transaction ends, so a delete or a release of the domain
 * waits for those links and removes them too, instead of leaving them on a name another workspace
 * may verify next. (SQLite's transactions run one at a time already.)
 */
export const findWorkspaceDomainForLinks = (db: Queries, workspaceId: string, hostname: string) =>
  db.dialect === 'postgres'
    ? db.row<{ hostname: string }>('select hostname from domains where workspace_id = ? and hostname = ? for share', workspaceId, hostname)
    : findWorkspaceDomain(db, workspaceId, hostname);

export const insertDomain = (db: Queries, row: DomainRow) => db.run(db.q.insertInto('domains').values(row));

export const updateDomainRow = (db: Queries, id: string, patch: Partial<DomainRow>) =>
  db.run(db.q.updateTable('domains').set(patch).where('id', '=', id));

export const deleteDomainRow = (db: Queries, id: string) => db.run(db.q.deleteFrom('domains').where('id', '=', id));

/** Oldest first: a workspace's domains are few, and the order they were added is the one people remember. */
export function listDomainRows(db: Queries, workspaceId: string, limit: number, after?: string): Promise<DomainRow[]> {
  let query = db.q.selectFrom('domains').selectAll().where('workspace_id', '=', workspaceId);
  if (after) query = query.where('id', '>', after);
  return db.all(query.orderBy('id').limit(limit));
}

/** Every verified domain of the instance: what the redirect path dispatches on (src/domains/domain-directory.ts). */
export const verifiedDomainRows = (db: Queries) => db.all(db.q.selectFrom('domains').selectAll().where('verified_at', 'is not', null).orderBy('hostname'));

export const countDomains = async (db: Queries, workspaceId: string) =>
  (await db.row<{ n: number }>('select count(*) as n from domains where workspace_id = ?', workspaceId))!.n;

export const countLinksOnDomain = async (db: Queries, hostname: string) =>
  (await db.row<{ n: number }>('select count(*) as n from links where domain = ?', hostname))!.n;

/** The domain of the instance with this hostname, whichever workspace added it. */
export const findDomainByHostname = (db: Queries, hostname: string) => db.first(db.q.selectFrom('domains').selectAll().where('hostname', '=', hostname));

/** Deletes the domain only while it is unverified: no change when a verification committed first. */
export const deleteUnverifiedDomainRow = (db: Queries, id: string) =>
  db.run(db.q.deleteFrom('domains').where('id', '=', id).where('verified_at', 'is', null));

export const linksOnDomain = (db: Queries, workspaceId: string, hostname: string) =>
  db.all(db.q.selectFrom('links').selectAll().where('workspace_id', '=', workspaceId).where('domain', '=', hostname).orderBy('id'));

/** Every unverified domain of the instance, with its workspace's name and how many links it has: oldest claims first. */
export const unverifiedDomainRows = (db: Queries) =>
  db.all(
    db.q
      .selectFrom('domains')
      .innerJoin('workspaces', 'workspaces.id', 'domains.workspace_id')
      .select((eb) => [
        'domains.id',
        'domains.hostname',
        'domains.workspace_id',
        'domains.created_at',
        'workspaces.name as workspace',
        eb
          .selectFrom('links')
          .whereRef('links.domain', '=', 'domains.hostname')
          .whereRef('links.workspace_id', '=', 'domains.workspace_id')
          .select(eb.fn.countAll<number>().as('n'))
          .as('links'),
      ])
      .where('domains.verified_at', 'is', null)
      .orderBy('domains.created_at')
      .orderBy('domains.hostname'),
  );
