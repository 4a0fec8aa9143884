import type pg from 'pg';
import { type AppliedMigration, compareApplied, type Migration, migrationFailed, type MigrationStatus, pendingOf, refuseForeignTables } from './migrations.js';

// The PostgreSQL runner: the same schema_migrations table, files (migrations/postgres/), checksum
// and ordering rules and refusals as the SQLite one (migrate.ts; the shared parts are in
// migrations.ts). What differs, and why:
//   * Instances that start at once (several servers behind a load balancer, or a deploy's
//     migrate jobs) all reach the database: the run holds a PostgreSQL advisory lock, so one
//     applies and the others wait, then find nothing pending. The SQLite runner has the data-dir
//     lock and SQLite's write lock instead.
//   * No copy of the database before migrating: that is the SQLite file's `pre-migrate-…` copy;
//     a PostgreSQL server is backed up with its own tools (pg_dump, base backups). Every
//     migration still runs in a transaction of its own (PostgreSQL's DDL is transactional), so a
//     failed one leaves the database at the one before.

/**
 * The key of the advisory lock every LinkQR migration run takes (pg_advisory_lock takes a bigint;
 * this one is "LinkQR" in ASCII, 0x4c696e6b5152, in decimal: PostgreSQL before 16 reads no hex).
 * Advisory locks are per database: two LinkQR databases on one server do not wait for each other.
 */
export const MIGRATION_LOCK_KEY = '84015707803986';

/** The same columns as SQLite's schema_migrations (migrate.ts), in PostgreSQL's types. */
const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL
)`;

// The schema LinkQR's tables are in: the one CREATE TABLE without a schema uses (the first of the
// search_path that exists), where unqualified names are found first too.
const CURRENT_NAMESPACE = `(SELECT oid FROM pg_namespace WHERE nspname = current_schema())`;

async function appliedMigrations(client: pg.ClientBase): Promise<AppliedMigration[]> {
  // Read-only: --status on a database never migrated creates nothing. LinkQR's record of
  // migrations, in that schema only, with its own columns (Rails, Ecto or dbmate keep a
  // schema_migrations of their own: that one is another application's).
  const columns = await client.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relname = 'schema_migrations' AND c.relnamespace = ${CURRENT_NAMESPACE} AND a.attnum > 0 AND NOT a.attisdropped`,
  );
  const ours = ['version', 'name', 'checksum', 'applied_at'].every((n) => columns.rows.some((r) => r.name === n));
  if (!ours) {
    // pg_class, not information_schema (which shows only the tables this role may use); tables an
    // extension made (PostGIS's spatial_ref_sys) are the database's, not another application's.
    const tables = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c
       WHERE c.relnamespace = ${CURRENT_NAMESPACE} AND c.relkind IN ('r', 'p')
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
       ORDER BY 1`,
    );
    if (tables.rows.length > 0) {
      const { rows } = await client.query<{ name: string }>('SELECT current_database() AS name');
      refuseForeignTables(`The PostgreSQL database ${JSON.stringify(rows[0]?.name)}`, tables.rows.map((r) => r.name));
    }
    return [];
  }
  const rows = await client.query<AppliedMigration>('SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version');
  return rows.rows;
}

/** Compares applied migrations with the shipped ones; refuses edited or unknown ones. Changes nothing. */
export async function postgresMigrationStatus(pool: pg.Pool, migrations: Migration[]): Promise<MigrationStatus[]> {
  const client = await pool.connect();
  try {
    return compareApplied(await appliedMigrations(client), migrations);
  } finally {
    client.release();
  }
}

/**
 * Applies pending migrations in order, each in its own transaction, under the advisory lock.
 * Returns those this call applied (none when another instance applied them while it waited).
 */
export async function migratePostgres(pool: pg.Pool, migrations: Migration[], now: () => number): Promise<Migration[]> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    // A session lock: it is released by the unlock below, or by PostgreSQL when this connection
    // ends (a process killed mid-run leaves no lock behind).
    await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    try {
      // Read under the lock (what another instance applied while this one waited is not pending),
      // and before creating anything: a database of another application is refused untouched.
      const alreadyApplied = await appliedMigrations(client);
      await client.query(CREATE_TABLE);
      const pending = pendingOf(migrations, compareApplied(alreadyApplied, migrations));
      const applied: Migration[] = [];
      for (const m of pending) {
        try {
          await client.query('BEGIN');
          // No parameters: the simple query protocol, which runs a file of several statements.
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)', [
            m.version,
            m.name,
            m.checksum,
            now(),
          ]);
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK').catch((rollback: Error) => (broken = rollback));
          throw migrationFailed(m, e);
        }
        applied.push(m);
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]).catch((unlock: Error) => (broken = unlock));
    }
  } finally {
    // A connection that could not roll back or unlock is closed rather than reused: closing it
    // ends the transaction and frees the lock.
    client.release(broken);
  }
}
