import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../db/db.js';
import { classifyAgent, referrerHost } from './classify.js';
import { type ClickRecord, clickStatements, type LinkClickTotals, type MonthlyClickTotals } from './clicks.repo.js';
import { type TimerHandle, type Timers, systemTimers } from '../lib/timers.js';
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

/**
 * Keeps the redirect path free of database writes: clicks are buffered in memory and written
 * in one transaction per batch, together with the links' counters.
 *
 * The crash window (README): a kill -9 loses the clicks not yet written, those answered during
 * the last `flushDelayMs` (25 ms) plus the batch write in progress. The timer alone cannot
 * promise that when the event loop is busy answering requests, so a click arriving after the
 * oldest one has waited `flushDelayMs` writes the batch itself. Clicks that `maxClicks` counts
 * take `recordDurably`: their redirect waits for the write, so a crash cannot let a link answer
 * more redirects than its limit.
 */
export class ClickRecorder {
  private buffer: ClickInput[] = [];
  private durable: DurableClick[] = [];
  private readonly pendingHuman = new Map<string, number>();
  /** timers.now() when the oldest buffered click arrived. */
  private oldestAt = 0;
  /** What the last failed write said (for the message of a shutdown that loses clicks). */
  private failure: unknown;
  private timer: TimerHandle | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private readonly statements;
  private readonly flushDelayMs: number;
  private readonly maxBatch: number;
  private readonly maxBuffered: number;
  private readonly timers: Timers;
  private dropped = 0;
  /** Set while writes fail: new clicks then wait for the retry instead of each forcing a write. */
  private retryDelayMs = 0;
  private closed = false;

  constructor(
    private readonly deps: {
      db: Db;
      log: Logger;
      /** The salt of each UTC day that keys visitor hashes (src/clicks/visitor-salts.ts). */
      visitorSalts: Pick<VisitorSalts, 'saltFor'>;
      /** The instance setting: keep each click's raw user agent (device/browser/OS are always kept). */
      keepUserAgent(): boolean;
      /** Runs inside each batch's transaction, after the clicks are written (link.clicked events). */
      inBatch?(records: readonly ClickRecord[]): void;
      /** After a batch committed. */
      onFlush?(count: number, seconds: number): void;
    },
    options: ClickRecorderOptions = {},
  ) {
    this.statements = clickStatements(deps.db);
    this.flushDelayMs = options.flushDelayMs ?? 25;
    this.maxBatch = options.maxBatch ?? 2_000;
    this.maxBuffered = options.maxBuffered ?? 200_000;
    this.timers = options.timers ?? systemTimers;
  }

  record(click: ClickInput): void {
    if (this.buffer.length >= this.maxBuffered) {
      this.dropped++;
      return;
    }
    this.add(click);
    // While writes fail, arriving clicks wait for the retry (a failed write always arms it)
    // instead of each forcing a write.
    if (this.retryDelayMs > 0) return;
    if (this.buffer.length >= this.maxBatch) this.flushSoon();
    else if (this.buffer.length > 1 && this.timers.now() - this.oldestAt >= this.flushDelayMs) this.flush();
    else this.flushAfter(this.flushDelayMs);
  }

