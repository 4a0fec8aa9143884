import { accessSync, constants, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { OperatorError } from '../lib/errors.js';
import { nativeAddon } from '../lib/native-addons.js';
import { ensureDataDir } from './storage-errors.js';

export const LOCK_FILE = 'linkqr.lock';
/** Who holds the lock: the lock file itself cannot be read while it is held. */
export const HOLDER_FILE = 'linkqr.lock.json';

/** The server holding a data dir, as it wrote itself down. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO 8601 */
  startedAt: string;
  version: string;
}

export class DataDirInUseError extends OperatorError {
  override name = 'DataDirInUseError';
}

export interface DataDirLock {
  /**
   * The holder before this one, when it did not release the lock: it was killed or crashed, and
   * what it had not yet written is lost (README, "Crash window").
   */
  readonly previous: LockHolder | undefined;
  release(): void;
}

/** How long a second server waits for the first one to finish writing down who it is. */
const HOLDER_WAIT_MS = 2_000;

/**
 * One server per data dir. Two would each keep their own counts in memory (maxClicks answered
 * twice over) and their own redirect caches (a link disabled through one still redirecting
 * through the other).
 *
 * The lock is SQLite's own POSIX lock on an empty file: `BEGIN EXCLUSIVE` on `linkqr.lock`,
 * never committed, so it is held for as long as the process lives and the kernel drops it when
 * the process dies, kill -9 included: no stale lock to clean up by hand. better-sqlite3 is the
 * only way to take an fcntl lock from Node without another native addon. The journal lives in
 * memory, so no file appears beside it, and the file stays empty.
 *
 * `serve` and `migrate` (which must not change the schema under a running server) take it; the
 * other CLI commands (key create, backup, migrate --status, …) work beside a running server,
 * through SQLite's ordinary locking of the database.
 *
 * POSIX locks belong to the process, and closing any descriptor of the file drops them: nothing
 * else in this process may open linkqr.lock. Who holds it is written to linkqr.lock.json instead.
 */
export function lockDataDir(dataDir: string, me: Omit<LockHolder, 'pid' | 'host'>): DataDirLock {
  ensureDataDir(dataDir);
  const lockFile = join(dataDir, LOCK_FILE);
  // SQLite would open a file it may not write read-only, where two servers could both "lock" it.
  // access() opens no descriptor, so it cannot drop a lock this process holds.
  if (existsSync(lockFile)) accessSync(lockFile, constants.W_OK);
  const lock = new BetterSqlite3(lockFile, {
    timeout: 0,
    // The loaded addon (the types only know a path): the single executable unpacks it itself.
    nativeBinding: nativeAddon('better_sqlite3') as unknown as string,
  });
  try {
    lock.pragma('journal_mode = MEMORY');
    lock.exec('BEGIN EXCLUSIVE');
  } catch (e) {
    lock.close();
    if ((e as { code?: string }).code?.startsWith('SQLITE_BUSY')) throw new DataDirInUseError(inUseMessage(dataDir, waitForHolder(dataDir)));
    throw e;
  }
  const holderFile = join(dataDir, HOLDER_FILE);
  try {
    const previous = readHolder(holderFile);
    const holder: LockHolder = { pid: process.pid, host: hostname(), ...me };
    // Written whole or not at all: the next server must not read half of it.
    try {
      writeFileSync(`${holderFile}.tmp`, `${JSON.stringify(holder)}\n`);
      renameSync(`${holderFile}.tmp`, holderFile);
    } catch (e) {
      rmSync(`${holderFile}.tmp`, { force: true });
      throw e;
    }
    return {
      previous,
      release() {
        // The holder file goes first: a clean stop leaves none behind, which is how the next start tells a crash.
        rmSync(holderFile, { force: true });
        if (lock.open) lock.close();
      },
    };
  } catch (e) {
    lock.close();
    throw e;
  }
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
    return typeof holder.pid === 'number' ? holder : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The holder's details. They are written just after the lock is taken, so a second server
 * starting at the same moment may find none yet, or those of a server that crashed before:
 * it waits a little for a holder that is alive.
 */
function waitForHolder(dataDir: string): LockHolder | undefined {
  const file = join(dataDir, HOLDER_FILE);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + HOLDER_WAIT_MS;
  for (;;) {
    const holder = readHolder(file);
    if (holder && (holder.host !== hostname() || isAlive(holder.pid))) return holder;
    if (Date.now() > deadline) return undefined;
    Atomics.wait(pause, 0, 0, 50);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, under another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function inUseMessage(dataDir: string, holder: LockHolder | undefined): string {
  const who = holder
    ? `another linkqr server (pid ${holder.pid}${holder.host === hostname() ? '' : ` on ${holder.host}`}, started ${holder.startedAt}) is using ${dataDir}`
    : `another linkqr server is using ${dataDir}`;
  return `${who}; stop it or use another --data-dir`;
}
