import { join } from 'node:path';
import { lockDataDir } from '../db/data-dir-lock.js';
import { DB_FILE } from '../db/files.js';
import { openDb } from '../db/db.js';
import { loadMigrations, migrationStatus, pad, upgradeDatabase } from '../db/migrate.js';
import { ensureDataDir } from '../db/storage-errors.js';
import { systemClock } from '../lib/clock.js';
import { VERSION } from '../version.js';
import type { CommandContext } from './command.js';
import { printRows, say } from './output.js';

export async function migrate({ config, assets, logger, options }: CommandContext) {
  const log = await logger();
  ensureDataDir(config.dataDir);
  const db = openDb(join(config.dataDir, DB_FILE));
  try {
    const migrations = loadMigrations(assets, 'sqlite');
    if (options.status) {
      const rows = migrationStatus(db, migrations).map((s) => ({
        version: pad(s.version),
        name: s.name,
        status: s.appliedAt === null ? 'pending' : 'applied',
        appliedAt: s.appliedAt === null ? null : new Date(s.appliedAt).toISOString(),
      }));
      printRows(rows, options.json === true);
      return;
    }
    // Not under a running server's feet: it refuses, naming the server, as a second serve would.
    const lock = lockDataDir(config.dataDir, { startedAt: new Date().toISOString(), version: VERSION });
    try {
      const applied = upgradeDatabase(db, migrations, { dataDir: config.dataDir, clock: systemClock, log });
      say(applied.length === 0 ? 'Database is up to date.' : `Applied ${applied.map((m) => `${pad(m.version)}_${m.name}`).join(', ')}.`);
    } finally {
      lock.release();
    }
  } finally {
    db.close();
  }
}
