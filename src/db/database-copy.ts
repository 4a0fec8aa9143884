import type BetterSqlite3 from 'better-sqlite3';
import type pg from 'pg';

/**
 * Copies every row of one LinkQR database into another of the other dialect (SQLite to
 * PostgreSQL, or back), as `linkqr copy-database` does. Both have this build's schema (the
 * migrations of both dialects make the same tables and columns: schema-parity.test.ts). Rows go
 * as they are (ids, hashes, sealed values, times): sealed values are sealed again for the
 * target's key afterwards, by the same start-up step that handles a changed key.
 *
 * Reading: from one snapshot (a read transaction), a batch at a time, so memory stays flat however
 * many clicks there are. Writing: in one transaction on the target, tables in foreign-key order,
 * so a copy that fails leaves the target as empty as it was.
 */

/** How many rows are read and written together. */
const BATCH_ROWS = 5_000;
/** This build's own bookkeeping, which migrating the target has written already. */
const NOT_COPIED = new Set(['schema_migrations']);

export interface Column {
  name: string;
  /** PostgreSQL's type (bigint, smallint, text); SQLite's declared type there. */
  type: string;
}

/** One side of a copy: what the schema holds, and how many rows each table has. */
interface End {
  /** Tables in foreign-key order: a table comes after every table it references. */
  tables(): Promise<string[]>;
  columns(table: string): Promise<Column[]>;
  count(table: string): Promise<number>;
}

export interface CopySource extends End {
  /** The rows of a table, each as an array in the order of `columns`, a batch at a time. */
  batches(table: string, columns: readonly string[]): AsyncIterable<unknown[][]>;
  close(): Promise<void>;
}

export interface CopyTarget extends End {
  /** Starts the one transaction that the copy runs in, after deleting what migrations put there (the default plan). */
  begin(tables: readonly string[]): Promise<void>;
  insert(table: string, columns: readonly Column[], rows: readonly unknown[][]): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  /** Deletes every row of these tables again (a committed copy that turned out unusable). */
  empty(tables: readonly string[]): Promise<void>;
}

export interface TableCount {
  table: string;
  source: number;
  target: number;
}

/**
 * Copies every table and returns the row count of each, on both sides, counted after the copy
 * committed. `progress` hears of every batch.
 */
export async function copyDatabase(
  source: CopySource,
  target: CopyTarget,
  progress: (table: string, copied: number, total: number) => void,
): Promise<TableCount[]> {
  const tables = (await target.tables()).filter((t) => !NOT_COPIED.has(t));
  const missing = (await source.tables()).filter((t) => !NOT_COPIED.has(t) && !tables.includes(t));
  if (missing.length > 0) throw new Error(`the target has no table ${missing.join(', ')}: are both databases at this build's schema?`);
  const totals = new Map<string, number>();
  for (const table of tables) totals.set(table, await source.count(table));
  await target.begin(tables);
  try {
    for (const table of tables) {
      const columns = await target.columns(table);
      const total = totals.get(table)!;
      let copied = 0;
      progress(table, copied, total);
      for await (const rows of source.batches(table, columns.map((c) => c.name))) {
        await target.insert(table, columns, rows);
        copied += rows.length;
        progress(table, copied, Math.max(total, copied));
      }
    }
    await target.commit();
  } catch (error) {
    await target.rollback().catch(() => {});
    throw error;
  }
  const counts: TableCount[] = [];
  for (const table of tables) counts.push({ table, source: await source.count(table), target: await target.count(table) });
  return counts;
}

/** Tables in an order where each comes after those it references (self-references aside). */
function foreignKeyOrder(tables: readonly string[], references: ReadonlyMap<string, readonly string[]>): string[] {
  const ordered: string[] = [];
  const placed = new Set<string>();
  const place = (table: string, path: Set<string>) => {
    if (placed.has(table) || path.has(table)) return;
    path.add(table);
    for (const parent of references.get(table) ?? []) if (parent !== table && tables.includes(parent)) place(parent, path);
    placed.add(table);
    ordered.push(table);
  };
  for (const table of [...tables].sort()) place(table, new Set());
  return ordered;
}

const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;

// ---- SQLite ----------------------------------------------------------------------------------

function sqliteSchema(db: BetterSqlite3.Database): End {
  return {
    async tables() {
      const names = (db.prepare(`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`).pluck().all() as string[]);
      const references = new Map(names.map((t) => [t, db.prepare('select "table" from pragma_foreign_key_list(?)').pluck().all(t) as string[]]));
      return foreignKeyOrder(names, references);
    },
    async columns(table) {
      return (db.prepare('select name, type from pragma_table_info(?) order by cid').all(table) as Column[]).map((c) => ({ name: c.name, type: c.type.toLowerCase() }));
    },
    async count(table) {
      return db.prepare(`select count(*) from ${quoted(table)}`).pluck().get() as number;
    },
  };
}

