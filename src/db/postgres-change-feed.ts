import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Change, ChangeFeed, Heard } from './change-feed.js';
import { openPostgresClient } from './postgres.js';
import { RepeatedFailure } from '../lib/repeated-failure.js';

const CHANNEL = 'linkqr_changes';
const RECONNECT_MS = 1_000;
/**
 * An idle listening connection that a firewall or NAT dropped without a word would otherwise
 * never say so: it is asked a trivial query this often, and counts as lost if no answer comes.
 */
const HEARTBEAT_MS = 15_000;
const HEARTBEAT_TIMEOUT_MS = 5_000;

/**
 * Instances on one PostgreSQL database tell each other with NOTIFY (published through the pool)
 * and LISTEN (on a connection of its own). The change is applied here at once, so this instance
 * never waits for its own notification (and skips it when it comes back). NOTIFY is delivered only to connections listening
 * at that moment: after the listening connection is lost and made again, `reset` tells every
 * listener to drop what it holds (a full cache reload), since changes may have been missed.
 */
export function postgresChangeFeed(url: string, pool: pg.Pool, log: Logger): ChangeFeed {
  const listeners: ((heard: Heard) => void)[] = [];
  // Its own notifications come back to it too: applied at once when published, they are skipped then.
  const self = randomUUID();
  const tell = (heard: Heard) => {
    for (const l of listeners) l(heard);
  };
  let client: pg.Client | undefined;
  let closed = false;
  let missed = false;
  let retry: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  // A reconnect a second while PostgreSQL is away: logged once, then a minute apart.
  const failures = new RepeatedFailure(log, "the change feed's connection to PostgreSQL (caches are reloaded once it is back)", 'warn');

  const connect = async () => {
    retry = undefined;
    if (closed) return;
    const connection = openPostgresClient(url);
    // Both fire when the connection goes (PostgreSQL restarted, the network dropped): listen again.
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost || closed) return;
      lost = true;
      missed = true;
      clearInterval(heartbeat);
      failures.failed(err ?? new Error('the connection ended'));
      client = undefined;
      connection.end().catch(() => {});
      retry = setTimeout(() => void connect(), RECONNECT_MS).unref();
    };
    connection.on('error', onLost);
    connection.on('end', () => onLost());
    connection.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || !msg.payload) return;
      try {
        const { from, change } = JSON.parse(msg.payload) as { from: string; change: Change };
        if (from !== self) tell(change);
      } catch (err) {
        log.warn({ err }, 'an unreadable change notification was ignored');
      }
    });
    try {
      await connection.connect();
      await connection.query(`listen ${CHANNEL}`);
    } catch (err) {
      onLost(err as Error);
      return;
    }
    if (closed) {
      await connection.end().catch(() => {});
      return;
    }
    client = connection;
    failures.succeeded();
    heartbeat = setInterval(() => {
      const silence = setTimeout(() => onLost(new Error('the change feed connection did not answer its heartbeat')), HEARTBEAT_TIMEOUT_MS).unref();
      connection.query('select 1').then(
        () => clearTimeout(silence),
        (err: Error) => {
          clearTimeout(silence);
          onLost(err);
        },
      );
    }, HEARTBEAT_MS).unref();
    // Changes made while no connection listened were missed: drop everything held.
    if (missed) tell({ kind: 'reset' });
    missed = false;
  };

  // Listening starts with the first subscriber: a CLI command only publishes.
  let started: Promise<void> | undefined;
  return {
    publish(change) {
      tell(change);
      pool.query('select pg_notify($1, $2)', [CHANNEL, JSON.stringify({ from: self, change })]).catch((err: unknown) => {
        // The other instances miss this change; their feed connection broke with the same
        // outage and they reload everything when it is back.
        log.warn({ err, change }, 'a change could not be announced to the other instances');
      });
    },
    subscribe(l) {
      listeners.push(l);
      started ??= connect();
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      clearInterval(heartbeat);
      await started;
      await client?.end().catch(() => {});
    },
  };
}
