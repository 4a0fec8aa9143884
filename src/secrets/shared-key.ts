import type { Logger } from 'pino';
import type { Queries } from '../db/db.js';
import { OperatorError } from '../lib/errors.js';
import { RepeatedFailure } from '../lib/repeated-failure.js';
import type { AtRestKey } from './at-rest-key.js';

/**
 * Instances on one PostgreSQL database must share LINKQR_SECRET. One started with another secret
 * cannot open the database's sealed secrets, and at start-up it would mark every webhook endpoint's
 * secret unreadable, for every instance: deliveries would stop everywhere (and a secret rotated
 * through it would be sealed under a key the others lack). So each running server keeps a settings
 * row saying which key it uses (the key's public id, the one every sealed value carries), and a
 * server whose key differs from one in use lately refuses to start, before it reads any secret.
 *
 * One row per key, refreshed by every server using it; times are the database's, so that servers
 * whose clocks differ agree. A lost key is still a lost key (README, "Secrets at rest"): once the
 * servers using the old one are stopped, its row ages out and the new key starts.
 */
const PREFIX = 'at_rest_key_in_use:';
const ANNOUNCE_EVERY_MS = 10_000;
/** A row this recent is a server still running: it misses two refreshes before it counts as gone. */
const IN_USE_FOR_MS = 3 * ANNOUNCE_EVERY_MS;
/** Rows of keys no server has used for this long go. */
const FORGOTTEN_AFTER_MS = 24 * 60 * 60_000;
/** Taken for the check and the claim together, so that two servers starting at once take turns. */
const CLAIM_LOCK_KEY = '84015707803987';

const NOW_MS = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;
// A row's time; null (never in use) for a value that is not one, rather than a failing cast.
const SEEN_AT = `case when value ~ '^[0-9]{1,18}$' then cast(value as bigint) end`;
const ANNOUNCE = `insert into settings (key, value) values (?, cast(${NOW_MS} as text))
  on conflict (key) do update set value = excluded.value`;

/**
 * Refuses (OperatorError) when a server with another at-rest key used this database in the last
 * IN_USE_FOR_MS; otherwise records this key as in use, then every ANNOUNCE_EVERY_MS until `stop`.
 * PostgreSQL only: on SQLite one server holds the data dir.
 */
export async function claimKeyInUse(db: Queries, key: AtRestKey, log: Logger): Promise<{ stop(): void }> {
  if (db.dialect !== 'postgres') return { stop: () => {} };
  const row = `${PREFIX}${key.id}`;
  await db.tx(async (t) => {
    await t.exec(`select pg_advisory_xact_lock(${CLAIM_LOCK_KEY}::bigint)`);
    const others = await t.rows<{ ago: number }>(
      `select ago from (select ${NOW_MS} - ${SEEN_AT} as ago from settings where starts_with(key, ?) and key <> ?) k where ago < ?`,
      PREFIX,
      row,
      IN_USE_FOR_MS,
    );
    if (others.length > 0) {
      const ago = Math.max(0, Math.min(...others.map((o) => Number(o.ago))));
      throw new OperatorError(
        `another LinkQR instance on this database uses a different LINKQR_SECRET (it was running ${Math.round(ago / 1000)} s ago). ` +
          'Instances sharing a database must share LINKQR_SECRET: with this one, every webhook secret would be marked unreadable for all of them. ' +
          `Start it with the same LINKQR_SECRET; or, if the old secret is lost for good and every instance using it is stopped, start it again in ${Math.ceil((IN_USE_FOR_MS - ago) / 1000)} s.`,
      );
    }
    await t.exec(ANNOUNCE, row);
    await t.exec(`delete from settings where starts_with(key, ?) and (${SEEN_AT} is null or ${NOW_MS} - ${SEEN_AT} >= ?)`, PREFIX, FORGOTTEN_AFTER_MS);
  });
  const failures = new RepeatedFailure(log, 'recording this instance as running (the LINKQR_SECRET check of other instances)', 'warn');
  const timer = setInterval(() => {
    db.exec(ANNOUNCE, row).then(
      () => failures.succeeded(),
      (err: unknown) => failures.failed(err),
    );
  }, ANNOUNCE_EVERY_MS).unref();
  return { stop: () => clearInterval(timer) };
}
