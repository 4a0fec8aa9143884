import { createHash } from 'node:crypto';
import { AsyncLocalStorage } from 'node:async_hooks';
import { finished } from 'node:stream/promises';
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { type Db, type Queries, queriesOver } from './db.js';
import type { Logger } from 'pino';
import { postgresChangeFeed } from './postgres-change-feed.js';
import { openPostgres } from './postgres.js';
import type { Database } from './schema.js';
import { StorageHealth } from './storage-health.js';

/**
 * The data layer on PostgreSQL: the same Queries as SQLite's (src/db/db.ts), over a pool.
 *
 * Transactions run concurrently, each on a connection of its own: correctness comes from
 * constraints, row locks and atomic statements, and a transaction that PostgreSQL aborts for a
 * serialization failure or a deadlock is run again from the start (its function only queries, so
 * it can be). A statement outside a transaction takes any free connection.
 */
export interface PostgresQueries extends Queries {
  readonly dialect: 'postgres';
  /**
   * Appends rows to a table by COPY (text format), in the transaction of this handle: PostgreSQL
   * parses no statement or JSON per row, about 30% less of its CPU a row than an INSERT of the
   * same rows as one JSON parameter (measured). Values: strings, numbers, booleans (as 1/0) or null.
   */
  copyRows(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[]): Promise<void>;
}

/** A value in COPY's text format: backslash, tab, newline and carriage return escaped; null as \N. */
function copyText(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  const text = String(value);
  return /[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r')) : text;
}

/** Rows in COPY's text format. Plain loops: the click batches' rows go through here (map and join cost a fifth more). */
function copyLines(rows: readonly (readonly unknown[])[]): string {
  let text = '';
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) text += (i === 0 ? '' : '\t') + copyText(row[i]);
    text += '\n';
  }
  return text;
}

/** SQLSTATEs after which the whole transaction may simply be tried again. */
const RETRYABLE = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 5;

/** `?` placeholders (the portable spelling the hand-written SQL uses) as PostgreSQL's `$1, $2…`, outside string literals. */
export function numberedPlaceholders(sql: string): string {
  let n = 0;
  let out = '';
  let quoted = false;
  for (const ch of sql) {
    if (ch === "'") quoted = !quoted;
    out += ch === '?' && !quoted ? `$${++n}` : ch;
  }
  return out;
}

// Flags are SMALLINT 0/1 on both databases (migrations/postgres/0001_initial.sql).
const bindable = (values: readonly unknown[]) => values.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));

/** Each text gets a prepared-statement name, so every pooled connection parses and plans it once. */
const names = new Map<string, { name: string; text: string }>();
function prepared(sql: string, numbered: boolean) {
  let entry = names.get(sql);
  if (!entry) {
    const text = numbered ? sql : numberedPlaceholders(sql);
    entry = { name: `lqr_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`, text };
    names.set(sql, entry);
  }
  return entry;
}

type Client = Pick<pg.PoolClient, 'query'>;

/**
 * pg reports a connection that died under it (PostgreSQL restarted, the network went) as a plain
 * Error without a code: give it one, so that it reads as "the database cannot be reached"
 * (src/db/storage-errors.ts) and the request gets 503, not 500.
 */
function withCode(error: unknown): unknown {
  if (error instanceof Error && !(error as { code?: unknown }).code && /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection closed/i.test(error.message)) {
    Object.assign(error, { code: 'ECONNRESET' });
  }
  return error;
}

export interface PostgresQueriesOptions {
  /** Told of every statement's outcome: a database that answers again makes storage available. */
  storage?: StorageHealth;
}

