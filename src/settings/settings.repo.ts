import type { Queries } from '../db/db.js';

export const getSetting = async (db: Queries, key: string): Promise<string | undefined> =>
  (await db.first(db.q.selectFrom('settings').select('value').where('key', '=', key)))?.value;

export const setSetting = (db: Queries, key: string, value: string) =>
  db.run(db.q.insertInto('settings').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })));

export const deleteSetting = (db: Queries, key: string) => db.run(db.q.deleteFrom('settings').where('key', '=', key));
