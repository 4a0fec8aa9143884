import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db, Queries } from '../db/db.js';
import { classifyAgent, referrerHost } from './classify.js';
import { type ClickRecord, clickLimitsOf, type LinkClickTotals, type MonthlyClickTotals, writeClickBatch } from './clicks.repo.js';
import { type TimerHandle, type Timers, systemTimers } from '../lib/timers.js';
import { RollupApplier } from './rollup-applier.js';
import { DAY_MS } from './rollups.js';
import type { VisitorSalts } from './visitor-salts.js';

export interface ClickInput {
  linkId: string;
  workspaceId: string;
  at: number;
  bot: boolean;
  qr: boolean;
  referrer: string | undefined;
  userAgent: string | undefined;
  ip: string;
  /** The visitor's country when the redirect already looked it up (a link with country targets); else looked up in the batch. */
  country?: string | null;
}

export interface ClickRecorderOptions {
  /** How long a click may wait in memory before its batch is written. */
  flushDelayMs?: number;
  /** A batch this large is written at once rather than after the delay. */
  maxBatch?: number;
  /** Beyond this many unwritten clicks (database down for long), new clicks are dropped and logged. */
  maxBuffered?: number;
  /**
   * The clock and timers of the batch delay and the retries (tests move time by hand). close()
   * waits on them too: with manual timers, a close whose writes keep failing returns only when
   * the test moves them past its grace.
   */
  timers?: Timers;
}

/** A click whose redirect waits until it is written. */
interface DurableClick {
  click: ClickInput;
  done(error?: unknown): void;
}

/** While a stopping recorder retries a write the disk refuses. */
const CLOSE_RETRY_MS = 250;
/** Clicks made ready ahead per event-loop turn: about a quarter of a millisecond, between redirects. */
const AHEAD_SLICE = 100;

/** A batch's rows with the counters they add to: each link's, and each workspace's month. */
function batchOf(records: ClickRecord[]): { records: ClickRecord[]; totals: LinkClickTotals[]; months: MonthlyClickTotals[] } {
  const totals = new Map<string, LinkClickTotals>();
  const months = new Map<string, MonthlyClickTotals>();
  const monthOf = monthMemo();
  for (const c of records) {
    const month = monthOf(c.at);
    let m = months.get(c.workspaceId + month);
    if (!m) months.set(c.workspaceId + month, (m = { workspaceId: c.workspaceId, month, human: 0, total: 0 }));
    m.total++;
    if (!c.bot) m.human++;
    let t = totals.get(c.linkId);
    if (!t) totals.set(c.linkId, (t = { linkId: c.linkId, human: 0, total: 0, lastHumanAt: null }));
    t.total++;
    if (!c.bot) {
      t.human++;
      t.lastHumanAt = Math.max(t.lastHumanAt ?? 0, c.at);
    }
  }
  return { records, totals: [...totals.values()], months: [...months.values()] };
}

/**
 * Keeps the redirect path free of database writes: clicks are buffered in memory and written
 * in one transaction per batch, together with the links' counters. One batch is written at a
 * time; clicks arriving meanwhile wait for the next.
 *
 * The crash window (README): a kill -9 loses the clicks not yet written, those answered during
 * the last `flushDelayMs` (25 ms) plus the batch write in progress. The timer alone cannot
 * promise that when the event loop is busy answering requests, so a click arriving after the
 * oldest one has waited `flushDelayMs` writes the batch itself. Clicks that `maxClicks` counts
 * take `recordDurably`: their redirect waits for the write, so a crash cannot let a link answer
 * more redirects than its limit.
 */
