import { createHmac, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Queries } from '../db/db.js';
import type { Clock } from '../lib/clock.js';
import { OperatorError } from '../lib/errors.js';
import type { AtRestKey } from './at-rest-key.js';

/**
 * Instances on one PostgreSQL database must share LINKQR_SECRET. One started with another secret
 * cannot open the database's sealed secrets, and at start-up it would mark every webhook endpoint's
 * secret unreadable, for every instance: deliveries would stop everywhere (and a secret rotated
 * through it would be sealed under a key the others lack). So each running server says, in a
 * settings row of its own, which key it uses (a fingerprint, never the key), and a server or
 * command whose key differs from one in use lately refuses to start.
 *
 * A lost key is still a lost key (README, "Secrets at rest"): once the instances using the old one
 * are stopped, their rows age out (or are deleted as they stop) and the new key starts.
 */
const PREFIX = 'at_rest_key_in_use:';
const ANNOUNCE_EVERY_MS = 10_000;
/** A row this recent is an instance still running: it misses two announcements before it counts as gone. */
const IN_USE_FOR_MS = 3 * ANNOUNCE_EVERY_MS;
/** Rows of instances that stopped without deleting theirs (killed) go after this long. */
const FORGOTTEN_AFTER_MS = 24 * 60 * 60_000;

/** 64 bits of an HMAC under the key: names the key without telling anything about it. */
export const keyFingerprint = (key: AtRestKey) => createHmac('sha256', key.key).update('linkqr at-rest key fingerprint').digest('hex').slice(0, 16);

interface InUse {
  fingerprint: string;
  seenAt: number;
}

async function keysInUse(db: Queries): Promise<InUse[]> {
  const rows = await db.rows<{ key: string; value: string }>('select key, value from settings where key like ?', `${PREFIX}%`);
  return rows
    .filter((r) => r.key.startsWith(PREFIX))
    .map((r) => ({ fingerprint: r.key.slice(PREFIX.length).split(':')[0]!, seenAt: Number(r.value) }));
}

/** Throws (OperatorError) when a server with another at-rest key used this database lately; PostgreSQL only. */
export async function refuseAnotherKeyInUse(db: Queries, key: AtRestKey, now: number): Promise<void> {
  if (db.dialect !== 'postgres') return;
  const mine = keyFingerprint(key);
  const others = (await keysInUse(db)).filter((k) => k.fingerprint !== mine && now - k.seenAt < IN_USE_FOR_MS);
  if (others.length === 0) return;
  const lastSeen = Math.max(...others.map((k) => k.seenAt));
  throw new OperatorError(
    `another LinkQR instance on this database uses a different LINKQR_SECRET (it was running ${Math.max(0, Math.round((now - lastSeen) / 1000))} s ago). ` +
      'Instances sharing a database must share LINKQR_SECRET: with this one, every webhook secret would be marked unreadable for all of them. ' +
      `Start it with the same LINKQR_SECRET; or, if the old secret is lost for good and every instance using it is stopped, start again after ${new Date(lastSeen + IN_USE_FOR_MS).toISOString()}.`,
  );
}

/**
 * A running server's row: written now and every ANNOUNCE_EVERY_MS, deleted by `stop`. PostgreSQL
 * only (on SQLite one server holds the data dir). A failed write is logged and tried again next time.
 */
export async function announceKeyInUse(db: Queries, key: AtRestKey, clock: Clock, log: Logger): Promise<{ stop(): Promise<void> }> {
  if (db.dialect !== 'postgres') return { stop: async () => {} };
  const row = `${PREFIX}${keyFingerprint(key)}:${randomUUID()}`;
  const announce = () =>
    db.exec('insert into settings (key, value) values (?, ?) on conflict (key) do update set value = excluded.value', row, String(clock.now()));
  await announce();
  for (const old of await keysInUse(db)) {
    if (clock.now() - old.seenAt >= FORGOTTEN_AFTER_MS) await db.exec('delete from settings where key like ? and value = ?', `${PREFIX}${old.fingerprint}:%`, String(old.seenAt));
  }
  const timer = setInterval(() => {
    announce().catch((err: unknown) => log.warn({ err }, 'could not record this instance as running (the at-rest key check of other instances)'));
  }, ANNOUNCE_EVERY_MS).unref();
  return {
    async stop() {
      clearInterval(timer);
      await db.exec('delete from settings where key = ?', row).catch(() => {});
    },
  };
}
