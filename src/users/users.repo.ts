import type { Queries } from '../db/db.js';
import type { UserRow } from '../db/schema.js';

export const findUserByEmail = (db: Queries, email: string) =>
  db.first(db.q.selectFrom('users').selectAll().where('email', '=', email));

export const countUsers = async (db: Queries) =>
  Number((await db.first(db.q.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n'))))!.n);

export const insertUser = (db: Queries, row: UserRow) => db.run(db.q.insertInto('users').values(row));
