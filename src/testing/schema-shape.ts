import type BetterSqlite3 from 'better-sqlite3';
import type pg from 'pg';

// The shape of a database's schema, read from SQLite (PRAGMAs) and from PostgreSQL (its catalogs)
// into one form, so that src/db/schema-parity.test.ts can compare the two dialects' migrations.
// What is compared is what queries depend on: tables, columns (order, kind, nullability), primary
// keys, indexes, unique keys and foreign keys. Physical details that differ by design are
// normalised away (see the notes on each field).

export interface ColumnShape {
  name: string;
  /** 'integer', 'text' or 'bytes': SQLite's INTEGER is BIGINT (or SMALLINT for 0/1 flags) on PostgreSQL, its BLOB is BYTEA. */
  kind: string;
  /** Primary key columns count as NOT NULL on both (PostgreSQL makes them so; SQLite's STRICT tables refuse NULL there too). */
  notNull: boolean;
  /** The DEFAULT as SQL text ('active', 0), without PostgreSQL's casts ('active'::text); null: none. */
  default: string | null;
}

export interface TableShape {
  columns: ColumnShape[];
  primaryKey: string[];
  /** Indexes made by CREATE INDEX, by name. Not SQLite's autoindexes nor PostgreSQL's constraint indexes. */
  indexes: { name: string; columns: string[]; unique: boolean; partial: boolean }[];
  /**
   * UNIQUE columns. SQLite's `UNIQUE COLLATE NOCASE` column is, on PostgreSQL, a unique index on
   * lower(col): both are { caseInsensitive: true }, whatever their (automatic) names.
   */
  uniqueKeys: { columns: string[]; caseInsensitive: boolean }[];
  foreignKeys: { columns: string[]; references: string; to: string[]; onDelete: string }[];
}

export type SchemaShape = Record<string, TableShape>;

const kindOf = (type: string) => {
  const t = type.toLowerCase();
  if (['integer', 'bigint', 'smallint'].includes(t)) return 'integer';
  if (t === 'text') return 'text';
  // Bytes: SQLite's BLOB is PostgreSQL's BYTEA.
  if (t === 'blob' || t === 'bytea') return 'bytes';
  return `other: ${t}`;
};

const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name);
const byColumns = <T extends { columns: string[] }>(a: T, b: T) => a.columns.join().localeCompare(b.columns.join());

export function sqliteShape(sqlite: BetterSqlite3.Database): SchemaShape {
  const tables = sqlite
    .prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
    .pluck()
    .all() as string[];
  const shape: SchemaShape = {};
  for (const table of tables) {
    const info = sqlite.pragma(`table_info(${JSON.stringify(table)})`) as { name: string; type: string; notnull: number; pk: number; dflt_value: string | null }[];
    const indexList = sqlite.pragma(`index_list(${JSON.stringify(table)})`) as { name: string; unique: number; origin: string; partial: number }[];
    const keyColumns = (index: string) =>
      (sqlite.pragma(`index_xinfo(${JSON.stringify(index)})`) as { seqno: number; name: string | null; key: number; coll: string }[])
        .filter((c) => c.key === 1)
        .sort((a, b) => a.seqno - b.seqno);
    const fks = sqlite.pragma(`foreign_key_list(${JSON.stringify(table)})`) as { id: number; seq: number; table: string; from: string; to: string; on_delete: string }[];
    shape[table] = {
      columns: info.map((c) => ({ name: c.name, kind: kindOf(c.type), notNull: c.notnull === 1 || c.pk > 0, default: c.dflt_value })),
      primaryKey: info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name),
      indexes: indexList
        .filter((i) => i.origin === 'c')
        .map((i) => ({ name: i.name, columns: keyColumns(i.name).map((c) => c.name ?? '(expression)'), unique: i.unique === 1, partial: i.partial === 1 }))
        .sort(byName),
      uniqueKeys: indexList
        .filter((i) => i.origin === 'u')
        .map((i) => {
          const cols = keyColumns(i.name);
          return { columns: cols.map((c) => c.name ?? '(expression)'), caseInsensitive: cols.every((c) => c.coll.toUpperCase() === 'NOCASE') };
        })
        .sort(byColumns),
      foreignKeys: [...new Set(fks.map((f) => f.id))]
        .map((id) => {
          const parts = fks.filter((f) => f.id === id).sort((a, b) => a.seq - b.seq);
          return { columns: parts.map((p) => p.from), references: parts[0]!.table, to: parts.map((p) => p.to), onDelete: parts[0]!.on_delete };
        })
        .sort(byColumns),
    };
  }
  return shape;
}

