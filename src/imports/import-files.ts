import type { Queries } from '../db/db.js';

// An import's file (up to 64 MB) lives in import_files, apart from the import's row, which every
// chunk updates: migrations/sqlite/0018_import_files.sql says why. Written once when the import
// is queued, read once by the runner, deleted when the import is done with it.

export const saveImportFile = (t: Queries, importId: string, data: string) =>
  t.exec('insert into import_files (import_id, data) values (?, ?)', importId, data);

/** The file, or undefined when it is no longer kept. */
export const readImportFile = async (db: Queries, importId: string): Promise<string | undefined> =>
  (await db.row<{ data: string }>('select data from import_files where import_id = ?', importId))?.data;

/** Deletes the file and returns it, in one statement: of two requests taking it, one gets it. */
export const takeImportFile = async (t: Queries, importId: string): Promise<string | undefined> =>
  (await t.row<{ data: string }>('delete from import_files where import_id = ? returning data', importId))?.data;

export const deleteImportFile = (t: Queries, importId: string) => t.exec('delete from import_files where import_id = ?', importId);