export class ClickRecorder {
  /** Clicks not yet in a write. */
  private buffer: ClickInput[] = [];
  /**
   * The rows of buffer[0 … ahead.length), made while a write waits for the database (PostgreSQL):
   * the next batch's classifying and hashing then overlap the database's work instead of
   * following it. Hashed with `aheadSalts`; the batch's write checks they are still the day's.
   */
  private ahead: ClickRecord[] = [];
  private aheadSalts = new Map<number, KeyObject | undefined>();
  /** Each day's salt as a key object, made once: HMAC with one is about a quarter faster than with the bytes (measured). */
  private readonly saltKeys = new WeakMap<Buffer, KeyObject>();
  /** Visitor hashes of the ahead rows, by day and address. */
  private aheadVisitors = new Map<string, string | null>();
  private aheadStep: NodeJS.Immediate | undefined;
  private durable: DurableClick[] = [];
  /**
   * Human clicks per link that links.clicks does not show yet: buffered, or in a write not yet
   * committed. The redirect cache adds them to the row it reads (src/links/redirect-cache.ts).
   */
  private readonly pendingHuman = new Map<string, number>();
  /** timers.now() when the oldest buffered click arrived. */
  private oldestAt = 0;
  /** The write in progress, resolving to the number of clicks it wrote; it never rejects. */
  private writing: Promise<number> | undefined;
  /** How many clicks the write in progress holds. */
  private writingCount = 0;
  /** A batch came due during the write in progress: written as soon as it ends. */
  private dueAfterWrite = false;
  /** What the last failed write said (for the message of a shutdown that loses clicks). */
  private failure: unknown;
  /** Failed writes so far: writeBuffered stops at one. */
  private failures = 0;
  private timer: TimerHandle | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private readonly flushDelayMs: number;
  private readonly maxBatch: number;
  private readonly maxBuffered: number;
  /** The most clicks one write (one transaction) takes: ten batches' worth. */
  private readonly maxWrite: number;
  private readonly timers: Timers;
  /** Applies the rollups each batch leaves pending. */
  private readonly rollups: RollupApplier;
  private dropped = 0;
  /** Set while writes fail: new clicks then wait for the retry instead of each forcing a write. */
  private retryDelayMs = 0;
  private closed = false;

  constructor(
    private readonly deps: {
      db: Db;
      log: Logger;
      /** The salt of each UTC day that keys visitor hashes (src/clicks/visitor-salts.ts; a fixed one in the seed script). */
      visitorSalts: { saltFor(day: number): ReturnType<VisitorSalts['saltFor']> | Awaited<ReturnType<VisitorSalts['saltFor']>> };
      /** The instance setting: keep each click's raw user agent (device/browser/OS are always kept). */
      keepUserAgent(): boolean;
      /** The country of an address (src/geo/country-lookup.ts): asked here, off the redirect path. */
      countryOf(ip: string): string | null;
      /**
       * Runs inside each batch's transaction, after the clicks are written (link.clicked
       * events): it queries through `t`, the transaction's handle, and awaits nothing else.
       */
      inBatch?(t: Queries, records: readonly ClickRecord[]): Promise<void>;
      /** After a batch committed. */
      onFlush?(count: number, seconds: number): void;
    },
    options: ClickRecorderOptions = {},
  ) {
    this.flushDelayMs = options.flushDelayMs ?? 25;
    this.maxBatch = options.maxBatch ?? 2_000;
    this.maxBuffered = options.maxBuffered ?? 200_000;
    this.maxWrite = 10 * this.maxBatch;
    this.timers = options.timers ?? systemTimers;
    this.rollups = new RollupApplier({ db: deps.db, log: deps.log, timers: this.timers });
  }

  /** The server is up: the rollups an earlier run (or a stopped instance) left pending are applied within a second. */
  start(): void {
    this.rollups.due();
  }

  record(click: ClickInput): void {
    if (this.depth >= this.maxBuffered) {
      this.dropped++;
      return;
    }
    this.add(click);
    // While writes fail, arriving clicks wait for the retry (a failed write always arms it)
    // instead of each forcing a write.
    if (this.retryDelayMs > 0) return;
    if (this.buffer.length >= this.maxBatch) this.flushSoon();
    else if (this.buffer.length > 1 && this.timers.now() - this.oldestAt >= this.flushDelayMs) this.writeDue();
    else this.flushAfter(this.flushDelayMs);
  }

  /**
   * Records a click and calls `done` once it is written, or with the error when it cannot be,
   * or with CLICK_LIMIT_REACHED when its link's committed clicks had reached maxClicks (through
   * any instance); the click is then not recorded at all (its request is answered with an error
   * instead of the redirect). The clicks of one event-loop turn share one write (group commit).
   */
  recordDurably(click: ClickInput, done: (error?: unknown) => void): void {
    const storage = this.deps.db.storage;
    // Fail at once rather than try the disk for every request: the storage probe says when it is back.
    if (!storage.available) return done(storage.state.error ?? new Error('the database cannot be written'));
    if (this.closed || this.depth >= this.maxBuffered) return done(new Error('the click buffer is closed or full'));
    this.add(click);
    this.durable.push({ click, done });
    this.flushSoon();
  }