const ON_DELETE: Record<string, string> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

export async function postgresShape(pool: pg.Pool): Promise<SchemaShape> {
  const tables = (
    await pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`,
    )
  ).rows.map((r) => r.table_name);
  const columns = (
    await pool.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string; column_default: string | null }>(
      `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
       WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`,
    )
  ).rows;
  // Every index of the schema, its key columns as PostgreSQL prints them ("name", "lower(name)"),
  // and the constraint it backs, if any.
  const indexes = (
    await pool.query<{ table_name: string; name: string; unique: boolean; primary: boolean; partial: boolean; constraint_type: string | null; keys: string[] }>(
      `SELECT t.relname AS table_name, ic.relname AS name, i.indisunique AS unique, i.indisprimary AS primary,
              i.indpred IS NOT NULL AS partial,
              (SELECT c.contype::text FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x')) AS constraint_type,
              ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS keys
       FROM pg_index i
       JOIN pg_class t ON t.oid = i.indrelid
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
       WHERE n.nspname = current_schema()`,
    )
  ).rows;
  const fks = (
    await pool.query<{ table_name: string; columns: string[]; references: string; to: string[]; on_delete: string }>(
      `SELECT t.relname AS table_name,
              ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(n, o) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o) AS columns,
              r.relname AS references,
              ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(n, o) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o) AS to,
              c.confdeltype::text AS on_delete
       FROM pg_constraint c
       JOIN pg_class t ON t.oid = c.conrelid
       JOIN pg_class r ON r.oid = c.confrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
       WHERE c.contype = 'f' AND n.nspname = current_schema()`,
    )
  ).rows;

  const lowered = (key: string) => /^lower\(\(?([a-z_][a-z0-9_]*)\)?\)$/.exec(key)?.[1];
  const shape: SchemaShape = {};
  for (const table of tables) {
    const own = indexes.filter((i) => i.table_name === table);
    const pk = own.find((i) => i.primary);
    const caseInsensitive = (i: (typeof own)[number]) => i.unique && !i.constraint_type && i.keys.every((k) => lowered(k));
    shape[table] = {
      columns: columns
        .filter((c) => c.table_name === table)
        .map((c) => ({
          name: c.column_name,
          kind: kindOf(c.data_type),
          notNull: c.is_nullable === 'NO',
          default: c.column_default?.replace(/::(text|bigint|smallint|integer)$/, '') ?? null,
        })),
      primaryKey: pk?.keys ?? [],
      indexes: own
        .filter((i) => !i.constraint_type && !caseInsensitive(i))
        .map((i) => ({ name: i.name, columns: i.keys, unique: i.unique, partial: i.partial }))
        .sort(byName),
      uniqueKeys: [
        ...own.filter((i) => i.constraint_type === 'u').map((i) => ({ columns: i.keys, caseInsensitive: false })),
        ...own.filter(caseInsensitive).map((i) => ({ columns: i.keys.map((k) => lowered(k)!), caseInsensitive: true })),
      ].sort(byColumns),
      foreignKeys: fks
        .filter((f) => f.table_name === table)
        .map((f) => ({ columns: f.columns, references: f.references, to: f.to, onDelete: ON_DELETE[f.on_delete] ?? f.on_delete }))
        .sort(byColumns),
    };
  }
  return shape;
}
