import type { Logger } from 'pino';
import type { Db } from '../db/db.js';
import type { TimerHandle, Timers } from '../lib/timers.js';
import { applyRollups, pendingRollups } from './clicks.repo.js';
import { RollupSums } from './pending-rollups.js';

/** How often the batches' pending rollups are applied while clicks come: what stats lag by. */
export const APPLY_EVERY_MS = 1_000;
/** Pending batches read at a time. */
const BATCHES_PER_READ = 64;
/**
 * Rows one transaction adds to at most (the batches beyond wait for the next one, which follows at
 * once): a transaction holds SQLite's writer, and on PostgreSQL its rows' locks, until it ends.
 * About 40 ms on SQLite here.
 */
const ROWS_PER_APPLY = 20_000;
const MAX_RETRY_MS = 30_000;

/**
 * Applies the rollups click batches leave in pending_rollups (migrations/sqlite/0019_pending_rollups.sql
 * says why) to click_rollups and workspace_click_hours: every APPLY_EVERY_MS while batches come,
 * summed, so a link-day's row is written once per apply rather than once per batch. It applies
 * every instance's batches, one instance at a time (Db.exclusively): an instance that stopped
 * or crashed leaves its batches to the others, or to itself when it starts again.
 */
export class RollupApplier {
  private timer: TimerHandle | undefined;
  /** The apply in progress; it never rejects. */
  private applying: Promise<void> | undefined;
  private failures = 0;
  private closed = false;
  /** Ids of pending rows this version could not read (logged once each). */
  private readonly unreadable = new Set<number>();

  constructor(private readonly deps: { db: Db; log: Logger; timers: Timers }) {}

  /** Batches are pending (one just committed, or some may be left from before a restart): applied within APPLY_EVERY_MS. */
  due(): void {
    if (this.timer || this.closed) return;
    const delay = this.failures === 0 ? APPLY_EVERY_MS : Math.min(APPLY_EVERY_MS * 2 ** this.failures, MAX_RETRY_MS);
    this.timer = this.deps.timers.setTimeout(() => {
      this.timer = undefined;
      if (!this.applying) this.applying = this.applyInBackground().finally(() => (this.applying = undefined));
    }, delay);
  }

  /** Applies every pending batch now (after the apply in progress). Throws when the database refuses. */
  async applyAll(): Promise<void> {
    while (this.applying) await this.applying;
    while ((await this.applyOnce()) === 'more');
  }

  /** Stops the timer and applies what is pending; what cannot be applied stays pending in the database. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) this.deps.timers.clearTimeout(this.timer);
    this.timer = undefined;
    try {
      await this.applyAll();
    } catch (err) {
      this.deps.log.error({ err }, 'click rollups could not be applied at shutdown; they stay pending and are applied after the next start');
    }
  }

  private async applyInBackground(): Promise<void> {
    try {
      let outcome;
      while ((outcome = await this.applyOnce()) === 'more' && !this.closed);
      this.failures = 0;
      // Another instance is applying: it may stop before it comes to this instance's batches.
      if (outcome === 'busy') this.due();
    } catch (err) {
      this.failures++;
      this.deps.log.error({ err }, 'click rollups could not be applied; will retry');
      this.due();
    }
  }

  /** One transaction's worth: 'more' when batches are left, 'busy' when another instance is applying. */
  private async applyOnce(): Promise<'done' | 'more' | 'busy'> {
    const outcome = await this.deps.db.exclusively('click-rollups', async () => {
      const pending = await pendingRollups(this.deps.db, BATCHES_PER_READ);
      if (pending.length === 0) return 'done' as const;
      const sums = new RollupSums();
      const taken: number[] = [];
      let unread = 0;
      for (const { id, rollups } of pending) {
        if (taken.length > 0 && sums.size >= ROWS_PER_APPLY) break;
        try {
          sums.add(rollups);
          taken.push(id);
        } catch (err) {
          // Only a bug or a damaged database makes one: it stays, named once in the log, for
          // someone to look at, and the others are applied.
          if (!this.unreadable.has(id)) this.deps.log.error({ err, id }, 'a pending_rollups row cannot be read; it is left in place');
          this.unreadable.add(id);
          unread++;
        }
        // A batch's rollups are a few milliseconds to read: redirects are answered in between.
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (taken.length > 0) await this.deps.db.tx((t) => applyRollups(t, taken, sums.linkRows, sums.workspaceRows));
      const left = pending.length - taken.length - unread;
      return left > 0 || (pending.length === BATCHES_PER_READ && taken.length > 0) ? ('more' as const) : ('done' as const);
    });
    return outcome ?? 'busy';
  }
}
