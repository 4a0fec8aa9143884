import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { pad } from './migrate.js';

/** Where scheduled and pre-migration backups go, inside the data dir. */
export const BACKUP_DIR = 'backups';

/** Scheduled backups: `linkqr-YYYYMMDD-HHMMSS.db` (UTC), `-2`, `-3`… when that second is taken. */
const SCHEDULED = /^linkqr-(\d{8}-\d{6})(?:-(\d+))?\.db$/;

/** Copies the whole database in one step: for a process that does not own the writes. */
export const ALL_PAGES = 0x7fffffff;

export interface BackupOptions {
  /**
   * Pages copied per step; the event loop runs between steps. Writes made through the same
   * connection between steps are applied to the copy by SQLite; a write by another process
   * restarts the copy, so a CLI copying a database a server is writing uses ALL_PAGES.
   */
  pagesPerStep?: number;
  /** Aborting stops the copy between steps and removes the partial file. */
  signal?: AbortSignal;
}

/** `YYYYMMDD-HHMMSS` in UTC. */
export function stamp(at: number): string {
  return new Date(at).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/**
 * A consistent copy of a live database through SQLite's online backup API (never a file copy,
 * which can catch the database and its WAL in the middle of a commit). The copy is written
 * under a temporary name in the same folder, flushed, then renamed: `file` is never partial.
 * An existing `file` is replaced.
 */
export async function backupDatabase(sqlite: BetterSqlite3.Database, file: string, opts: BackupOptions = {}): Promise<{ file: string; bytes: number }> {
  const temp = tempNameFor(file);
  const pagesPerStep = opts.pagesPerStep ?? 1_000;
  try {
    await sqlite.backup(temp, {
      progress: () => {
        opts.signal?.throwIfAborted();
        return pagesPerStep;
      },
    });
    return { file, bytes: finish(temp, file) };
  } catch (e) {
    removeWithJournals(temp);
    throw e;
  }
}

/**
 * The same consistent copy, synchronously (`VACUUM INTO` reads one snapshot): for start-up,
 * which is synchronous and runs before anything else uses the database.
 */
export function snapshotDatabase(sqlite: BetterSqlite3.Database, file: string): { file: string; bytes: number } {
  const temp = tempNameFor(file);
  removeWithJournals(temp); // left by a crash: VACUUM INTO refuses an existing file
  try {
    sqlite.prepare('VACUUM INTO ?').run(temp);
    return { file, bytes: finish(temp, file) };
  } catch (e) {
    removeWithJournals(temp);
    throw e;
  }
}

/** Takes a scheduled backup into `dir` named after `at`; never replaces an earlier one. */
export function takeBackup(sqlite: BetterSqlite3.Database, dir: string, at: number, opts: BackupOptions = {}) {
  return backupDatabase(sqlite, freePath(dir, `linkqr-${stamp(at)}`), opts);
}

/** The copy `serve` keeps before applying migrations to a database that has data. */
export function backupBeforeMigrating(sqlite: BetterSqlite3.Database, dataDir: string, fromVersion: number, at: number) {
  return snapshotDatabase(sqlite, freePath(join(dataDir, BACKUP_DIR), `pre-migrate-${pad(fromVersion)}-${stamp(at)}`));
}

/**
 * Deletes the oldest scheduled backups in `dir` so that the newest `keep` remain. Only files
 * named like a scheduled backup are considered: pre-migration copies and anything a person put
 * there are left alone. Returns the names deleted.
 */
export function pruneBackups(dir: string, keep: number): string[] {
  if (!existsSync(dir)) return [];
  const backups = readdirSync(dir)
    .map((name) => ({ name, m: SCHEDULED.exec(name) }))
    .filter((b): b is { name: string; m: RegExpExecArray } => b.m !== null && statSync(join(dir, b.name)).isFile())
    .map((b) => ({ name: b.name, stamp: b.m[1]!, n: Number(b.m[2] ?? 1) }))
    .sort((a, b) => (a.stamp === b.stamp ? b.n - a.n : a.stamp < b.stamp ? 1 : -1));
  const old = backups.slice(keep).map((b) => b.name);
  for (const name of old) rmSync(join(dir, name));
  return old;
}

/** `<dir>/<base>.db`, or `<base>-2.db`, `-3`… if taken. */
function freePath(dir: string, base: string): string {
  mkdirSync(dir, { recursive: true });
  for (let n = 1; ; n++) {
    const file = join(dir, n === 1 ? `${base}.db` : `${base}-${n}.db`);
    if (!existsSync(file)) return file;
  }
}

/** Hidden, and unlike any backup name, so pruning never sees a copy in progress. */
const tempNameFor = (file: string) => join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);

function finish(temp: string, file: string): number {
  const fd = openSync(temp, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
  return statSync(file).size;
}

function removeWithJournals(file: string) {
  for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(file + suffix, { force: true });
}