  /** Writes at once what waits for a retry: the database can be written again. */
  retryNow(): void {
    if (this.retryDelayMs === 0 || this.closed) return;
    this.retryDelayMs = 0;
    this.flushSoon();
  }

  /** What the last failed write said, if the last write failed. */
  get lastError(): unknown {
    return this.failure;
  }

  /** Human clicks of a link that are buffered but not yet written. */
  pendingHumanClicks(linkId: string): number {
    return this.pendingHuman.get(linkId) ?? 0;
  }

  /** Clicks not yet written: buffered, or in the write in progress. */
  get depth(): number {
    return this.buffer.length + this.writingCount;
  }

  /**
   * Writes everything buffered in one transaction, after the write in progress if there is one
   * (whose clicks count in the number returned), and applies the rollups pending (stats then show
   * every click written). On failure the clicks stay buffered, and the rollups pending.
   */
  async flush(): Promise<number> {
    const written = await this.writeBuffered();
    // Stats then count every click written so far.
    try {
      await this.rollups.applyAll();
    } catch (err) {
      this.deps.log.error({ err }, 'click rollups could not be applied; will retry');
      this.rollups.due();
    }
    return written;
  }

  /** Resolves once no write or apply is in progress (tests that move the timers wait for what they started). */
  async whenIdle(): Promise<void> {
    while (this.writing) await this.writing;
    await this.rollups.whenIdle();
  }

  /**
   * Writes everything buffered, after the write in progress (whose clicks count in the number
   * returned): write after write, as each takes at most maxWrite clicks, until what was buffered
   * when it was called is written (clicks arriving meanwhile may go along); stops at a failed write.
   */
  private async writeBuffered(): Promise<number> {
    this.clearTimer();
    let written = 0;
    // One write at a time: two batches written at once could commit in either order, and the
    // second would wait for the first's transaction anyway.
    while (this.writing) written += await this.writing;
    let owed = this.buffer.length;
    const failures = this.failures;
    while (owed > 0 && this.buffer.length > 0) {
      const writing = this.startWrite();
      owed -= this.writingCount;
      written += await writing;
      // The next may already be under way (afterWrite): it takes from the same front.
      while (this.writing && this.failures === failures) {
        owed -= this.writingCount;
        written += await this.writing;
      }
      if (this.failures !== failures) return written;
    }
    return written;
  }

  /** Starts writing the buffer; the caller has checked that no write is in progress. */
  private startWrite(): Promise<number> {
    if (this.buffer.length === 0) return Promise.resolve(0);
    const writing = this.write()
      .catch((err: unknown) => {
        // Only a callback given to the recorder (done, onFlush) can throw here: the write itself is settled.
        this.deps.log.error({ err }, 'click batch callback failed');
        return 0;
      })
      .finally(() => {
        this.writing = undefined;
        // The salts stay only for rows made ahead with them (checked by the next write): a day's
        // salt must not outlive its day in memory because traffic stopped.
        if (this.ahead.length === 0) this.aheadSalts = new Map();
        this.afterWrite();
      });
    this.writing = writing;
    return writing;
  }

  /** What came due during a write is written now: a batch that waited for it, or clicks whose redirect waits. */
  private afterWrite() {
    const due = this.dueAfterWrite;
    this.dueAfterWrite = false;
    if (this.closed || this.buffer.length === 0) return;
    // Durable clicks force a write even while retries back off, as they do when they arrive.
    if (this.durable.length > 0) this.flushSoon();
    else if (due && this.retryDelayMs === 0) void this.startWrite();
  }

