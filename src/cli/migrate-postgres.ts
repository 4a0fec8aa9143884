import { migratePostgres, postgresMigrationStatus } from '../db/migrate-postgres.js';
import { loadMigrations, migrationLabel } from '../db/migrations.js';
import { openPostgres, postgresConnectionProblem } from '../db/postgres.js';
import { redactUrl } from '../db/postgres-url.js';
import { systemClock } from '../lib/clock.js';
import type { CommandContext } from './command.js';
import { printStatus, sayApplied } from './migrate-output.js';

/**
 * `linkqr migrate [--status]` on PostgreSQL. What the SQLite path does and this one does not:
 *   * no data-dir lock: instances on other machines share the database, not a data dir; the
 *     runner's advisory lock in the database itself serialises them (src/db/migrate-postgres.ts);
 *   * no pre-migration copy: that is a copy of the SQLite file; back PostgreSQL up with its own
 *     tools (pg_dump) before upgrading.
 */
export async function migratePostgresCommand({ assets, logger, options }: CommandContext, url: string) {
  const log = await logger();
  const migrations = loadMigrations(assets, 'postgres');
  // One connection is all a run uses.
  const pool = openPostgres(url, { max: 1 });
  try {
    if (options.status) {
      printStatus(await postgresMigrationStatus(pool, migrations), options.json === true);
      return;
    }
    const applied = await migratePostgres(pool, migrations, () => systemClock.now());
    if (applied.length > 0) log.info({ database: redactUrl(url), migrations: applied.map(migrationLabel) }, 'migrations applied');
    sayApplied(applied);
  } catch (e) {
    throw postgresConnectionProblem(e, url) ?? e;
  } finally {
    await pool.end();
  }
}
