/** The database file in the data dir (with its `-wal` and `-shm` companions beside it). */
export const DB_FILE = 'linkqr.db';
