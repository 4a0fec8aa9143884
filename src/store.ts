import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { type Db, openDb } from './db/db.js';
import { DB_FILE } from './db/files.js';
import { loadMigrations, migrationStatus, pad, upgradeDatabase } from './db/migrate.js';
import { notOnPostgresYet } from './db/postgres-not-yet.js';
import { ensureDataDir } from './db/storage-errors.js';
import { type Assets, shippedAssets } from './lib/assets.js';
import { type Clock, systemClock } from './lib/clock.js';
import { OperatorError } from './lib/errors.js';
import { createLogger } from './lib/logger.js';

// What every command needs, and no more: the server itself is in app.ts (createServer), so a CLI
// command that only reads or writes the database does not load the HTTP stack.

export interface StoreOptions {
  clock?: Clock;
  log?: Logger;
  assets?: Assets;
  /** How often to probe while the database cannot be written (tests shorten it). */
  storageProbeMs?: number;
}

/** What every command needs: config, logger, clock, assets and a migrated database. */
export interface Store {
  config: Config;
  log: Logger;
  clock: Clock;
  assets: Assets;
  db: Db;
  /** The version of the newest migration this build has (what /readyz compares the database with). */
  latestMigration: number;
}

export class NeedsMigrationError extends OperatorError {
  override name = 'NeedsMigrationError';
}

/**
 * Opens the database in the data dir. A new database gets every migration; an existing one
 * with pending migrations is refused unless `applyPending` (serve and migrate do that).
 */
export function openStore(config: Config, opts: StoreOptions & { applyPending?: boolean } = {}): Store {
  // main.ts refuses such commands first; this keeps anything else from opening the SQLite file
  // while the operator has asked for PostgreSQL.
  if (config.databaseUrl) throw notOnPostgresYet();
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger(config.logLevel);
  const assets = opts.assets ?? shippedAssets();
  const migrations = loadMigrations(assets, 'sqlite');
  ensureDataDir(config.dataDir);
  const db = openDb(join(config.dataDir, DB_FILE), { storageProbeMs: opts.storageProbeMs });
  try {
    const status = migrationStatus(db, migrations);
    const pending = status.filter((s) => s.appliedAt === null);
    const fresh = pending.length === status.length;
    if (pending.length > 0 && !fresh && !opts.applyPending) {
      throw new NeedsMigrationError(
        `the database needs ${pending.length} migration(s) (${pending.map((p) => pad(p.version)).join(', ')}): run "linkqr migrate" or start the server`,
      );
    }
    upgradeDatabase(db, migrations, { dataDir: config.dataDir, clock, log });
  } catch (e) {
    db.close();
    throw e;
  }
  return { config, log, clock, assets, db, latestMigration: migrations.length };
}
