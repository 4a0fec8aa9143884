import { randomBytes } from 'node:crypto';
import type { Db } from '../db/db.js';

export const getSetting = (db: Db, key: string): string | undefined =>
  db.first(db.q.selectFrom('settings').select('value').where('key', '=', key))?.value;

export const setSetting = (db: Db, key: string, value: string) =>
  db.run(db.q.insertInto('settings').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })));

export const deleteSetting = (db: Db, key: string) => db.run(db.q.deleteFrom('settings').where('key', '=', key));

/** A random value (32 bytes) kept in the settings table, made on first use. */
export function instanceSecret(db: Db, name: string): Buffer {
  const existing = getSetting(db, name);
  if (existing) return Buffer.from(existing, 'base64');
  db.run(db.q.insertInto('settings').values({ key: name, value: randomBytes(32).toString('base64') }).onConflict((oc) => oc.doNothing()));
  return Buffer.from(getSetting(db, name)!, 'base64');
}
