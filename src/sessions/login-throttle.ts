import type { Queries } from '../db/db.js';
import type { Clock } from '../lib/clock.js';
import { bucketName, clearSignInFailures, forgetOldSignInFailures, forgetSignInFailure, takeSignInAttempt } from '../limits/shared-limits.repo.js';

/**
 * Sign-in attempts counted in a sliding window, per key. An attempt is counted before its
 * password is checked, in one step with the check of the count: guesses sent all at once are
 * counted one by one, and the sixth of five waits. A successful attempt is taken back.
 */
export interface AttemptWindow {
  /** Counts an attempt at `at` and answers 0, or answers the ms until one may be made (and counts nothing). */
  take(key: string, at: number): number | Promise<number>;
  /** Takes back the attempt counted at `at` (it succeeded). */
  giveBack(key: string, at: number): void | Promise<void>;
  /** Forgets every attempt of `key`. */
  clear(key: string): void | Promise<void>;
}

/**
 * In memory (one server on SQLite): a restart forgets the attempts, which costs an attacker a
 * restart they cannot cause. The number of keys is capped so that a flood of made-up emails
 * cannot grow memory without bound.
 */
export class SlidingWindow implements AttemptWindow {
  private readonly attempts = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly maxKeys = 50_000,
  ) {}

  take(key: string, at: number): number {
    const recent = this.recent(key, at);
    // The window slides: the oldest attempt that keeps the count at the limit must age out.
    if (recent.length >= this.limit) return recent[recent.length - this.limit]! + this.windowMs - at;
    recent.push(at);
    this.attempts.delete(key); // re-inserted last: Map order is oldest activity first
    this.attempts.set(key, recent.slice(-this.limit));
    if (this.attempts.size > this.maxKeys) this.attempts.delete(this.attempts.keys().next().value!);
    return 0;
  }

  giveBack(key: string, at: number): void {
    const recent = this.attempts.get(key);
    const i = recent?.lastIndexOf(at) ?? -1;
    if (i !== -1) recent!.splice(i, 1);
  }

  clear(key: string): void {
    this.attempts.delete(key);
  }

  private recent(key: string, now: number): number[] {
    const since = now - this.windowMs;
    return (this.attempts.get(key) ?? []).filter((at) => at > since);
  }
}

/**
 * The same window in a table that instances on one PostgreSQL database share, so that a guesser
 * gets 5 tries at an account whichever instances the tries reach (src/limits/shared-limits.repo.ts:
 * a transaction holding an advisory lock on the key counts and adds). Each instance deletes
 * attempts that left every window once a minute.
 */
export class SharedSlidingWindow implements AttemptWindow {
  private sweptAt = 0;

  constructor(
    private readonly db: Queries,
    private readonly bucketOf: (key: string) => string,
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  async take(key: string, at: number): Promise<number> {
    if (at - this.sweptAt >= 60_000) {
      this.sweptAt = at;
      await forgetOldSignInFailures(this.db, at - this.windowMs);
    }
    const recent = await takeSignInAttempt(this.db, this.bucketOf(key), at, this.windowMs, this.limit);
    // Newest first, the limit-th newest must age out; when it was counted, fewer were there.
    return recent.length < this.limit ? 0 : recent[this.limit - 1]! + this.windowMs - at;
  }

  async giveBack(key: string, at: number): Promise<void> {
    await forgetSignInFailure(this.db, this.bucketOf(key), at);
  }

  async clear(key: string): Promise<void> {
    await clearSignInFailures(this.db, this.bucketOf(key));
  }
}

/** Attempts per key in a sliding window: in memory for one server (SQLite), in the database when instances share PostgreSQL. */
export function attemptWindow(db: Queries, secret: string | undefined, kind: string, limit: number, windowMs: number): AttemptWindow {
  return db.dialect === 'postgres' ? new SharedSlidingWindow(db, (key) => bucketName(secret, kind, key), limit, windowMs) : new SlidingWindow(limit, windowMs);
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
  private readonly accounts: AttemptWindow;
  private readonly addresses: AttemptWindow;

  /** In memory for one server (SQLite); in the database when instances share PostgreSQL. */
  constructor(
    private readonly clock: Clock,
    db: Queries,
    secret: string | undefined,
  ) {
    const window = (kind: string, limit: number) => attemptWindow(db, secret, kind, limit, THROTTLE_WINDOW_MS);
    this.accounts = window('sign-in account', ACCOUNT_FAILURES);
    this.addresses = window('sign-in address', IP_FAILURES);
  }

  /**
   * Counts a sign-in attempt of this email from this address before its password is checked:
   * `waitMs` 0 and the attempt's time (for succeeded), or the ms to wait (nothing counted).
   */
  async attempt(email: string, ip: string): Promise<{ waitMs: number; at: number }> {
    const at = this.clock.now();
    const account = await this.accounts.take(accountKey(email), at);
    if (account > 0) return { waitMs: account, at };
    const address = await this.addresses.take(ip, at);
    if (address > 0) {
      await this.accounts.giveBack(accountKey(email), at);
      return { waitMs: address, at };
    }
    return { waitMs: 0, at };
  }

  /**
   * The attempt succeeded: the account's failures are cleared, and this attempt no longer counts
   * against the address (its other failures do: one good password does not vouch for the rest).
   */
  async succeeded(email: string, ip: string, at: number): Promise<void> {
    await this.accounts.clear(accountKey(email));
    await this.addresses.giveBack(ip, at);
  }

  /**
   * The password was right and a second step follows (a two-factor code, itself counted as an
   * attempt): this attempt no longer counts, but the account's failures stay, wrong codes among
   * them, so that giving the password again buys no more guesses at the code.
   */
  async passwordAccepted(email: string, ip: string, at: number): Promise<void> {
    await this.accounts.giveBack(accountKey(email), at);
    await this.addresses.giveBack(ip, at);
  }
}

const accountKey = (email: string) => email.trim().toLowerCase();
