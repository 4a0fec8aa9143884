import type { Db } from '../db/db.js';
import type { UserRow } from '../db/schema.js';

export const findUserByEmail = (db: Db, email: string) =>
  db.first(db.q.selectFrom('users').selectAll().where('email', '=', email));

export const countUsers = (db: Db) =>
  Number(db.first(db.q.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')))!.n);

export const insertUser = (db: Db, row: UserRow) => db.run(db.q.insertInto('users').values(row));
