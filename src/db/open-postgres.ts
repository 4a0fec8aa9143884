import type { OpenOptions } from '../store.js';
import type { Config } from '../config.js';
import { migratePostgres, postgresMigrationStatus } from './migrate-postgres.js';
import { loadMigrations, migrationLabel, refuseUnlessMayMigrate } from './migrations.js';
import { openPostgres, postgresConnectionProblem } from './postgres.js';
import { openPostgresDb } from './postgres-db.js';
import { redactUrl } from './postgres-url.js';

/**
 * PostgreSQL: the migrations run on a connection of their own under the runner's advisory lock
 * (src/db/migrate-postgres.ts), so instances starting together apply each one once; there is no
 * copy before migrating (that is pg_dump's job, README).
 */
export async function openPostgresDatabase(config: Config, opts: OpenOptions) {
  const url = config.databaseUrl!;
  const migrations = loadMigrations(opts.assets, 'postgres');
  const runner = openPostgres(url, { max: 1 });
  try {
    refuseUnlessMayMigrate(await postgresMigrationStatus(runner, migrations), opts.applyPending ?? false);
    const applied = await migratePostgres(runner, migrations, () => opts.clock.now());
    if (applied.length > 0) opts.log.info({ database: redactUrl(url), migrations: applied.map(migrationLabel) }, 'migrations applied');
  } catch (e) {
    throw postgresConnectionProblem(e, url) ?? e;
  } finally {
    await runner.end();
  }
  return { db: openPostgresDb(url, { storageProbeMs: opts.storageProbeMs, log: opts.log }), latestMigration: migrations.length };
}
