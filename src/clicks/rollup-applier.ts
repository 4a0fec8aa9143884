import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Db } from '../db/db.js';
import type { TimerHandle, Timers } from '../lib/timers.js';
import { applyRollups, pendingRollups } from './clicks.repo.js';
import { RollupSums } from './pending-rollups.js';

/** How often the batches' pending rollups are applied while clicks come: what stats lag by. */
export const APPLY_EVERY_MS = 1_000;
/** Pending rows read at a time (each at most PENDING_ROWS_MAX rollup rows: clicks.repo.ts). */
const PENDING_PER_READ = 16;
/**
 * Rows one transaction adds to, about (it takes pending rows until their sums reach this, so at
 * most one pending row's 4,000 more): the more batches one apply sums, the fewer rows it writes.
 * On SQLite the upserts run on the event loop and hold the writer: measured, 42–70 ms to apply
 * 20 batches of 5,000 clicks over 1,000 links (15,000 summed rows), whose transactions now take
 * 25–40 ms each where they took 42–76 ms with their rollups in them. At 5,000, SQLite summed too
 * few batches of the ingestion benchmark to gain anything (docs/scaling.md). On PostgreSQL the
 * event loop only sorts and sends them.
 */
export const ROWS_PER_APPLY = 20_000;
const MAX_RETRY_MS = 30_000;
/** How long a stopping server (or flush) waits for another instance that is applying: it applies this one's batches too. */
const BUSY_WAIT_MS = 2_000;
/** How long a stopping server applies the batches pending; the rest stays pending for any instance to apply. */
const CLOSE_WITHIN_MS = 2_000;

type Outcome = 'done' | 'more' | 'busy';

/**
 * Applies the rollups click batches leave in pending_rollups (migrations/sqlite/0019_pending_rollups.sql
 * says why) to click_rollups and the workspace's rollups (its hours, its countries by hour and
 * by day, its links' days): every APPLY_EVERY_MS while batches come, summed, so a link-day's row
 * is written once per apply rather than once per batch. It applies every instance's batches, one instance at a
 * time (Db.exclusively), and in this process one apply at a time (the timer's, flush's and
 * close's take turns): an instance that stopped or crashed leaves its batches to the others, or
 * to itself when it starts again.
 */
export class RollupApplier {
  private timer: TimerHandle | undefined;
  /** The applies of this process, one after another; it never rejects. */
  private turn: Promise<unknown> = Promise.resolve();
  private failures = 0;
  private closed = false;
  /** Ids of pending rows this version could not read (logged once each, then skipped). */
  private readonly unreadable = new Set<number>();

  constructor(private readonly deps: { db: Db; log: Logger; timers: Timers }) {}

  /** Batches are pending (one just committed, or some may be left from before a restart): applied within APPLY_EVERY_MS. */
  due(): void {
    if (this.timer || this.closed) return;
    const delay = this.failures === 0 ? APPLY_EVERY_MS : Math.min(APPLY_EVERY_MS * 2 ** this.failures, MAX_RETRY_MS);
    this.timer = this.deps.timers.setTimeout(() => {
      this.timer = undefined;
      // After the apply in progress, if there is one: a batch it did not read is read by this one.
      void this.inTurn(() => this.applyInBackground());
    }, delay);
  }

  /**
   * Applies every pending batch now, after the apply in progress; waits up to BUSY_WAIT_MS for
   * another instance that is applying. Throws when the database refuses.
   */
  applyAll(): Promise<void> {
    return this.inTurn(() => this.applyUntilDone(Infinity));
  }

  /** Resolves once no apply is in progress or waiting. */
  async whenIdle(): Promise<void> {
    let turn;
    do await (turn = this.turn);
    while (turn !== this.turn);
  }

  /** Stops the timer and applies what is pending; what cannot be applied stays pending in the database. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) this.deps.timers.clearTimeout(this.timer);
    this.timer = undefined;
    try {
      // Bounded: with other instances writing, there may always be more; what is left is theirs to apply.
      await this.inTurn(() => this.applyUntilDone(CLOSE_WITHIN_MS));
    } catch (err) {
      this.deps.log.error({ err }, 'click rollups could not be applied at shutdown; they stay pending and are applied after the next start');
    }
  }

  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn);
    this.turn = run.catch(() => {});
    return run;
  }

  private async applyInBackground(): Promise<void> {
    try {
      let outcome: Outcome;
      while ((outcome = await this.applyOnce()) === 'more' && !this.closed) await new Promise((resolve) => setImmediate(resolve));
      this.failures = 0;
      // Another instance is applying: it may stop before it comes to this instance's batches.
      if (outcome === 'busy') this.due();
    } catch (err) {
      this.failures++;
      this.deps.log.error({ err }, 'click rollups could not be applied; will retry');
      this.due();
    }
  }

  /** Applies until nothing is pending, or `withinMs` has passed; waits up to BUSY_WAIT_MS for another instance that is applying. */
  private async applyUntilDone(withinMs: number): Promise<void> {
    const start = performance.now();
    for (;;) {
      const outcome = await this.applyOnce();
      const elapsed = performance.now() - start;
      if (outcome === 'done' || elapsed >= withinMs) return;
      if (outcome === 'busy') {
        if (elapsed >= BUSY_WAIT_MS) return;
        await sleep(20);
      } else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** One transaction's worth: 'more' when batches may be left, 'busy' when another instance is applying. */
  private async applyOnce(): Promise<Outcome> {
    const { db, log } = this.deps;
    const outcome = await db.exclusively('click-rollups', async (): Promise<Outcome> => {
      const sums = new RollupSums();
      const taken: number[] = [];
      let after = 0;
      // Pages of pending rows, oldest first, until their sums are a transaction's worth: rows this
      // version cannot read are passed over, however many there are.
      for (;;) {
        const page = await pendingRollups(db, after, PENDING_PER_READ);
        for (const { id, rollups } of page) {
          if (taken.length > 0 && sums.size >= ROWS_PER_APPLY) {
            await apply(db, taken, sums);
            return 'more';
          }
          after = id;
          if (this.unreadable.has(id)) continue;
          try {
            sums.add(rollups);
            taken.push(id);
          } catch (err) {
            // Only a bug, a damaged database or a newer version's row (which a newer instance
            // applies) makes one: it stays, named once in the log, and the others are applied.
            log.error({ err, id }, 'a pending_rollups row cannot be read; it is left in place');
            this.unreadable.add(id);
          }
          // A pending row is a few milliseconds to read: redirects are answered in between.
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (page.length < PENDING_PER_READ) break;
      }
      if (taken.length > 0) await apply(db, taken, sums);
      return 'done';
    });
    return outcome ?? 'busy';
  }
}

async function apply(db: Db, taken: readonly number[], sums: RollupSums): Promise<void> {
  await db.tx((t) => applyRollups(t, taken, { links: sums.linkRows, workspaces: sums.workspaceRows, countries: sums.countryRows }));
}