  /**
   * Writes a batch: what is buffered now, up to maxWrite clicks; the rest is written next, at once.
   * Resolves to the number written, 0 when the write failed.
   */
  private async write(): Promise<number> {
    let batch = this.buffer;
    const oldestAt = this.oldestAt;
    // Rows of the buffer's first clicks; a partial write's batch ends with clicks from further on.
    const ready = this.ahead.length > this.maxWrite ? this.ahead.slice(0, this.maxWrite) : this.ahead;
    const readySalts = this.aheadSalts;
    const durable = this.durable;
    this.buffer = [];
    this.durable = [];
    if (batch.length > this.maxWrite) {
      // After an outage the buffer holds up to maxBuffered clicks: one transaction of them all
      // would hold SQLite's writer, and the event loop, for seconds. The clicks whose redirect
      // waits go in this write wherever they are (after the others, beyond `ready`'s rows).
      const waits = new Set(durable.map((d) => d.click));
      const rest = batch.slice(this.maxWrite);
      batch = batch.slice(0, this.maxWrite).concat(waits.size > 0 ? rest.filter((c) => waits.has(c)) : []);
      this.buffer = waits.size > 0 ? rest.filter((c) => !waits.has(c)) : rest;
      this.dueAfterWrite = true;
    }
    this.forgetAhead();
    // Nothing is made ahead until this write knows the salts (a new day's is read from the
    // database): rows made meanwhile with the last write's would be checked against these.
    this.aheadSalts = new Map();
    this.writingCount = batch.length;
    let totals: LinkClickTotals[] = [];
    let uncounted = false;
    let started = 0;
    let exhausted: ReadonlySet<ClickInput> = new Set();
    try {
      // Outside the transaction: the first batch of a day reads (or makes) the day's salt in the database.
      const salts = await this.saltsFor(batch);
      const readyMatch = [...salts].every(([day, salt]) => !readySalts.has(day) || readySalts.get(day) === salt);
      const records = this.recordsOf(batch, salts, readyMatch ? ready : []);
      // The clicks that come during this write are made ready with these salts.
      this.aheadSalts = salts;
      const prepared = batchOf(records);
      // Every human click of the batch stops being pending at the commit: written, or refused by its link's limit.
      totals = prepared.totals;
      started = performance.now();
      exhausted = await this.deps.db.tx(async (t) => {
        // The limited links' counters, read (and on PostgreSQL locked) in the batch's transaction:
        // the clicks past a limit, counted by every instance's committed clicks, are not written.
        const refused = durable.length > 0 ? await clicksPastTheirLimit(t, durable, batch) : new Set<ClickInput>();
        const written = refused.size === 0 ? prepared : batchOf(records.filter((_, i) => !refused.has(batch[i]!)));
        await writeClickBatch(t, written.records, written.totals, written.months);
        await this.deps.inBatch?.(t, written.records);
        // Last before the commit, while no read of links can run (SQLite runs a read after the
        // transaction ends): a read sees these clicks either in links.clicks or as pending,
        // never in both nor in neither. The redirect cache relies on it for maxClicks. (Once:
        // PostgreSQL runs this function again after a deadlock.)
        if (!uncounted) this.uncount(totals);
        uncounted = true;
        return refused;
      });
    } catch (err) {
      // The commit itself failed: the clicks are not in links.clicks after all.
      if (uncounted) this.count(totals);
      this.writingCount = 0;
      this.failure = err;
      this.failures++;
      this.putBack(batch, durable, oldestAt, err);
      // Stopping: close() retries, and says what it could not write.
      if (this.closed) return 0;
      // Back off (1 s doubling to 30 s): a locked or full database must not be hammered from the redirect path.
      this.retryDelayMs = Math.min(Math.max(this.retryDelayMs * 2, 1_000), 30_000);
      this.deps.log.error({ err, buffered: this.depth, retryInMs: this.retryDelayMs }, 'click batch write failed; will retry');
      this.clearTimer();
      this.flushAfter(this.retryDelayMs);
      return 0;
    }
    this.writingCount = 0;
    this.retryDelayMs = 0;
    this.failure = undefined;
    this.rollups.due();
    const written = batch.length - exhausted.size;
    this.deps.onFlush?.(written, (performance.now() - started) / 1000);
    for (const d of durable) d.done(exhausted.has(d.click) ? CLICK_LIMIT_REACHED : undefined);
    if (this.dropped > 0) {
      this.deps.log.error({ dropped: this.dropped }, 'clicks dropped while the buffer was full');
      this.dropped = 0;
    }
    return written;
  }

  /** The salt of each UTC day the batch's clicks fall on (nearly always one). */
  private async saltsFor(batch: readonly ClickInput[]): Promise<Map<number, KeyObject | undefined>> {
    const salts = new Map<number, KeyObject | undefined>();
    for (const c of batch) {
      const day = c.at - (c.at % DAY_MS);
      if (!salts.has(day)) salts.set(day, this.keyOf(await this.deps.visitorSalts.saltFor(day)));
    }
    return salts;
  }

