import { rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { Assets } from '../lib/assets.js';
import { OperatorError } from '../lib/errors.js';
import type { Logger } from 'pino';
import type { Clock } from '../lib/clock.js';
import { backupBeforeMigrating } from './backup.js';
import type { Db } from './db.js';
import { storageProblem } from './storage-errors.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationStatus {
  version: number;
  name: string;
  appliedAt: number | null;
}

export class MigrationError extends OperatorError {
  override name = 'MigrationError';
}

const FILE = /^migrations\/(\d{4})_([a-z0-9_]+)\.sql$/;

/** The migrations shipped with this build, in order. */
export function loadMigrations(assets: Assets): Migration[] {
  const migrations = assets.list('migrations').map((path) => {
    const m = FILE.exec(path);
    if (!m) throw new MigrationError(`migration file ${path} is not named NNNN_name.sql`);
    const sql = assets.readText(path);
    return { version: Number(m[1]), name: m[2]!, sql, checksum: sha256(sql) };
  });
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new MigrationError(`migrations must be numbered 0001, 0002, … without gaps (found ${m.version})`);
  });
  return migrations;
}

function ensureTable(db: Db) {
  db.sqlite.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at INTEGER NOT NULL
  ) STRICT`);
}

/** Compares applied migrations with the shipped ones; refuses edited or unknown ones. */
export function migrationStatus(db: Db, migrations: Migration[]): MigrationStatus[] {
  ensureTable(db);
  const applied = db.all(db.q.selectFrom('schema_migrations').selectAll().orderBy('version'));
  for (const row of applied) {
    const shipped = migrations.find((m) => m.version === row.version);
    if (!shipped) {
      throw new MigrationError(
        `the database has migration ${row.version} (${row.name}) which this build does not know: it was made by a newer LinkQR`,
      );
    }
    if (shipped.checksum !== row.checksum) {
      throw new MigrationError(
        `migration ${pad(row.version)}_${row.name} was edited after it was applied (checksum mismatch); restore the original file`,
      );
    }
  }
  return migrations.map((m) => ({
    version: m.version,
    name: m.name,
    appliedAt: applied.find((a) => a.version === m.version)?.applied_at ?? null,
  }));
}

/** Applies pending migrations in order, each in its own transaction. Returns those applied. */
export function migrate(db: Db, migrations: Migration[], now: number): Migration[] {
  const status = migrationStatus(db, migrations);
  const pending = migrations.filter((m) => status.find((s) => s.version === m.version)?.appliedAt === null);
  const applied: Migration[] = [];
  for (const m of pending) {
    try {
      db.tx(() => {
        // Another process (a CLI command beside the starting server) may have applied it while
        // this one waited for the write lock: check again under the lock.
        if (db.first(db.q.selectFrom('schema_migrations').select('version').where('version', '=', m.version))) return;
        db.sqlite.exec(m.sql);
        db.run(
          db.q.insertInto('schema_migrations').values({ version: m.version, name: m.name, checksum: m.checksum, applied_at: now }),
        );
        applied.push(m);
      });
    } catch (e) {
      // A refusing disk is said as such by the caller (main.ts); anything else is this migration's fault.
      if (storageProblem(e)) throw e;
      throw new MigrationError(
        `migration ${pad(m.version)}_${m.name} failed and was rolled back (${(e as Error).message}); the database stays at ${pad(m.version - 1)}`,
        { cause: e },
      );
    }
  }
  return applied;
}

export const pad = (version: number) => String(version).padStart(4, '0');

function sha256(text: string) {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Applies pending migrations, first taking a copy of a database that already has data
 * (`backups/pre-migrate-…`), so an upgrade can be undone. Serve and `linkqr migrate` both go
 * through here.
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
  if (done.length > 0) ctx.log.info({ migrations: done.map((m) => `${pad(m.version)}_${m.name}`) }, 'migrations applied');
  return done;
}
