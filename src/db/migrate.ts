import { rmSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Clock } from '../lib/clock.js';
import { backupBeforeMigrating } from './backup.js';
import type { Db } from './db.js';
import { type AppliedMigration, compareApplied, type Migration, migrationFailed, migrationLabel, type MigrationStatus, pad, pendingOf, refuseForeignTables } from './migrations.js';
import { storageProblem } from './storage-errors.js';

// The SQLite runner. Loading the files and the refusals (edited, unknown migrations) are shared
// with the PostgreSQL runner (migrate-postgres.ts) through migrations.ts.
//
// Synchronous, on the raw connection (db.sqlite): migrations run at start-up (openStore) and in
// `linkqr migrate`, before anything else uses the database, so nothing waits on them and
// openStore stays a plain function.
export { loadMigrations, type Migration, MigrationError, type MigrationStatus, pad } from './migrations.js';

function ensureTable(db: Db) {
  if (!db.sqlite.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'").get()) {
    const tables = db.sqlite.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1").pluck().all() as string[];
    refuseForeignTables(`The SQLite database ${JSON.stringify(db.sqlite.name)}`, tables);
  }
  db.sqlite.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL
  ) STRICT`);
}

/** Compares applied migrations with the shipped ones; refuses edited or unknown ones. */
export function migrationStatus(db: Db, migrations: Migration[]): MigrationStatus[] {
  ensureTable(db);
  const applied = db.sqlite.prepare('SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version').all();
  return compareApplied(applied as AppliedMigration[], migrations);
}

/** Applies pending migrations in order, each in its own transaction. Returns those applied. */
export function migrate(db: Db, migrations: Migration[], now: number): Migration[] {
  const pending = pendingOf(migrations, migrationStatus(db, migrations));
  const applied: Migration[] = [];
  for (const m of pending) {
    try {
      db.sqlite
        .transaction(() => {
          // Another process (a CLI command beside the starting server) may have applied it while
          // this one waited for the write lock: check again under the lock.
          if (db.sqlite.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version)) return;
          db.sqlite.exec(m.sql);
          db.sqlite
            .prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)')
            .run(m.version, m.name, m.checksum, now);
          applied.push(m);
        })
        .immediate();
    } catch (e) {
      // A refusing disk is said as such by the caller (main.ts); anything else is this migration's fault.
      if (storageProblem(e)) throw e;
      throw migrationFailed(m, e);
    }
  }
  return applied;
}

/**
 * Applies pending migrations, first taking a copy of a database that already has data
 * (`backups/pre-migrate-…`), so an upgrade can be undone. Serve and `linkqr migrate` both go
 * through here. SQLite only: a PostgreSQL server is backed up with its own tools, and its runner
 * (migrate-postgres.ts) takes no copy.
 */
export function upgradeDatabase(db: Db, migrations: Migration[], ctx: { dataDir: string; clock: Clock; log: Logger }): Migration[] {
  const status = migrationStatus(db, migrations);
  const applied = status.filter((s) => s.appliedAt !== null);
  let backup: { file: string } | undefined;
  if (applied.length > 0 && applied.length < status.length) {
    const from = Math.max(...applied.map((s) => s.version));
    const copy = backupBeforeMigrating(db.sqlite, ctx.dataDir, from, ctx.clock.now());
    ctx.log.info({ file: copy.file, bytes: copy.bytes, from: pad(from), to: pad(status.length) }, 'database backed up before migrating');
    backup = copy;
  }
  let done: Migration[];
  try {
    done = migrate(db, migrations, ctx.clock.now());
  } catch (e) {
    // Nothing applied (the first migration failed and was rolled back): the copy is of the very
    // database that stays, and a service manager restarting a failing start would pile them up.
    if (backup && migrationStatus(db, migrations).filter((s) => s.appliedAt !== null).length === applied.length) rmSync(backup.file, { force: true });
    throw e;
  }
  if (done.length > 0) ctx.log.info({ migrations: done.map(migrationLabel) }, 'migrations applied');
  return done;
}
