import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { type CopySource, type CopyTarget, copyDatabase, postgresSource, postgresTarget, sqliteSource, sqliteTarget, type TableCount } from '../db/database-copy.js';
import { type DataDirLock, lockDataDir } from '../db/data-dir-lock.js';
import { type Db, openDb } from '../db/db.js';
import { DB_FILE } from '../db/files.js';
import { migrate, migrationStatus } from '../db/migrate.js';
import { migratePostgres, postgresMigrationStatus } from '../db/migrate-postgres.js';
import { loadMigrations, type MigrationStatus } from '../db/migrations.js';
import { openPostgres, openPostgresClient, postgresConnectionProblem } from '../db/postgres.js';
import { openPostgresDb } from '../db/postgres-db.js';
import { isPostgresUrl, redactUrl } from '../db/postgres-url.js';
import { ensureDataDir } from '../db/storage-errors.js';
import { systemClock } from '../lib/clock.js';
import { errors, OperatorError } from '../lib/errors.js';
import { type AtRestKeys, existingAtRestKeys, loadAtRestKeys } from '../secrets/at-rest-key.js';
import { prepareSecretsAtRest } from '../secrets/secrets-at-rest.js';
import { VERSION } from '../version.js';
import type { CommandContext } from './command.js';
import { printRows, say } from './output.js';

/**
 * `linkqr copy-database --to T`: every row of the configured database (SQLite in the data dir,
 * or LINKQR_DATABASE_URL) into T, a PostgreSQL URL or a data dir, which must hold no data yet.
 * With the server stopped (on SQLite the data-dir locks make sure of it; PostgreSQL is read from
 * one snapshot, but what instances write after it is not copied). Progress on stderr, a row
 * count per table on stdout; exit 1 when a count differs.
 */
export async function copyDatabaseCommand({ config, assets, logger, options }: CommandContext) {
  const log = await logger();
  const to = String(options.to);
  const from: Side = config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'sqlite', dataDir: resolve(config.dataDir) };
  const target: Side = isPostgresUrl(to) ? { kind: 'postgres', url: to } : { kind: 'sqlite', dataDir: resolve(to) };
  if (from.kind === target.kind) {
    throw errors.usage(
      from.kind === 'sqlite'
        ? 'copy-database copies between SQLite and PostgreSQL: --to must be a postgres:// URL (to copy a SQLite database, use linkqr backup)'
        : 'copy-database copies between SQLite and PostgreSQL: with LINKQR_DATABASE_URL set, --to must be a data dir (to copy PostgreSQL, use pg_dump)',
    );
  }
  // The source's sealed values open with its keys: a data dir's linkqr.key, or LINKQR_SECRET,
  // which instances on PostgreSQL must have.
  if (from.kind === 'postgres' && config.secret === undefined) {
    throw new OperatorError('set LINKQR_SECRET to the one your PostgreSQL instances use: it opens the webhook secrets stored there');
  }
  if (target.kind === 'postgres' && config.secret === undefined) {
    throw new OperatorError('set LINKQR_SECRET (32 characters or more, the same on every instance): on PostgreSQL it is the key that seals webhook secrets');
  }
  const sourceKeys = existingAtRestKeys({ secret: config.secret, ...(from.kind === 'sqlite' ? { dataDir: from.dataDir } : {}) });

  const opened: { close(): Promise<void> }[] = [];
  const locks: DataDirLock[] = [];
  try {
    // No server may write either SQLite side meanwhile: the lock a server holds refuses us, naming it.
    for (const side of [from, target]) {
      if (side.kind === 'sqlite') locks.push(lockDataDir(side.dataDir, { startedAt: new Date().toISOString(), version: VERSION }));
    }
    const source = await openSource(from, assets, opened);
    const destination = await openTarget(target, assets, opened);
    // The key that seals for the target, as its server will load it (a PostgreSQL target needs
    // LINKQR_SECRET; a data dir without it gets a new linkqr.key).
    const targetKeys = loadAtRestKeys(
      target.kind === 'sqlite' ? { secret: config.secret, dataDir: target.dataDir } : { secret: config.secret, dataDir: config.dataDir, databaseUrl: target.url },
    );
    const counts = await copyDatabase(source, destination, progressOn(process.stderr));
    await source.close();
    printCounts(counts, options.json === true);
    // From here on the copy is committed: whatever fails empties it again, so that a second try
    // finds an empty target.
    const problem = await (async () => {
      const differ = counts.filter((c) => c.source !== c.target);
      if (differ.length > 0) return `the copy differs from the source in ${differ.map((c) => c.table).join(', ')}`;
      const unreadable = await sealForTarget(target, sourceKeys, targetKeys, log);
      if (unreadable > 0) {
        return `${unreadable} webhook signing secrets cannot be opened with the keys given (LINKQR_SECRET, and the source data dir's linkqr.key)`;
      }
      return undefined;
    })().catch((e: unknown) => `sealing secrets for the target failed: ${(e as Error).message}`);
    if (problem !== undefined) {
      await destination.empty(counts.map((c) => c.table));
      throw new OperatorError(`${problem}; the target was emptied again`);
    }
    say(
      target.kind === 'postgres'
        ? `Copied into ${redactUrl(target.url)}. Start LinkQR with LINKQR_DATABASE_URL set to it and the same LINKQR_SECRET.`
        : `Copied into ${join(target.dataDir, DB_FILE)}. Start LinkQR with --data-dir ${target.dataDir}, without LINKQR_DATABASE_URL` +
            (config.secret === undefined ? '.' : ', and with the same LINKQR_SECRET (the secrets there are sealed with it).'),
    );
  } catch (e) {
    throw (target.kind === 'postgres' ? postgresConnectionProblem(e, target.url) : undefined) ??
      (from.kind === 'postgres' ? postgresConnectionProblem(e, from.url) : undefined) ??
      e;
  } finally {
    for (const end of opened.reverse()) await end.close().catch(() => {});
    for (const lock of locks) lock.release();
  }
}

