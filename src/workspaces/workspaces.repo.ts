import { sql } from 'kysely';
import type { Queries } from '../db/db.js';
import type { WorkspaceRow } from '../db/schema.js';
import { caseless, equalsCaseless } from '../db/dialect-sql.js';

export const findWorkspaceByName = (db: Queries, name: string) =>
  db.row<WorkspaceRow>(`select * from workspaces where ${equalsCaseless(db.dialect, 'name')}`, name);

export const findWorkspaceById = (db: Queries, id: string) =>
  db.first(db.q.selectFrom('workspaces').selectAll().where('id', '=', id));

export const insertWorkspace = (db: Queries, row: WorkspaceRow) => db.run(db.q.insertInto('workspaces').values(row));

export const listWorkspacesWithCounts = (db: Queries) =>
  db.all(
    db.q
      .selectFrom('workspaces')
      .innerJoin('plans', 'plans.id', 'workspaces.plan_id')
      .select((eb) => [
        'workspaces.id',
        'workspaces.name',
        'workspaces.created_at',
        'plans.name as plan',
        eb.selectFrom('memberships').whereRef('memberships.workspace_id', '=', 'workspaces.id').select(eb.fn.countAll<number>().as('n')).as('members'),
        eb.selectFrom('links').whereRef('links.workspace_id', '=', 'workspaces.id').select(eb.fn.countAll<number>().as('n')).as('links'),
      ])
      .orderBy(sql.raw(caseless(db.dialect, 'workspaces.name'))),
  );

export const findPlanById = (db: Queries, id: string) => db.first(db.q.selectFrom('plans').selectAll().where('id', '=', id));
