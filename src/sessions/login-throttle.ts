import type { Queries } from '../db/db.js';
import type { Clock } from '../lib/clock.js';
import { addSignInFailure, bucketName, clearSignInFailures, forgetOldSignInFailures, recentSignInFailures } from '../limits/shared-limits.repo.js';

/** Failed attempts counted in a sliding window, per key. */
interface FailureWindow {
  /** Milliseconds until `key` may try again; 0 when it may now. */
  waitMs(key: string): number | Promise<number>;
  fail(key: string): void | Promise<void>;
  clear(key: string): void | Promise<void>;
}

/**
 * Failed sign-ins counted in a sliding window, per key, in memory (one server on SQLite): a
 * restart forgets them, which costs an attacker a restart they cannot cause. The number of keys
 * is capped so that a flood of made-up emails cannot grow memory without bound.
 */
export class SlidingWindow implements FailureWindow {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly clock: Clock,
    private readonly maxKeys = 50_000,
  ) {}

  /** Milliseconds until `key` may try again; 0 when it may now. */
  waitMs(key: string): number {
    const recent = this.recent(key);
    if (recent.length < this.limit) return 0;
    // The window slides: the oldest failure that keeps the count at the limit must age out.
    return recent[recent.length - this.limit]! + this.windowMs - this.clock.now();
  }

  fail(key: string): void {
    const recent = this.recent(key);
    recent.push(this.clock.now());
    this.failures.delete(key); // re-inserted last: Map order is oldest activity first
    this.failures.set(key, recent.slice(-this.limit));
    if (this.failures.size > this.maxKeys) this.failures.delete(this.failures.keys().next().value!);
  }

  clear(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string): number[] {
    const since = this.clock.now() - this.windowMs;
    return (this.failures.get(key) ?? []).filter((at) => at > since);
  }
}

/**
 * The same window in a table that instances on one PostgreSQL database share, so that a guesser
 * gets 5 tries at an account whichever instances the tries reach. Each instance deletes failures
 * that left every window once a minute.
 */
export class SharedSlidingWindow implements FailureWindow {
  private sweptAt = 0;

  constructor(
    private readonly db: Queries,
    private readonly kind: string,
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly clock: Clock,
  ) {}

  async waitMs(key: string): Promise<number> {
    const now = this.clock.now();
    const recent = await recentSignInFailures(this.db, bucketName(this.kind, key), now - this.windowMs, this.limit);
    // Newest first: the limit-th newest failure must age out.
    return recent.length < this.limit ? 0 : recent[this.limit - 1]! + this.windowMs - now;
  }

  async fail(key: string): Promise<void> {
    const now = this.clock.now();
    if (now - this.sweptAt >= 60_000) {
      this.sweptAt = now;
      await forgetOldSignInFailures(this.db, now - this.windowMs);
    }
    await addSignInFailure(this.db, bucketName(this.kind, key), now);
  }

  async clear(key: string): Promise<void> {
    await clearSignInFailures(this.db, bucketName(this.kind, key));
  }
}

export const ACCOUNT_FAILURES = 5;
export const IP_FAILURES = 20;
export const THROTTLE_WINDOW_MS = 15 * 60 * 1000;

/**
 * Sign-in throttling: 5 failures per account and 20 per client address in 15 minutes. The
 * account is the email as typed (normalised), whether or not such a user exists, so a refusal
 * says nothing about which emails have accounts.
 */
export class LoginThrottle {
  private readonly accounts: FailureWindow;
  private readonly addresses: FailureWindow;

  /** In memory for one server (SQLite); in the database when instances share PostgreSQL. */
  constructor(clock: Clock, db: Queries) {
    const window = (kind: string, limit: number): FailureWindow =>
      db.dialect === 'postgres' ? new SharedSlidingWindow(db, kind, limit, THROTTLE_WINDOW_MS, clock) : new SlidingWindow(limit, THROTTLE_WINDOW_MS, clock);
    this.accounts = window('sign-in account', ACCOUNT_FAILURES);
    this.addresses = window('sign-in address', IP_FAILURES);
  }

  /** Milliseconds before this email may be tried from this address; 0 when now. */
  async waitMs(email: string, ip: string): Promise<number> {
    return Math.max(await this.accounts.waitMs(accountKey(email)), await this.addresses.waitMs(ip));
  }

  async failed(email: string, ip: string): Promise<void> {
    await this.accounts.fail(accountKey(email));
    await this.addresses.fail(ip);
  }

  /** A success clears the account's failures (not the address's: one good password does not vouch for the rest). */
  async succeeded(email: string): Promise<void> {
    await this.accounts.clear(accountKey(email));
  }
}

const accountKey = (email: string) => email.trim().toLowerCase();