export function postgresQueries(pool: pg.Pool, options: PostgresQueriesOptions = {}): PostgresQueries & { close(): Promise<void> } {
  const { storage } = options;
  const q = new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  const inside = new AsyncLocalStorage<{ open: boolean }>();
  let savepoints = 0;

  const query = async <R>(client: Client, sql: string, params: readonly unknown[], numbered: boolean) => {
    const { name, text } = prepared(sql, numbered);
    let result: pg.QueryResult;
    try {
      result = await client.query({ name, text, values: bindable(params) });
    } catch (error) {
      storage?.writeFailed(withCode(error));
      throw error;
    }
    if (storage && !storage.available) storage.writeSucceeded();
    return { rows: result.rows as R[], changes: result.rowCount ?? 0 };
  };

  /** COPY … FROM STDIN of rows on a connection of its own (a transaction's). */
  const copy = async (client: pg.PoolClient, table: string, columns: readonly string[], rows: readonly (readonly unknown[])[]) => {
    const text = copyLines(rows);
    try {
      const stream = client.query(copyFrom(`copy ${table} (${columns.join(', ')}) from stdin`));
      stream.end(text);
      // 'finish' comes once PostgreSQL has taken the rows and the connection is ready for the next statement.
      await finished(stream);
      if (storage && !storage.available) storage.writeSucceeded();
    } catch (error) {
      storage?.writeFailed(withCode(error));
      throw error;
    }
  };

  const on = (client: Client, tx: Queries['tx'], copyClient?: pg.PoolClient): PostgresQueries => ({
    ...queriesOver(
      'postgres',
      q,
      {
        all: async (sql, p, built) => (await query(client, sql, p, built)).rows,
        first: async (sql, p, built) => (await query(client, sql, p, built)).rows[0],
        exec: async (sql, p, built) => ({ changes: (await query(client, sql, p, built)).changes }),
      },
      tx,
    ),
    dialect: 'postgres',
    copyRows: (table, columns, rows) => {
      if (!copyClient) return Promise.reject(new Error('copyRows runs inside a transaction (the handle tx() passes)'));
      return rows.length === 0 ? Promise.resolve() : copy(copyClient, table, columns, rows);
    },
  });

  /**
   * A statement outside a transaction: any free connection, unless the caller is inside one. One
   * that PostgreSQL aborted for a deadlock or a serialization failure had no effect, and runs
   * again, as a transaction does (a webhook outcome is one such statement, src/outbox/deliveries.repo.ts).
   */
  const outsideClient: Client = {
    query: (async (config: pg.QueryConfig) => {
      if (inside.getStore()?.open) {
        throw new Error('a query inside a transaction must go through the transaction (the handle tx() passes), not the database');
      }
      for (let attempt = 1; ; attempt++) {
        try {
          return await pool.query(config);
        } catch (error) {
          const code = (error as { code?: string }).code;
          if (!code || !RETRYABLE.has(code) || attempt >= MAX_ATTEMPTS) throw error;
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
        }
      }
    }) as Client['query'],
  };

  const transaction = async <T>(fn: (t: Queries) => Promise<T>): Promise<T> => {
    if (inside.getStore()?.open) throw new Error('a transaction inside a transaction must start from its handle (t.tx), not the database');
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        storage?.writeFailed(withCode(error));
        throw error;
      }
      let broken: Error | undefined;
      try {
        await client.query('begin');
        const handle: PostgresQueries = on(client, (inner) => savepoint(client, handle, inner), client);
        const context = { open: true };
        let result: T;
        try {
          result = await inside.run(context, () => fn(handle));
        } finally {
          context.open = false;
        }
        // A transaction a failed statement aborted answers COMMIT with ROLLBACK, not an error.
        const committed = await client.query('commit');
        if (committed.command !== 'COMMIT') throw new Error('the transaction was rolled back by PostgreSQL (a statement in it failed and the failure was caught)');
        return result;
      } catch (error) {
        withCode(error);
        try {
          await client.query('rollback');
        } catch (e) {
          broken = e as Error; // the connection itself failed: do not give it back to the pool
        }
        const code = (error as { code?: string }).code;
        if (!code || !RETRYABLE.has(code) || attempt >= MAX_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
      } finally {
        client.release(broken);
      }
    }
  };

  const savepoint = async <T>(client: Client, handle: Queries, fn: (t: Queries) => Promise<T>): Promise<T> => {
    const name = `sp${++savepoints}`;
    await client.query(`savepoint ${name}`);
    try {
      const result = await fn(handle);
      await client.query(`release savepoint ${name}`);
      return result;
    } catch (error) {
      // If the rollback itself fails (the connection went), the first error is the one to report.
      await client.query(`rollback to savepoint ${name}`).catch(() => {});
      throw error;
    }
  };

  return { ...on(outsideClient, transaction), close: () => pool.end() };
}

export interface PostgresDbOptions {
  /** How often to probe while the database cannot be reached (default STORAGE_RETRY_SECONDS); tests shorten it. */
  storageProbeMs?: number;
  /** Connections in the pool (default 10). */
  max?: number;
  log: Logger;
}

/**
 * The database on PostgreSQL, as the rest of LinkQR uses it (Db). `write` is a transaction of its
 * own: with concurrent transactions there is nothing to gain from grouping commits in one process.
 * Storage health follows whether PostgreSQL answers: a restart makes writes 503 with Retry-After
 * until a statement (or the probe, `select 1`) succeeds again; the pool reconnects by itself.
 */
export function openPostgresDb(url: string, options: PostgresDbOptions): Db {
  const pool = openPostgres(url, { max: options.max ?? 10 });
  const storage = new StorageHealth(async () => {
    try {
      await pool.query('select 1');
    } catch (error) {
      throw withCode(error);
    }
  }, options.storageProbeMs);
  const queries = postgresQueries(pool, { storage });
  const changes = postgresChangeFeed(url, pool, options.log);
  return {
    ...queries,
    get sqlite(): never {
      throw new Error('this database is PostgreSQL: db.sqlite is for SQLite only (check db.dialect)');
    },
    write: (fn) => queries.tx(fn),
    storage,
    changes,
    async exclusively(name, fn) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        const key = `linkqr:${name}`;
        const { rows } = await client.query<{ held: boolean }>('select pg_try_advisory_lock(hashtext($1)) as held', [key]);
        if (!rows[0]?.held) return undefined;
        try {
          return await fn();
        } finally {
          await client.query('select pg_advisory_unlock(hashtext($1))', [key]).catch((e: Error) => (broken = e));
        }
      } finally {
        client.release(broken);
      }
    },
    async close() {
      storage.stop();
      await changes.close();
      await queries.close();
    },
  };
}