  /** The same key object for the same salt, so that rows made ahead are known to match (an identity check). */
  private keyOf(salt: Buffer | undefined): KeyObject | undefined {
    if (!salt) return undefined;
    let key = this.saltKeys.get(salt);
    if (!key) this.saltKeys.set(salt, (key = createSecretKey(salt)));
    return key;
  }

  /** The rows of a batch's clicks: `ready`'s for its first clicks, the others made now. */
  private recordsOf(batch: readonly ClickInput[], salts: ReadonlyMap<number, KeyObject | undefined>, ready: readonly ClickRecord[]): ClickRecord[] {
    const records = ready.slice(0, batch.length);
    const keepUserAgent = this.deps.keepUserAgent();
    // Turned off since those rows were made: no raw agent is written from now on.
    if (!keepUserAgent) records.forEach((r, i) => r.userAgent !== null && (records[i] = { ...r, userAgent: null }));
    // A visitor's clicks tend to come together: hash each address once per day of a batch.
    const visitors = new Map<string, string | null>();
    for (let i = records.length; i < batch.length; i++) {
      const c = batch[i]!;
      records.push(this.recordOf(c, salts.get(c.at - (c.at % DAY_MS)), keepUserAgent, visitors));
    }
    return records;
  }

  /** A click classified (off the redirect path) and its visitor hashed. */
  private recordOf(c: ClickInput, salt: KeyObject | undefined, keepUserAgent: boolean, visitors: Map<string, string | null>): ClickRecord {
    const visitor = `${c.at - (c.at % DAY_MS)} ${c.ip}`;
    let ipHash = visitors.get(visitor);
    if (ipHash === undefined) visitors.set(visitor, (ipHash = visitorHash(c.ip, salt)));
    // A HEAD request from a browser agent is still a bot click.
    const agent = classifyAgent(c.userAgent);
    return {
      linkId: c.linkId,
      workspaceId: c.workspaceId,
      at: c.at,
      bot: c.bot,
      qr: c.qr,
      referrer: c.referrer ? c.referrer.slice(0, 1024) : null,
      referrerHost: referrerHost(c.referrer),
      userAgent: keepUserAgent && c.userAgent ? c.userAgent.slice(0, 512) : null,
      device: c.bot ? 'bot' : agent.device,
      browser: agent.browser,
      os: agent.os,
      ipHash,
      country: c.country !== undefined ? c.country : this.deps.countryOf(c.ip),
    };
  }

  /** While a write is in progress, makes the rows of buffered clicks ahead of their batch, a slice per event-loop turn. */
  private makeReadyAhead() {
    if (this.aheadStep || !this.writing || this.closed) return;
    this.aheadStep = setImmediate(() => {
      this.aheadStep = undefined;
      if (!this.writing || this.closed) return;
      const keepUserAgent = this.deps.keepUserAgent();
      const end = Math.min(this.buffer.length, this.ahead.length + AHEAD_SLICE);
      for (let i = this.ahead.length; i < end; i++) {
        const c = this.buffer[i]!;
        const day = c.at - (c.at % DAY_MS);
        // A new day's salt is read by the write itself.
        if (!this.aheadSalts.has(day)) return;
        this.ahead.push(this.recordOf(c, this.aheadSalts.get(day), keepUserAgent, this.aheadVisitors));
      }
      if (this.ahead.length < this.buffer.length) this.makeReadyAhead();
    });
  }

  private forgetAhead() {
    this.ahead = [];
    this.aheadVisitors = new Map();
  }

  /**
   * Writes what is left and stops (shutdown), after the write in progress. While the database
   * refuses, it keeps trying for `graceMs`: these clicks were answered. Returns the number
   * written; `depth` is what could not be written, and `lastError` why.
   */
  async close(graceMs = 0): Promise<number> {
    this.closed = true;
    if (this.immediate) clearImmediate(this.immediate);
    if (this.aheadStep) clearImmediate(this.aheadStep);
    this.immediate = undefined;
    this.aheadStep = undefined;
    let written = await this.writeBuffered();
    const deadline = this.timers.now() + graceMs;
    while (this.depth > 0 && this.timers.now() < deadline) {
      await new Promise<void>((resolve) => this.timers.setTimeout(resolve, CLOSE_RETRY_MS));
      written += await this.writeBuffered();
    }
    if (this.depth > 0) {
      this.deps.log.error({ err: this.failure, unwritten: this.depth }, 'click batch write failed at shutdown; these clicks are lost');
    }
    // Bounded: what is left stays pending, for this instance after its next start or for another.
    await this.rollups.close();
    return written;
  }

