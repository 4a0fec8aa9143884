import { accessSync, constants, existsSync, mkdirSync, statfsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { OperatorError } from '../lib/errors.js';

/**
 * Why the database cannot be written, when the cause is the disk and not the request: the same
 * request will succeed once the operator fixes the disk, so callers get 503 (retry later), not
 * 500, and a start-up stops with a sentence instead of a stack trace.
 */
export type StorageProblem = 'read_only' | 'full' | 'io_error' | 'cannot_open' | 'locked' | 'unreachable';

/**
 * SQLite result codes (better-sqlite3 reports the extended name, e.g. SQLITE_IOERR_WRITE or
 * SQLITE_READONLY_DBMOVED, hence prefixes) and the errno codes of file-system calls.
 */
const SQLITE_PROBLEMS: [prefix: string, problem: StorageProblem][] = [
  ['SQLITE_READONLY', 'read_only'],
  ['SQLITE_FULL', 'full'],
  ['SQLITE_IOERR', 'io_error'],
  ['SQLITE_CANTOPEN', 'cannot_open'],
  // Another process (sqlite3, a stuck tool) held the write lock past busy_timeout: as
  // temporary as a full disk, and as little the request's fault.
  ['SQLITE_BUSY', 'locked'],
];
const ERRNO_PROBLEMS: Record<string, StorageProblem> = {
  EROFS: 'read_only',
  EACCES: 'read_only',
  EPERM: 'read_only',
  ENOSPC: 'full',
  EDQUOT: 'full',
  EIO: 'io_error',
};

/**
 * PostgreSQL that cannot be reached or is not taking work: the network's errno codes and the
 * SQLSTATEs of a server shutting down, starting or out of connections (class 08: connection
 * exceptions; 57P01–57P03: admin/crash shutdown, cannot connect now; 53300: too many connections).
 */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', '57P01', '57P02', '57P03', '53300']);

export function storageProblem(err: unknown): StorageProblem | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (code.startsWith('SQLITE_')) return SQLITE_PROBLEMS.find(([prefix]) => code.startsWith(prefix))?.[1];
  if (UNREACHABLE.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return 'unreachable';
  return ERRNO_PROBLEMS[code];
}

const PROBLEM_TEXT: Record<StorageProblem, string> = {
  read_only: 'the database is read-only',
  full: 'the disk is full',
  io_error: 'the disk reports I/O errors',
  cannot_open: 'the database files cannot be opened',
  locked: 'another process holds the database write lock',
  unreachable: 'the database cannot be reached',
};
const ERRNO_TEXT: Record<string, string> = {
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EIO: 'the disk reports I/O errors',
};

/** The problem in a few words with the error's code, for logs and messages: "the disk is full (SQLITE_FULL)". */
export function describeStorageProblem(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const problem = storageProblem(err);
  const text = typeof code === 'string' && ERRNO_TEXT[code] ? ERRNO_TEXT[code] : problem ? PROBLEM_TEXT[problem] : String((err as Error)?.message ?? err);
  return typeof code === 'string' ? `${text} (${code})` : text;
}

/** Below this, the disk counts as full whatever SQLite said (a WAL frame alone is 4 KB). */
const NEARLY_FULL_BYTES = 1024 * 1024;

interface Diagnosis {
  problem: 'read_only' | 'full';
  /** What is wrong, naming the path: "it is on a read-only file system", "linkqr.db is not writable by user linkqr". */
  text: string;
}

/**
 * What is wrong with the data dir, found by asking the file system rather than trusting the error
 * SQLite chose (a full disk can surface as SQLITE_IOERR_SHMSIZE, a read-only mount as
 * SQLITE_CANTOPEN): read-only mount, no write permission on a file, or no space left.
 */
export function diagnoseDataDir(dataDir: string, dbFile: string): Diagnosis | undefined {
  // A data dir that does not exist yet is created in its nearest existing parent.
  let dir = dataDir;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  const paths = [dir, ...['', '-wal', '-shm'].map((suffix) => join(dataDir, dbFile + suffix)).filter((p) => existsSync(p))];
  const name = (path: string) => (path === dataDir ? 'it' : path.startsWith(`${dataDir}/`) ? path.slice(dataDir.length + 1) : path);
  for (const path of paths) {
    try {
      accessSync(path, constants.W_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EROFS') return { problem: 'read_only', text: `${name(path)} is on a read-only file system` };
      if (code === 'EACCES' || code === 'EPERM') return { problem: 'read_only', text: `${name(path)} is not writable by user ${currentUser()}` };
    }
  }
  try {
    const fs = statfsSync(dir);
    const free = fs.bavail * fs.bsize;
    if (free < NEARLY_FULL_BYTES) return { problem: 'full', text: `its disk is full (${Math.floor(free / 1024)} KB free)` };
  } catch {
    // no statfs (an unusual file system): the error's own code has to do
  }
  return undefined;
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}

const REMEDY: Record<StorageProblem, string> = {
  read_only: 'make it writable and try again',
  full: 'free some space and try again',
  io_error: 'check the disk and try again',
  cannot_open: 'check that it exists and is writable, and try again',
  locked: 'stop the program holding it (a sqlite3 shell, another tool) and try again',
  unreachable: 'check that PostgreSQL is running and reachable, and try again',
};

/**
 * One sentence for an operator whose data dir cannot be written: what the file system says is
 * wrong when it can tell, else what the error said, and what to do.
 */
export function storageFailureSentence(err: unknown, dataDir: string, dbFile: string): string {
  const diagnosis = diagnoseDataDir(dataDir, dbFile);
  const code = (err as { code?: string }).code;
  const problem = diagnosis?.problem ?? storageProblem(err) ?? 'io_error';
  const what = diagnosis ? `${diagnosis.text}${code ? ` (${code})` : ''}` : describeStorageProblem(err);
  return `cannot write to the data dir ${dataDir}: ${what}; ${REMEDY[problem]}`;
}

/**
 * One sentence for a database file SQLite cannot read as one (not a database at all: the wrong
 * --data-dir, or another file under the name; or damaged), or undefined for any other error.
 */
export function unreadableDatabaseSentence(err: unknown, dataDir: string, dbFile: string): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  const file = join(dataDir, dbFile);
  if (code === 'SQLITE_NOTADB') return `${file} is not a LinkQR database (SQLITE_NOTADB): check --data-dir, or restore the file from a backup`;
  if (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT')) return `${file} is damaged (${code}): restore it from a backup`;
  return undefined;
}

/** Creates the data dir if needed. A path that is not a directory is said plainly; a refusing disk throws its errno error. */
export function ensureDataDir(dataDir: string): void {
  try {
    try {
      mkdirSync(dataDir, { recursive: true });
    } catch (e) {
      // Node's recursive mkdir reports ENOENT where the parent refused (EROFS, EACCES): ask plainly.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !existsSync(dirname(dataDir))) throw e;
      mkdirSync(dataDir);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new OperatorError(`the data dir ${dataDir} is not a directory; choose another --data-dir`);
    throw e;
  }
}
