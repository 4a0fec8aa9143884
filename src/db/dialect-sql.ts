import type { Dialect } from './db.js';

/**
 * The SQL fragments that differ between SQLite and PostgreSQL, side by side, so that a query is
 * written once with these where it must differ (src/db/db.ts: Queries.dialect). JSON is stored as
 * TEXT on both (migrations/postgres/0001_initial.sql).
 */

/** The text values of a JSON array given as a parameter (`?`), as a table with one column, `value`. */
export const jsonValuesParam = (d: Dialect) => (d === 'sqlite' ? 'json_each(?)' : 'json_array_elements_text(?::json)');

/**
 * PostgreSQL: many rows given as one parameter (`?`, a JSON array of arrays, `jsonRowsParam`) and
 * read back as a table `alias` with these columns. One statement of fixed text whatever the number
 * of rows; measured against one text array per column (unnest), the rows cost a third of the
 * client's CPU to send (JSON.stringify instead of escaping each element) and no more on the server.
 */
export const pgJsonRows = (alias: string, columns: Record<string, 'text' | 'bigint' | 'smallint'>) =>
  `(select ${Object.entries(columns)
    .map(([name, type], i) => `(r->>${i})::${type} as ${name}`)
    .join(', ')} from jsonb_array_elements(?::jsonb) as r) as ${alias}`;

/** The parameter of pgJsonRows: each row as an array, in the order of its columns. */
export const jsonRowsParam = <T>(rows: readonly T[], pick: (row: T) => readonly unknown[]): string => JSON.stringify(rows.map(pick));

/** The text values of a JSON array held in a column, as a table with one column, `value`. */
export const jsonValuesOf = (d: Dialect, column: string) => (d === 'sqlite' ? `json_each(${column})` : `json_array_elements_text(${column}::json)`);

/** A number in a JSON object column (null when absent). */
export const jsonNumber = (d: Dialect, column: string, key: string) =>
  d === 'sqlite' ? `json_extract(${column}, '$.${key}')` : `(${column}::json ->> '${key}')::bigint`;

/** Whether a JSON object column's flag is on; a missing flag counts as on. */
export const jsonFlagOn = (d: Dialect, column: string, key: string) =>
  d === 'sqlite' ? `coalesce(json_extract(${column}, '$.${key}'), 1) != 0` : `coalesce((${column}::json ->> '${key}')::boolean, true)`;

/** The larger of two values (SQLite's two-argument max(), PostgreSQL's greatest()). */
export const greatest = (d: Dialect, a: string, b: string) => (d === 'sqlite' ? `max(${a}, ${b})` : `greatest(${a}, ${b})`);

/** The smaller of two values. */
export const least = (d: Dialect, a: string, b: string) => (d === 'sqlite' ? `min(${a}, ${b})` : `least(${a}, ${b})`);

/**
 * `column = ?` ignoring case, for the names SQLite declares COLLATE NOCASE (workspace and plan
 * names, emails), which PostgreSQL keeps unique through an index on lower(column).
 */
export const equalsCaseless = (d: Dialect, column: string) => (d === 'sqlite' ? `${column} = ?` : `lower(${column}) = lower(?)`);

/** LIKE that ignores ASCII case, as SQLite's does. */
export const likeCaseless = (d: Dialect) => (d === 'sqlite' ? 'like' : 'ilike');

/** An ORDER BY term that ignores case (ASCII, as SQLite's NOCASE). */
export const caseless = (d: Dialect, expr: string) => (d === 'sqlite' ? `${expr} collate nocase` : `lower(${expr})`);