  private add(click: ClickInput) {
    if (this.buffer.length === 0) this.oldestAt = this.timers.now();
    this.buffer.push(click);
    this.makeReadyAhead();
    if (!click.bot) this.pendingHuman.set(click.linkId, (this.pendingHuman.get(click.linkId) ?? 0) + 1);
  }

  /** The human clicks of a committed batch are no longer pending. */
  private uncount(totals: readonly LinkClickTotals[]) {
    for (const t of totals) if (t.human > 0) this.addPending(t.linkId, -t.human);
  }

  /** The human clicks of a batch whose commit failed are pending again. */
  private count(totals: readonly LinkClickTotals[]) {
    for (const t of totals) if (t.human > 0) this.addPending(t.linkId, t.human);
  }

  private addPending(linkId: string, n: number) {
    const left = (this.pendingHuman.get(linkId) ?? 0) + n;
    if (left > 0) this.pendingHuman.set(linkId, left);
    else this.pendingHuman.delete(linkId);
  }

  /**
   * A failed batch goes back to the buffer, ahead of the clicks that came during its write,
   * except the durable clicks: their redirects were not answered, so they never happened.
   */
  private putBack(batch: ClickInput[], durable: DurableClick[], oldestAt: number, err: unknown) {
    const failed = new Set(durable.map((d) => d.click));
    const kept = failed.size === 0 ? batch : batch.filter((c) => !failed.has(c));
    if (kept.length > 0) {
      this.buffer = kept.concat(this.buffer);
      this.oldestAt = oldestAt;
      // The rows made ahead were those of the clicks now behind the failed batch's.
      this.forgetAhead();
    }
    for (const c of failed) if (!c.bot) this.addPending(c.linkId, -1);
    for (const d of durable) d.done(err);
  }

  /** A batch is due: written now, or as soon as the write in progress ends. */
  private writeDue() {
    this.clearTimer();
    if (this.writing) this.dueAfterWrite = true;
    else void this.startWrite(); // never rejects
  }

  private flushAfter(delayMs: number) {
    if (this.timer || this.immediate) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.writeDue();
    }, delayMs);
  }

  private flushSoon() {
    if (this.immediate) return;
    this.clearTimer();
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.writeDue();
    });
  }

  private clearTimer() {
    if (this.timer) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** What a durable click's `done` is given when its link had reached maxClicks: it was not written. */
export const CLICK_LIMIT_REACHED = Symbol('the link had reached its maxClicks');

/** The durable clicks (in arrival order) that would take their links past maxClicks. */
async function clicksPastTheirLimit(t: Queries, durable: readonly DurableClick[], batch: readonly ClickInput[]): Promise<Set<ClickInput>> {
  const human = durable.filter((d) => !d.click.bot).map((d) => d.click);
  const limits = await clickLimitsOf(t, [...new Set(batch.map((c) => c.linkId))]);
  const taken = new Map<string, number>();
  const refused = new Set<ClickInput>();
  for (const c of human) {
    const limit = limits.get(c.linkId);
    if (!limit || limit.maxClicks === null) continue;
    const count = taken.get(c.linkId) ?? limit.clicks;
    if (count >= limit.maxClicks) refused.add(c);
    else taken.set(c.linkId, count + 1);
  }
  return refused;
}

/** The visitor hash: HMAC-SHA256 keyed with the day's salt, 128 bits. Null once the day's salt is gone. */
function visitorHash(ip: string, salt: KeyObject | undefined): string | null {
  return salt ? createHmac('sha256', salt).update(ip).digest('base64url').slice(0, 22) : null;
}

/**
 * YYYY-MM (UTC) of a time, remembering the last month's bounds: a batch's clicks share a month,
 * and formatting a Date for each of thousands of clicks showed in the redirect profile.
 */
function monthMemo(): (at: number) => string {
  let from = 0;
  let to = -1;
  let month = '';
  return (at) => {
    if (at < from || at >= to) {
      const d = new Date(at);
      from = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
      to = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
      month = d.toISOString().slice(0, 7);
    }
    return month;
  };
}
