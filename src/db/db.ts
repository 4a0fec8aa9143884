import { AsyncLocalStorage } from 'node:async_hooks';
import BetterSqlite3 from 'better-sqlite3';
import {
  type CompiledQuery,
  DummyDriver,
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import { nativeAddon } from '../lib/native-addons.js';
import type { Database } from './schema.js';
import { Mutex } from '../lib/mutex.js';
import { type ChangeFeed, localChangeFeed } from './change-feed.js';
import { StorageHealth } from './storage-health.js';

export interface Compilable<R> {
  compile(): CompiledQuery<R>;
}

export type Dialect = 'sqlite' | 'postgres';

/**
 * What repositories and services query through: the database itself, or a transaction's handle.
 * Every method is asynchronous so that the same code runs over SQLite (in process) and
 * PostgreSQL (over the network).
 *
 * Queries are built with Kysely (`q`, typed against the schema) where SQL is portable, or written
 * by hand with `?` placeholders (`rows`, `row`, `exec`) on hot paths, where building the query on
 * every call costs more than running it: each text is prepared once. SQL that differs between
 * the dialects is kept side by side, chosen by `dialect`.
 */
export interface Queries {
  readonly dialect: Dialect;
  /** Query builder only; pass what it builds to all/first/run. */
  readonly q: Kysely<Database>;
  all<R>(query: Compilable<R>): Promise<R[]>;
  first<R>(query: Compilable<R>): Promise<R | undefined>;
  run(query: Compilable<unknown>): Promise<{ changes: number }>;
  rows<R>(sql: string, ...params: unknown[]): Promise<R[]>;
  row<R>(sql: string, ...params: unknown[]): Promise<R | undefined>;
  exec(sql: string, ...params: unknown[]): Promise<{ changes: number }>;
  /**
   * Runs fn in a transaction and commits what it did (on the handle: a savepoint). fn queries
   * only through the handle it is given, and awaits nothing but those queries: a transaction
   * holds SQLite's one writer (and on PostgreSQL its row locks) until it ends. Querying the
   * database itself from inside fn is a bug, and throws.
   */
  tx<T>(fn: (t: Queries) => Promise<T>): Promise<T>;
}

/**
 * The database: SQLite in the data dir (openDb, below) or PostgreSQL (src/db/postgres-db.ts).
 *
 * On SQLite (better-sqlite3, one connection) a statement outside a transaction runs at once
 * unless a transaction is open, and then after it: nothing interleaves with a transaction, as
 * when transactions were synchronous functions. On PostgreSQL transactions run concurrently.
 */
export interface Db extends Queries {
  /**
   * The SQLite connection, for what only SQLite has (online backup, PRAGMAs, tests that look at
   * rows). Reading it on PostgreSQL throws: check `dialect` first.
   */
  readonly sqlite: BetterSqlite3.Database;
  /**
   * Group commit: fn runs in its own savepoint inside one transaction shared with every other
   * write queued in the same event-loop turn; the promise settles after that transaction
   * commits. A commit costs far more than the statements in it, so concurrent API writes share
   * it. A failing fn rolls back only its own savepoint.
   */
  write<T>(fn: (t: Queries) => Promise<T>): Promise<T>;
  /** Whether writes are succeeding: every outermost transaction reports to it. */
  readonly storage: StorageHealth;
  /** Tells every process on this database (this one too) that something it may cache changed. */
  readonly changes: ChangeFeed;
  /**
   * Runs fn unless another process on this database is running the work of the same name (then
   * undefined, at once). SQLite has one server per data dir, so fn simply runs; on PostgreSQL a
   * session advisory lock, which the server releases if the process holding it dies.
   */
  exclusively<T>(name: string, fn: () => Promise<T>): Promise<T | undefined>;
  close(): Promise<void>;
}

/** How a connection runs one statement; `built`: the SQL was compiled by Kysely (not hand-written). */
export interface Statements {
  all(sql: string, params: readonly unknown[], built: boolean): Promise<unknown[]>;
  first(sql: string, params: readonly unknown[], built: boolean): Promise<unknown>;
  exec(sql: string, params: readonly unknown[], built: boolean): Promise<{ changes: number }>;
}

/** The Queries of a connection (or a transaction on it): Kysely-built and hand-written SQL alike. */
export function queriesOver(dialect: Dialect, q: Kysely<Database>, s: Statements, tx: Queries['tx']): Queries {
  return {
    dialect,
    q,
    all: <R>(b: Compilable<R>) => {
      const c = b.compile();
      return s.all(c.sql, c.parameters, true) as Promise<R[]>;
    },
    first: <R>(b: Compilable<R>) => {
      const c = b.compile();
      return s.first(c.sql, c.parameters, true) as Promise<R | undefined>;
    },
    run: (b) => {
      const c = b.compile();
      return s.exec(c.sql, c.parameters, true);
    },
    rows: <R>(sql: string, ...params: unknown[]) => s.all(sql, params, false) as Promise<R[]>,
    row: <R>(sql: string, ...params: unknown[]) => s.first(sql, params, false) as Promise<R | undefined>,
    exec: (sql, ...params) => s.exec(sql, params, false),
    tx,
  };
}

/** Whether a statement broke a UNIQUE constraint (SQLite's code, or PostgreSQL's SQLSTATE 23505). */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/** The SQLite library's version (the one compiled into the better-sqlite3 addon). */
export function sqliteVersion(): string {
  const memory = new BetterSqlite3(':memory:', { nativeBinding: nativeAddon('better_sqlite3') as unknown as string });
  try {
    return memory.prepare('select sqlite_version()').pluck().get() as string;
  } finally {
    memory.close();
  }
}

/**
 * Keeps the query planner's row counts (sqlite_stat1) and drops its value samples (sqlite_stat4,
 * which ANALYZE gathers in this build). With samples, SQLite re-prepares a statement every time a
 * parameter that meets an index term is bound, to plan for that value: measured, a keyed lookup
 * joined to another table went from 2.8 µs to 23 µs, and the hot statements here (the API key
 * with its plan, the endpoints of an event) bind one on every request. Our parameters are ids,
 * slugs and times, whose distribution no plan here depends on. PRAGMA optimize (the optimize job)
 * gathers no samples, but a plain ANALYZE does (an operator's, in the sqlite3 shell): the job
 * and the server's start drop whatever samples they find.
 *
 * SQLite 3.54.0–3.54.1 re-prepare such statements even without samples: better-sqlite3 is pinned
 * to 13.0.3 (SQLite 3.53.4) until a release bundles a SQLite that does not (src/db/db.test.ts).
 */
export function dropStat4Samples(sqlite: BetterSqlite3.Database): void {
  if (!sqlite.prepare("select 1 from sqlite_schema where name = 'sqlite_stat4'").get()) return;
  // ANALYZE sqlite_schema makes this connection reload the statistics without the samples.
  sqlite.exec('delete from sqlite_stat4; analyze sqlite_schema');
}

export interface DbOptions {
  /** How often to probe while the database cannot be written (default STORAGE_RETRY_SECONDS); tests shorten it. */
  storageProbeMs?: number;
}

export function openDb(file: string, options: DbOptions = {}): Db {
  // The loaded addon (the types only know a path): the single executable unpacks it itself.
  const sqlite = new BetterSqlite3(file, { nativeBinding: nativeAddon('better_sqlite3') as unknown as string });
  // busy_timeout first, so the others wait for a CLI process holding the lock instead of failing.
  sqlite.pragma('busy_timeout = 5000');
  enableWal(sqlite);
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  // Click batches touch pages all over the links, clicks index and rollup tables; with SQLite's
  // default 2 MB page cache most of them were re-read and spilled on every batch.
  sqlite.pragma('cache_size = -65536');
  // Checkpoint every ~80 MB of WAL instead of every 4 MB: a page rewritten by many batches is
  // copied back once. Measured: +30% redirects with a click recorded per redirect
  // (scripts/bench/redirect-scale.mjs).
  sqlite.pragma('wal_autocheckpoint = 20000');
  // After a burst, a checkpoint truncates the WAL back to this size instead of keeping its peak.
  sqlite.pragma('journal_size_limit = 100000000');

  const q = new Kysely<Database>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new SqliteIntrospector(db),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  });

  const statements = new Map<string, BetterSqlite3.Statement>();
  const prepare = (sql: string) => {
    let stmt = statements.get(sql);
    if (!stmt) {
      stmt = sqlite.prepare(sql);
      statements.set(sql, stmt);
    }
    return stmt;
  };
  // SQLite has no boolean type; better-sqlite3 refuses JS booleans.
  const bindable = (values: readonly unknown[]) => values.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));

  const storage = new StorageHealth(() => probeWrite(sqlite), options.storageProbeMs);
  let totalChanges: BetterSqlite3.Statement | undefined;
  const changesSoFar = () => (totalChanges ??= sqlite.prepare('select total_changes()').pluck()).get() as number;

  /** A statement outside a transaction is a transaction of its own: it reports like one. */
  const autocommit = (run: () => BetterSqlite3.RunResult): BetterSqlite3.RunResult => {
    if (sqlite.inTransaction) return run();
    try {
      const result = run();
      if (result.changes > 0) storage.writeSucceeded();
      return result;
    } catch (error) {
      storage.writeFailed(error);
      throw error;
    }
  };

  // The statements themselves, synchronous: what both the database and a transaction's handle run.
  const allOf = (sql: string, params: readonly unknown[]) => {
    const stmt = prepare(sql);
    if (stmt.reader) return stmt.all(...bindable(params));
    autocommit(() => stmt.run(...bindable(params)));
    return [];
  };
  const firstOf = (sql: string, params: readonly unknown[]) => {
    const stmt = prepare(sql);
    if (stmt.reader) return stmt.get(...bindable(params));
    autocommit(() => stmt.run(...bindable(params)));
    return undefined;
  };
  const execOf = (sql: string, params: readonly unknown[]) => {
    const stmt = prepare(sql);
    if (stmt.reader) return { changes: stmt.all(...bindable(params)).length };
    return { changes: autocommit(() => stmt.run(...bindable(params))).changes };
  };

  // One transaction at a time on the one connection; statements from outside wait for it.
  const lock = new Mutex();
  // Which transaction the running code is inside, to catch a query that bypasses its handle
  // (it would wait for the transaction it is part of, forever).
  // (A flag, not just presence: callbacks scheduled inside a transaction keep its context after it ends.)
  const inside = new AsyncLocalStorage<{ open: boolean }>();
  let savepoints = 0;

  const outside = <T>(run: () => T): Promise<T> => {
    if (inside.getStore()?.open) {
      return Promise.reject(new Error('a query inside a transaction must go through the transaction (the handle tx() passes), not the database'));
    }
    if (!lock.held) {
      try {
        return Promise.resolve(run());
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return lock.run(async () => run());
  };

  /** Runs fn as a savepoint of the open transaction. */
  const savepoint = async <T>(handle: Queries, fn: (t: Queries) => Promise<T>): Promise<T> => {
    const name = `sp${++savepoints}`;
    sqlite.exec(`savepoint ${name}`);
    try {
      const result = await fn(handle);
      sqlite.exec(`release ${name}`);
      return result;
    } catch (error) {
      // A full disk or an I/O error may have rolled the whole transaction back already.
      if (sqlite.inTransaction) sqlite.exec(`rollback to ${name}; release ${name}`);
      throw error;
    }
  };

  /** The handle of the open transaction: its statements run at once. */
  const handle: Queries = queriesOver(
    'sqlite',
    q,
    { all: async (sql, p) => allOf(sql, p), first: async (sql, p) => firstOf(sql, p), exec: async (sql, p) => execOf(sql, p) },
    (fn) => savepoint(handle, fn),
  );

  /** BEGIN IMMEDIATE … COMMIT around fn, holding the lock; the outcome reported to storage. */
  const transaction = <T>(fn: (t: Queries) => Promise<T>): Promise<T> =>
    lock.run(async () => {
      // While storage is down, only a transaction that changed rows proves it is back (a read-only one commits anyway).
      const before = storage.available ? 0 : changesSoFar();
      try {
        sqlite.exec('begin immediate');
        let result: T;
        try {
          const context = { open: true };
          try {
            result = await inside.run(context, () => fn(handle));
          } finally {
            context.open = false;
          }
        } catch (error) {
          if (sqlite.inTransaction) sqlite.exec('rollback');
          throw error;
        }
        sqlite.exec('commit');
        if (!storage.available && changesSoFar() > before) storage.writeSucceeded();
        return result;
      } catch (error) {
        if (sqlite.inTransaction) sqlite.exec('rollback');
        storage.writeFailed(error);
        throw error;
      }
    });

  interface QueuedWrite {
    fn: (t: Queries) => Promise<unknown>;
    resolve(value: unknown): void;
    reject(error: unknown): void;
  }
  let queue: QueuedWrite[] = [];
  const drain = async () => {
    const batch = queue;
    queue = [];
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      await transaction(async (t) => {
        for (const item of batch) {
          try {
            outcomes.push({ ok: true, value: await t.tx(item.fn) });
          } catch (error) {
            // SQLite may roll the whole transaction back on a full disk or an I/O error: then the
            // writes before this one are gone too, and the next would run in a transaction of
            // its own. Fail the whole batch instead.
            if (!sqlite.inTransaction) throw error;
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => {
      const o = outcomes[i]!;
      if (o.ok) item.resolve(o.value);
      else item.reject(o.error);
    });
  };

  // The database's own statements wait while a transaction is open.
  const database = queriesOver(
    'sqlite',
    q,
    { all: (sql, p) => outside(() => allOf(sql, p)), first: (sql, p) => outside(() => firstOf(sql, p)), exec: (sql, p) => outside(() => execOf(sql, p)) },
    (fn) => {
      if (inside.getStore()?.open) return Promise.reject(new Error('a transaction inside a transaction must start from its handle (t.tx), not the database'));
      return transaction(fn);
    },
  );

  return {
    ...database,
    sqlite,
    write<T>(fn: (t: Queries) => Promise<T>): Promise<T> {
      if (inside.getStore()?.open) return Promise.reject(new Error('a write inside a transaction must go through its handle (t.tx), not the database'));
      return new Promise<T>((resolve, reject) => {
        if (queue.push({ fn, resolve: resolve as (v: unknown) => void, reject }) === 1) setImmediate(() => void drain());
      });
    },
    storage,
    changes: localChangeFeed(),
    exclusively: (_name, fn) => fn(),
    async close() {
      storage.stop();
      statements.clear();
      sqlite.close();
    },
  };
}

/**
 * The smallest real write: page 1 rewritten with the user_version it already has (LinkQR does
 * not use it), committed through the WAL like any other write, so it fails for the same reasons
 * (read-only file or mount, full disk, I/O error) and succeeds once they are gone.
 */
function probeWrite(sqlite: BetterSqlite3.Database) {
  const version = sqlite.pragma('user_version', { simple: true }) as number;
  sqlite.transaction(() => sqlite.pragma(`user_version = ${version}`)).immediate();
}

/**
 * Switching a new database to WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY at
 * once (no busy handler) when another process opening the same new file holds a shared lock:
 * two first starts at the same moment. Retry for a while instead of failing.
 */
function enableWal(sqlite: BetterSqlite3.Database) {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 0; ; attempt++) {
    try {
      sqlite.pragma('journal_mode = WAL');
      return;
    } catch (e) {
      if (!(e instanceof BetterSqlite3.SqliteError) || !e.code.startsWith('SQLITE_BUSY') || attempt >= 100) throw e;
      Atomics.wait(pause, 0, 0, 20 + Math.random() * 30);
    }
  }
}

/**
 * Runs fn so that what it deletes or overwrites does not linger in the file (nor in the next
 * backup, which copies pages whole): SQLite zeroes the old content (secure_delete) and, when
 * `changed` says fn changed anything, the WAL, which still holds the pages as they were, is
 * copied into the database and truncated. For secrets an older version left in clear and for
 * expired visitor salts; not for every write: on the retention job's large deletes, which
 * delete nothing secret, it would cost extra I/O.
 */
export async function eraseForGood<T>(db: Db, fn: () => Promise<T>, changed: (result: T) => boolean): Promise<T> {
  // PostgreSQL keeps an old row version until VACUUM reclaims it (autovacuum, soon after), and
  // has no way to zero it sooner from SQL.
  if (db.dialect === 'postgres') return fn();
  const before = db.sqlite.pragma('secure_delete', { simple: true }) as number;
  db.sqlite.pragma('secure_delete = ON');
  let result: T;
  try {
    result = await fn();
  } finally {
    db.sqlite.pragma(`secure_delete = ${before === 2 ? 'FAST' : before}`);
  }
  if (changed(result)) db.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  return result;
}
