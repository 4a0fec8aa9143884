import type { Queries } from '../db/db.js';
import { addressBlock } from '../links/password-throttle.js';
import { attemptWindow, type AttemptWindow } from '../sessions/login-throttle.js';

/** Reset mails asked for one email in RESET_WINDOW_MS: enough for a lost first mail, too few to flood a mailbox. */
export const RESET_REQUESTS_PER_EMAIL = 3;
/** Asked from one address (an IPv6 /64) in RESET_WINDOW_MS, whatever the emails. */
export const RESET_REQUESTS_PER_ADDRESS = 10;
export const RESET_WINDOW_MS = 60 * 60 * 1000;

/**
 * "Forgot your password?" requests, counted as sign-ins are (src/sessions/login-throttle.ts): per
 * email as typed, whether or not it has an account (a refusal tells nothing about which do), and
 * per client address. In memory for one server on SQLite, shared in the database when instances
 * share PostgreSQL. Every request counts: none is taken back.
 */
export class PasswordResetThrottle {
  private readonly perEmail: AttemptWindow;
  private readonly perAddress: AttemptWindow;

  constructor(db: Queries, secret: string | undefined) {
    this.perEmail = attemptWindow(db, secret, 'password reset email', RESET_REQUESTS_PER_EMAIL, RESET_WINDOW_MS);
    this.perAddress = attemptWindow(db, secret, 'password reset address', RESET_REQUESTS_PER_ADDRESS, RESET_WINDOW_MS);
  }

  /** Counts a request at `at` and answers 0, or answers the ms to wait (and counts nothing). */
  async attempt(email: string, ip: string, at: number): Promise<number> {
    const key = email.trim().toLowerCase();
    const wait = await this.perEmail.take(key, at);
    if (wait > 0) return wait;
    const fromAddress = await this.perAddress.take(addressBlock(ip), at);
    if (fromAddress > 0) await this.perEmail.giveBack(key, at);
    return fromAddress;
  }
}
