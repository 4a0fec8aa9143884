import { createHash } from 'node:crypto';
import type { Assets } from '../lib/assets.js';
import { OperatorError } from '../lib/errors.js';

// What the SQLite runner (migrate.ts) and the PostgreSQL runner (migrate-postgres.ts) share: which
// files a dialect ships, their checksums, and the rules that refuse a database (an edited or an
// unknown migration). Nothing here touches a database, so both runners apply the same rules.

/** Each dialect has its own folder, migrations/<dialect>/NNNN_name.sql, with the same numbers and names. */
export type Dialect = 'sqlite' | 'postgres';

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

/** A row of schema_migrations, as both dialects keep it. */
export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
  applied_at: number;
}

export class MigrationError extends OperatorError {
  override name = 'MigrationError';
}

/**
 * A database with tables but without LinkQR's record of migrations belongs to something else:
 * LinkQR creates nothing in it (migrations there would put 36 tables beside another
 * application's, or fail on a name they share and leave schema_migrations behind).
 */
export function refuseForeignTables(where: string, tables: readonly string[]): void {
  if (tables.length === 0) return;
  const shown = tables.slice(0, 5).join(', ') + (tables.length > 5 ? `, and ${tables.length - 5} more` : '');
  throw new MigrationError(
    `${where} already holds tables that LinkQR did not make (${shown}) and no LinkQR schema: it belongs to something else. Point LinkQR at an empty database, or at its own.`,
  );
}

/** The database is older than this build, and the command may not upgrade it. */
export class NeedsMigrationError extends OperatorError {
  override name = 'NeedsMigrationError';
}

/**
 * What opening a database may do with its migrations, the same on both dialects: a new database
 * gets them all; one with some pending is refused unless the command may upgrade it (serve, migrate).
 */
export function refuseUnlessMayMigrate(status: readonly MigrationStatus[], applyPending: boolean): void {
  const pending = status.filter((s) => s.appliedAt === null);
  const fresh = pending.length === status.length;
  if (pending.length === 0 || fresh || applyPending) return;
  throw new NeedsMigrationError(
    `the database needs ${pending.length} migration(s) (${pending.map((p) => pad(p.version)).join(', ')}): run "linkqr migrate" or start the server`,
  );
}

/** The migrations of `dialect` shipped with this build, in order. */
export function loadMigrations(assets: Assets, dialect: Dialect): Migration[] {
  const file = new RegExp(`^migrations/${dialect}/(\\d{4})_([a-z0-9_]+)\\.sql$`);
  const migrations = assets.list(`migrations/${dialect}`).map((path) => {
    const m = file.exec(path);
    if (!m) throw new MigrationError(`migration file ${path} is not named NNNN_name.sql`);
    const sql = assets.readText(path);
    return { version: Number(m[1]), name: m[2]!, sql, checksum: sha256(sql) };
  });
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new MigrationError(`migrations must be numbered 0001, 0002, … without gaps (found ${m.version})`);
  });
  return migrations;
}

/**
 * Compares what the database has applied with what this build ships: refuses a migration edited
 * after it was applied (checksum) and one this build does not know (a newer LinkQR made it).
 */
export function compareApplied(applied: readonly AppliedMigration[], migrations: readonly Migration[]): MigrationStatus[] {
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

/** The migrations not applied yet, in order. */
export function pendingOf(migrations: readonly Migration[], status: readonly MigrationStatus[]): Migration[] {
  return migrations.filter((m) => status.find((s) => s.version === m.version)?.appliedAt === null);
}

/** A migration that failed: its transaction was rolled back, so the database stays at the one before. */
export function migrationFailed(m: Migration, cause: unknown): MigrationError {
  return new MigrationError(
    `migration ${pad(m.version)}_${m.name} failed and was rolled back (${(cause as Error).message}); the database stays at ${pad(m.version - 1)}`,
    { cause },
  );
}

/** How the CLI and the log name a migration: 0001_initial. */
export const migrationLabel = (m: { version: number; name: string }) => `${pad(m.version)}_${m.name}`;

export const pad = (version: number) => String(version).padStart(4, '0');

function sha256(text: string) {
  return createHash('sha256').update(text).digest('hex');
}
