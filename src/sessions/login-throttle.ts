import type { Clock } from '../lib/clock.js';

/**
 * Failed sign-ins counted in a sliding window, per key. In memory: a restart forgets them,
 * which costs an attacker a restart they cannot cause. The number of keys is capped so that a
 * flood of made-up emails cannot grow memory without bound.
 */
export class SlidingWindow {
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

export const ACCOUNT_FAILURES = 5;
export const IP_FAILURES = 20;
export const THROTTLE_WINDOW_MS = 15 * 60 * 1000;

/**
 * Sign-in throttling: 5 failures per account and 20 per client address in 15 minutes. The
 * account is the email as typed (normalised), whether or not such a user exists, so a refusal
 * says nothing about which emails have accounts.
 */
export class LoginThrottle {
  private readonly accounts: SlidingWindow;
  private readonly addresses: SlidingWindow;

  constructor(clock: Clock) {
    this.accounts = new SlidingWindow(ACCOUNT_FAILURES, THROTTLE_WINDOW_MS, clock);
    this.addresses = new SlidingWindow(IP_FAILURES, THROTTLE_WINDOW_MS, clock);
  }

  /** Milliseconds before this email may be tried from this address; 0 when now. */
  waitMs(email: string, ip: string): number {
    return Math.max(this.accounts.waitMs(accountKey(email)), this.addresses.waitMs(ip));
  }

  failed(email: string, ip: string): void {
    this.accounts.fail(accountKey(email));
    this.addresses.fail(ip);
  }

  /** A success clears the account's failures (not the address's: one good password does not vouch for the rest). */
  succeeded(email: string): void {
    this.accounts.clear(accountKey(email));
  }
}

const accountKey = (email: string) => email.trim().toLowerCase();