  /**
   * Records a click and calls `done` once it is written, or with the error when it cannot be;
   * the click is then not recorded at all (its request is answered with an error instead of
   * the redirect). The clicks of one event-loop turn share one write (group commit).
   */
  recordDurably(click: ClickInput, done: (error?: unknown) => void): void {
    const storage = this.deps.db.storage;
    // Fail at once rather than try the disk for every request: the storage probe says when it is back.
    if (!storage.available) return done(storage.state.error ?? new Error('the database cannot be written'));
    if (this.closed || this.buffer.length >= this.maxBuffered) return done(new Error('the click buffer is closed or full'));
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

  get depth(): number {
    return this.buffer.length;
  }

  /** Writes everything buffered in one transaction. On failure the clicks stay buffered. */
  flush(): number {
    this.clearTimer();
    const batch = this.buffer;
    if (batch.length === 0) return 0;
    const durable = this.durable;
    let started = 0;
    try {
      // Inside the try: the first batch of a day reads (or makes) the day's salt in the database.
      const { records, totals, months } = this.prepare(batch);
      started = performance.now();
      this.deps.db.tx(() => {
        this.statements.writeBatch(records, totals, months);
        this.deps.inBatch?.(records);
      });
    } catch (err) {
      this.failure = err;
      if (durable.length > 0) this.unrecord(durable, err);
      // Stopping: close() retries, and says what it could not write.
      if (this.closed) return 0;
      // Back off (1 s doubling to 30 s): a locked or full database must not be hammered from the redirect path.
      this.retryDelayMs = Math.min(Math.max(this.retryDelayMs * 2, 1_000), 30_000);
      this.deps.log.error({ err, buffered: this.buffer.length, retryInMs: this.retryDelayMs }, 'click batch write failed; will retry');
      this.clearTimer();
      this.flushAfter(this.retryDelayMs);
      return 0;
    }
    this.retryDelayMs = 0;
    this.failure = undefined;
    this.deps.onFlush?.(batch.length, (performance.now() - started) / 1000);
    // Written: these clicks now count in links.clicks, so stop counting them as pending.
    this.buffer = [];
    this.durable = [];
    this.pendingHuman.clear();
    for (const d of durable) d.done();
    if (this.dropped > 0) {
      this.deps.log.error({ dropped: this.dropped }, 'clicks dropped while the buffer was full');
      this.dropped = 0;
    }
    return batch.length;
  }

  /** The rows of a batch: each click classified and its visitor hashed, and the counters it adds to. */
  private prepare(batch: readonly ClickInput[]) {
    const records: ClickRecord[] = [];
    const totals = new Map<string, LinkClickTotals>();
    // A visitor's clicks tend to come together: hash each address once per day of a batch.
    const visitorsByDay = new Map<number, Map<string, string | null>>();
    const months = new Map<string, MonthlyClickTotals>();
    const keepUserAgent = this.deps.keepUserAgent();
    const monthOf = monthMemo();
    for (const c of batch) {
      const month = monthOf(c.at);
      let m = months.get(c.workspaceId + month);
      if (!m) months.set(c.workspaceId + month, (m = { workspaceId: c.workspaceId, month, human: 0, total: 0 }));
      m.total++;
      if (!c.bot) m.human++;
      const day = c.at - (c.at % DAY_MS);
      let visitors = visitorsByDay.get(day);
      if (!visitors) visitorsByDay.set(day, (visitors = new Map()));
      let ipHash = visitors.get(c.ip);
      if (ipHash === undefined) visitors.set(c.ip, (ipHash = this.visitorHash(c.ip, day)));
      // Classified here, off the redirect path; a HEAD request from a browser agent is still a bot click.
      const agent = classifyAgent(c.userAgent);
      records.push({
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
      });
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
   * Writes what is left and stops (shutdown). While the database refuses, it keeps trying for
   * `graceMs`: these clicks were answered. Returns the number written; `depth` is what could not
   * be written, and `lastError` why.
   */
  async close(graceMs = 0): Promise<number> {
    this.closed = true;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    let written = this.flush();
    const deadline = this.timers.now() + graceMs;
    while (this.buffer.length > 0 && this.timers.now() < deadline) {
      await new Promise<void>((resolve) => this.timers.setTimeout(resolve, CLOSE_RETRY_MS));
      written += this.flush();
    }
    if (this.buffer.length > 0) {
      this.deps.log.error({ err: this.failure, unwritten: this.buffer.length }, 'click batch write failed at shutdown; these clicks are lost');
    }
    return written;
  }

  private add(click: ClickInput) {
    if (this.buffer.length === 0) this.oldestAt = this.timers.now();
    this.buffer.push(click);
    if (!click.bot) this.pendingHuman.set(click.linkId, (this.pendingHuman.get(click.linkId) ?? 0) + 1);
  }

  /** Takes back clicks whose write failed before their redirect was answered: they never happened. */
  private unrecord(durable: DurableClick[], err: unknown) {
    const failed = new Set(durable.map((d) => d.click));
    this.buffer = this.buffer.filter((c) => !failed.has(c));
    this.durable = [];
    for (const c of failed) {
      if (c.bot) continue;
      const left = (this.pendingHuman.get(c.linkId) ?? 0) - 1;
      if (left > 0) this.pendingHuman.set(c.linkId, left);
      else this.pendingHuman.delete(c.linkId);
    }
    for (const d of durable) d.done(err);
  }

  private flushAfter(delayMs: number) {
    if (this.timer || this.immediate) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, delayMs);
  }

  private flushSoon() {
    if (this.immediate) return;
    this.clearTimer();
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.flush();
    });
  }

  private clearTimer() {
    if (this.timer) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The visitor hash: HMAC-SHA256 keyed with the day's salt, 128 bits. Null once the day's salt is gone. */
  private visitorHash(ip: string, day: number): string | null {
    const salt = this.deps.visitorSalts.saltFor(day);
    return salt ? createHmac('sha256', salt).update(ip).digest('base64url').slice(0, 22) : null;
  }
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