type Side = { kind: 'sqlite'; dataDir: string } | { kind: 'postgres'; url: string };
type Assets = CommandContext['assets'];

/** The source, checked to be at this build's schema: a copy of an older one would not fit the target. */
async function openSource(side: Side, assets: Assets, opened: { close(): Promise<void> }[]): Promise<CopySource> {
  if (side.kind === 'sqlite') {
    const file = join(side.dataDir, DB_FILE);
    if (!existsSync(file)) throw errors.notFound(`The database ${file}`);
    const db = openDb(file);
    opened.push(db);
    requireCurrent(migrationStatus(db, loadMigrations(assets, 'sqlite')), 'linkqr migrate');
    return sqliteSource(db.sqlite);
  }
  const pool = openPostgres(side.url, { max: 1 });
  opened.push({ close: () => pool.end() });
  requireCurrent(await postgresMigrationStatus(pool, loadMigrations(assets, 'postgres')), 'LINKQR_DATABASE_URL=… linkqr migrate');
  const client = openPostgresClient(side.url);
  await client.connect();
  opened.push({ close: () => client.end() });
  return postgresSource(client);
}

function requireCurrent(status: MigrationStatus[], command: string) {
  const pending = status.filter((m) => m.appliedAt === null);
  if (pending.length > 0) {
    throw new OperatorError(`the source database is not at this version's schema (${pending.length} migrations pending): run ${command} on it first`);
  }
}

/** The target, migrated to this build's schema once it is known to hold no data. */
async function openTarget(side: Side, assets: Assets, opened: { close(): Promise<void> }[]): Promise<CopyTarget> {
  if (side.kind === 'sqlite') {
    ensureDataDir(side.dataDir);
    const db = openDb(join(side.dataDir, DB_FILE));
    opened.push(db);
    const target = sqliteTarget(db.sqlite);
    await requireEmpty(target, join(side.dataDir, DB_FILE));
    migrate(db, loadMigrations(assets, 'sqlite'), systemClock.now());
    return target;
  }
  const pool = openPostgres(side.url, { max: 1 });
  opened.push({ close: () => pool.end() });
  const client = openPostgresClient(side.url);
  await client.connect();
  opened.push({ close: () => client.end() });
  const target = postgresTarget(client);
  await requireEmpty(target, redactUrl(side.url));
  await migratePostgres(pool, loadMigrations(assets, 'postgres'), () => systemClock.now());
  return target;
}

/** Refuses a target that holds anything but what migrations put there (the default plan). */
async function requireEmpty(target: CopyTarget, name: string) {
  const held: string[] = [];
  for (const table of await target.tables()) {
    if (table === 'schema_migrations' || table === 'plans') continue;
    const n = await target.count(table);
    if (n > 0) held.push(`${table} (${n})`);
  }
  if (held.length > 0) {
    throw new OperatorError(`${name} already holds data: ${held.join(', ')}. Copy into an empty database, or remove that one first.`);
  }
}

/**
 * Sealed values (webhook secrets, stored answers, the day's visitor salt) were copied as they
 * were: sealed again under the target's key, with the same start-up step that handles a changed
 * key. Returns how many webhook secrets could not be opened.
 */
async function sealForTarget(side: Side, sourceKeys: AtRestKeys['previous'], targetKeys: AtRestKeys, log: Logger): Promise<number> {
  const previous = [...targetKeys.previous, ...sourceKeys].filter((k) => k.id !== targetKeys.current.id);
  const keys: AtRestKeys = { current: targetKeys.current, previous };
  const db: Db = side.kind === 'sqlite' ? openDb(join(side.dataDir, DB_FILE)) : openPostgresDb(side.url, { max: 1, log });
  try {
    await prepareSecretsAtRest({ db, keys, log, clock: systemClock });
    const row = await db.row<{ n: number }>('select count(*) as n from webhook_endpoints where secret_unreadable_since is not null');
    return Number(row!.n);
  } finally {
    await db.close();
  }
}

/** A progress bar per table on a terminal; a line per table otherwise (a log, CI). */
function progressOn(stream: NodeJS.WriteStream) {
  let shownAt = 0;
  return (table: string, copied: number, total: number) => {
    const done = copied >= total;
    if (!stream.isTTY) {
      if (done) stream.write(`${table}: ${copied.toLocaleString('en-US')} rows\n`);
      return;
    }
    const now = Date.now();
    if (!done && now - shownAt < 100) return;
    shownAt = now;
    const width = 30;
    const filled = total === 0 ? width : Math.round((copied / total) * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    stream.write(`\r${table.padEnd(22)} ${bar} ${copied.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}\x1b[K${done ? '\n' : ''}`);
  };
}

function printCounts(counts: readonly TableCount[], json: boolean) {
  printRows(counts.map((c) => ({ table: c.table, source: c.source, copied: c.target, check: c.source === c.target ? 'ok' : 'DIFFERS' })), json);
}
