import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DB_FILE } from '../db/files.js';
import { ALL_PAGES, backupDatabase } from '../db/backup.js';
import { openDb } from '../db/db.js';
import { errors, OperatorError } from '../lib/errors.js';
import type { CommandContext } from './command.js';
import { say } from './output.js';

export async function backup({ config, options, positionals }: CommandContext) {
  if (config.databaseUrl) {
    throw new OperatorError(
      'linkqr backup copies the SQLite database in the data dir; a PostgreSQL database (LINKQR_DATABASE_URL) is backed up with its own tools: pg_dump, or your provider\'s snapshots',
      { exitCode: 2 },
    );
  }
  const source = join(config.dataDir, DB_FILE);
  const target = resolve(positionals[0]!);
  if (!existsSync(source)) throw errors.notFound(`The database ${source}`);
  if ([source, `${source}-wal`, `${source}-shm`].includes(target)) throw errors.usage('FILE must not be the database itself.');
  if (!existsSync(dirname(target))) throw errors.notFound(`The folder ${dirname(target)}`);
  if (existsSync(target) && options.force !== true) {
    throw errors.conflict('file_exists', `${target} already exists; pass --force to replace it.`);
  }
  // Not openStore: a backup never migrates the database (the copy is most useful exactly when
  // an upgrade is pending).
  const db = openDb(source);
  try {
    // One step: a server writing from its own process would restart a copy made in steps.
    const { bytes } = await backupDatabase(db.sqlite, target, { pagesPerStep: ALL_PAGES });
    say(`Backed up ${source} to ${target} (${bytes} bytes).`);
  } finally {
    await db.close();
  }
}
