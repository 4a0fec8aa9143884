import BetterSqlite3 from 'better-sqlite3';
import {
  type CompiledQuery,
  DummyDriver,
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import type { Database } from './schema.js';

interface Compilable<R> {
  compile(): CompiledQuery<R>;
}

/**
 * Kysely builds the SQL (typed against the schema); better-sqlite3 runs it synchronously.
 *
 * Why not Kysely's async SqliteDialect: its transactions span awaits, so a timer (the click
 * flush) could run its statements inside someone else's open transaction on the one
 * connection. Here a transaction is a synchronous function: nothing can interleave with it,
 * and it cannot wait on the network by construction.
 */
export interface Db {
  /** Query builder only; pass what it builds to all/first/run. */
  readonly q: Kysely<Database>;
  readonly sqlite: BetterSqlite3.Database;
  all<R>(query: Compilable<R>): R[];
  first<R>(query: Compilable<R>): R | undefined;
  run(query: Compilable<unknown>): { changes: number };
  /** Runs fn in a BEGIN IMMEDIATE transaction (nested calls become savepoints). */
  tx<T>(fn: () => T): T;
  close(): void;
}

export function openDb(file: string): Db {
  const sqlite = new BetterSqlite3(file);
  // busy_timeout first, so the others wait for a CLI process holding the lock instead of failing.
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');

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
  const params = (query: CompiledQuery<unknown>) =>
    query.parameters.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));

  return {
    q,
    sqlite,
    all<R>(query: Compilable<R>) {
      const compiled = query.compile();
      return prepare(compiled.sql).all(...params(compiled)) as R[];
    },
    first<R>(query: Compilable<R>) {
      const compiled = query.compile();
      const stmt = prepare(compiled.sql);
      return (stmt.reader ? stmt.get(...params(compiled)) : (stmt.run(...params(compiled)), undefined)) as R | undefined;
    },
    run(query) {
      const compiled = query.compile();
      const stmt = prepare(compiled.sql);
      if (stmt.reader) return { changes: stmt.all(...params(compiled)).length };
      return { changes: stmt.run(...params(compiled)).changes };
    },
    tx<T>(fn: () => T): T {
      return sqlite.transaction(fn).immediate();
    },
    close() {
      statements.clear();
      sqlite.close();
    },
  };
}
