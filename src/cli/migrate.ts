import { join } from 'node:path';
import { lockDataDir } from '../db/data-dir-lock.js';
import { DB_FILE } from '../db/files.js';
import { openDb } from '../db/db.js';
import { migrationStatus, upgradeDatabase } from '../db/migrate.js';
import { loadMigrations } from '../db/migrations.js';
import { ensureDataDir } from '../db/storage-errors.js';
import { systemClock } from '../lib/clock.js';
import { VERSION } from '../version.js';
import type { CommandContext } from './command.js';
import { printStatus, sayApplied } from './migrate-output.js';

/** `linkqr migrate [--status]`: on PostgreSQL when LINKQR_DATABASE_URL is set, else on the SQLite file in the data dir. */
export async function migrate(ctx: CommandContext) {
  if (ctx.config.databaseUrl) {
    // Imported only here: the SQLite path (and every other command) does not load the pg driver.
    const { migratePostgresCommand } = await import('./migrate-postgres.js');
    return migratePostgresCommand(ctx, ctx.config.databaseUrl);
  }
  return migrateSqlite(ctx);
}

/** SQLite: under the data-dir lock, with a copy of the file first (upgradeDatabase); neither applies to PostgreSQL. */
async function migrateSqlite({ config, assets, logger, options }: CommandContext) {
  const log = await logger();
  ensureDataDir(config.dataDir);
  const db = openDb(join(config.dataDir, DB_FILE));
  try {
    const migrations = loadMigrations(assets, 'sqlite');
    if (options.status) {
      printStatus(migrationStatus(db, migrations), options.json === true);
      return;
    }
    // Not under a running server's feet: it refuses, naming the server, as a second serve would.
    const lock = lockDataDir(config.dataDir, { startedAt: new Date().toISOString(), version: VERSION });
    try {
      sayApplied(upgradeDatabase(db, migrations, { dataDir: config.dataDir, clock: systemClock, log }));
    } finally {
      lock.release();
    }
  } finally {
    await db.close();
  }
}
