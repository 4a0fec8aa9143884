import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { type Db, openDb } from './db/db.js';
import { DB_FILE } from './db/files.js';
import { loadMigrations, migrationStatus, upgradeDatabase } from './db/migrate.js';
import { refuseUnlessMayMigrate } from './db/migrations.js';
import { ensureDataDir } from './db/storage-errors.js';
import { type Assets, shippedAssets } from './lib/assets.js';
import { type Clock, systemClock } from './lib/clock.js';
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

/**
 * Opens the database: SQLite in the data dir, or PostgreSQL when LINKQR_DATABASE_URL is set. A new
 * database gets every migration; an existing one with pending migrations is refused unless
 * `applyPending` (serve and migrate do that).
 */
export async function openStore(config: Config, opts: StoreOptions & { applyPending?: boolean } = {}): Promise<Store> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger(config.logLevel);
  const assets = opts.assets ?? shippedAssets();
  // The PostgreSQL driver is loaded only for a PostgreSQL database: a command on SQLite starts without it.
  const open = config.databaseUrl ? (await import('./db/open-postgres.js')).openPostgresDatabase : openSqliteDatabase;
  const { db, latestMigration } = await open(config, { ...opts, clock, log, assets });
  return { config, log, clock, assets, db, latestMigration };
}

export type OpenOptions = StoreOptions & { applyPending?: boolean; clock: Clock; log: Logger; assets: Assets };

async function openSqliteDatabase(config: Config, opts: OpenOptions) {
  const migrations = loadMigrations(opts.assets, 'sqlite');
  ensureDataDir(config.dataDir);
  const db = openDb(join(config.dataDir, DB_FILE), { storageProbeMs: opts.storageProbeMs });
  try {
    refuseUnlessMayMigrate(migrationStatus(db, migrations), opts.applyPending ?? false);
    upgradeDatabase(db, migrations, { dataDir: config.dataDir, clock: opts.clock, log: opts.log });
  } catch (e) {
    await db.close();
    throw e;
  }
  return { db, latestMigration: migrations.length };
}
