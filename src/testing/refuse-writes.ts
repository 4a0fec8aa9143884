import type { Db } from '../db/db.js';

/**
 * Makes every `event` on `table` fail with `message` (a trigger), as a failing disk would, on
 * either database; returns what undoes it.
 */
export async function refuseWrites(db: Db, name: string, event: 'insert' | 'update', table: string, message: string): Promise<() => Promise<void>> {
  if (db.dialect === 'sqlite') {
    await db.exec(`create trigger ${name} before ${event} on ${table} begin select raise(abort, '${message}'); end`);
    return async () => void (await db.exec(`drop trigger ${name}`));
  }
  await db.exec(`create function ${name}() returns trigger language plpgsql as $$ begin raise exception '${message}'; end $$`);
  await db.exec(`create trigger ${name} before ${event} on ${table} for each row execute function ${name}()`);
  return async () => {
    await db.exec(`drop trigger ${name} on ${table}`);
    await db.exec(`drop function ${name}()`);
  };
}
