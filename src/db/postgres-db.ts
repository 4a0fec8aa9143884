import { createHash } from 'node:crypto';
import { AsyncLocalStorage } from 'node:async_hooks';
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import type pg from 'pg';
import type { Compilable, Queries } from './db.js';
import type { Database } from './schema.js';

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

export function postgresQueries(pool: pg.Pool): PostgresQueries & { close(): Promise<void> } {
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
    const result = await client.query({ name, text, values: bindable(params) });
    return { rows: result.rows as R[], changes: result.rowCount ?? 0 };
  };

  const on = (client: Client, tx: (fn: (t: Queries) => Promise<unknown>) => Promise<unknown>): PostgresQueries => ({
    dialect: 'postgres',
    q,
    all: async <R>(b: Compilable<R>) => {
      const c = b.compile();
      return (await query<R>(client, c.sql, c.parameters, true)).rows;
    },
    first: async <R>(b: Compilable<R>) => {
      const c = b.compile();
      return (await query<R>(client, c.sql, c.parameters, true)).rows[0];
    },
    run: async (b) => {
      const c = b.compile();
      return { changes: (await query(client, c.sql, c.parameters, true)).changes };
    },
    rows: async <R>(sql: string, ...params: unknown[]) => (await query<R>(client, sql, params, false)).rows,
    row: async <R>(sql: string, ...params: unknown[]) => (await query<R>(client, sql, params, false)).rows[0],
    exec: async (sql, ...params) => ({ changes: (await query(client, sql, params, false)).changes }),
    tx: tx as Queries['tx'],
  });

  /** A statement outside a transaction: any free connection, unless the caller is inside one. */
  const outsideClient: Client = {
    query: ((config: pg.QueryConfig) => {
      if (inside.getStore()?.open) {
        return Promise.reject(new Error('a query inside a transaction must go through the transaction (the handle tx() passes), not the database'));
      }
      return pool.query(config);
    }) as Client['query'],
  };

  const transaction = async <T>(fn: (t: Queries) => Promise<T>): Promise<T> => {
    if (inside.getStore()?.open) throw new Error('a transaction inside a transaction must start from its handle (t.tx), not the database');
    for (let attempt = 1; ; attempt++) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('begin');
        const handle: PostgresQueries = on(client, (inner) => savepoint(client, handle, inner));
        const context = { open: true };
        let result: T;
        try {
          result = await inside.run(context, () => fn(handle));
        } finally {
          context.open = false;
        }
        await client.query('commit');
        return result;
      } catch (error) {
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
      await client.query(`rollback to savepoint ${name}`);
      throw error;
    }
  };

  return { ...on(outsideClient, transaction as (fn: (t: Queries) => Promise<unknown>) => Promise<unknown>), close: () => pool.end() };
}