/** Reads a SQLite database from one snapshot: a read transaction held from the first read to close(). */
export function sqliteSource(db: BetterSqlite3.Database): CopySource {
  db.exec('begin');
  // A read makes the snapshot; until then, the transaction has not started.
  db.prepare('select count(*) from sqlite_master').get();
  return {
    ...sqliteSchema(db),
    async *batches(table, columns) {
      const rows = db.prepare(`select ${columns.map(quoted).join(', ')} from ${quoted(table)}`).raw(true).iterate() as IterableIterator<unknown[]>;
      let batch: unknown[][] = [];
      for (const row of rows) {
        batch.push(row);
        if (batch.length >= BATCH_ROWS) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    },
    async close() {
      if (db.inTransaction) db.exec('commit');
    },
  };
}

/** Writes into a SQLite database (migrated, empty but for what migrations insert). */
export function sqliteTarget(db: BetterSqlite3.Database): CopyTarget {
  const inserts = new Map<string, BetterSqlite3.Statement>();
  return {
    ...sqliteSchema(db),
    async begin(tables) {
      db.exec('begin immediate');
      for (const table of [...tables].reverse()) db.exec(`delete from ${quoted(table)}`);
    },
    async insert(table, columns, rows) {
      let insert = inserts.get(table);
      if (!insert) {
        insert = db.prepare(`insert into ${quoted(table)} (${columns.map((c) => quoted(c.name)).join(', ')}) values (${columns.map(() => '?').join(', ')})`);
        inserts.set(table, insert);
      }
      for (const row of rows) insert.run(row);
    },
    async commit() {
      db.exec('commit');
    },
    async rollback() {
      if (db.inTransaction) db.exec('rollback');
    },
    async empty(tables) {
      db.transaction(() => {
        for (const table of [...tables].reverse()) db.exec(`delete from ${quoted(table)}`);
      })();
    },
  };
}

// ---- PostgreSQL ------------------------------------------------------------------------------

function postgresSchema(client: pg.ClientBase): End {
  return {
    async tables() {
      const names = (await client.query<{ name: string }>(`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`)).rows.map((r) => r.name);
      const edges = await client.query<{ child: string; parent: string }>(
        `select child.relname as child, parent.relname as parent
           from pg_constraint c join pg_namespace n on n.oid = c.connamespace
           join pg_class child on child.oid = c.conrelid join pg_class parent on parent.oid = c.confrelid
          where c.contype = 'f' and n.nspname = current_schema()`,
      );
      const references = new Map<string, string[]>();
      for (const e of edges.rows) references.set(e.child, [...(references.get(e.child) ?? []), e.parent]);
      return foreignKeyOrder(names, references);
    },
    async columns(table) {
      const result = await client.query<Column>(
        `select column_name as name, data_type as type from information_schema.columns
          where table_schema = current_schema() and table_name = $1 order by ordinal_position`,
        [table],
      );
      return result.rows;
    },
    async count(table) {
      return Number((await client.query<{ n: string }>(`select count(*) as n from ${quoted(table)}`)).rows[0]!.n);
    },
  };
}

/** Reads a PostgreSQL database from one snapshot: a repeatable-read transaction, a cursor per table. */
export async function postgresSource(client: pg.Client): Promise<CopySource> {
  await client.query('begin isolation level repeatable read read only');
  return {
    ...postgresSchema(client),
    async *batches(table, columns) {
      await client.query(`declare copy_rows no scroll cursor for select ${columns.map(quoted).join(', ')} from ${quoted(table)}`);
      try {
        for (;;) {
          const { rows } = await client.query<unknown[]>({ text: `fetch ${BATCH_ROWS} from copy_rows`, rowMode: 'array' });
          if (rows.length === 0) return;
          yield rows;
        }
      } finally {
        // After a failed fetch the transaction is aborted and this fails too: the first error tells.
        await client.query('close copy_rows').catch(() => {});
      }
    },
    async close() {
      await client.query('commit');
    },
  };
}

/** Writes into a PostgreSQL database (migrated, empty but for what migrations insert). */
export function postgresTarget(client: pg.Client): CopyTarget {
  return {
    ...postgresSchema(client),
    async begin(tables) {
      await client.query('begin');
      await client.query(`truncate ${tables.map(quoted).join(', ')}`);
    },
    async insert(table, columns, rows) {
      // One statement per batch: each column as an array, unnest turning them back into rows.
      const arrays = columns.map((_, i) => rows.map((row) => row[i]));
      await client.query(
        `insert into ${quoted(table)} (${columns.map((c) => quoted(c.name)).join(', ')})
         select * from unnest(${columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ')})`,
        arrays,
      );
    },
    async commit() {
      // Row ids were copied as they are: identity columns must go on after the largest.
      const identities = await client.query<{ table_name: string; column_name: string }>(
        `select table_name, column_name from information_schema.columns where table_schema = current_schema() and is_identity = 'YES'`,
      );
      for (const { table_name: table, column_name: column } of identities.rows) {
        await client.query(
          `select setval(pg_get_serial_sequence($1, $2), coalesce((select max(${quoted(column)}) from ${quoted(table)}), 0) + 1, false)`,
          [quoted(table), column],
        );
      }
      await client.query('commit');
    },
    async rollback() {
      await client.query('rollback');
    },
    async empty(tables) {
      await client.query(`truncate ${tables.map(quoted).join(', ')}`);
    },
  };
}
