import type { Queries } from '../db/db.js';
import type { UserRow } from '../db/schema.js';
import { equalsCaseless } from '../db/dialect-sql.js';

export const findUserByEmail = (db: Queries, email: string) =>
  db.row<UserRow>(`select * from users where ${equalsCaseless(db.dialect, 'email')}`, email);

export const countUsers = async (db: Queries) =>
  Number((await db.first(db.q.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n'))))!.n);

export const insertUser = (db: Queries, row: UserRow) => db.run(db.q.insertInto('users').values(row));
