import type { Logger } from 'pino';

/**
 * Logs a failure that repeats while its cause lasts (PostgreSQL out of reach: the dispatcher
 * claims and the change feed reconnects several times a second): the first one in full, then
 * one line a minute with the count, then one line when it works again. Logged each time, an
 * outage of a few minutes wrote thousands of stack traces per instance.
 */
export class RepeatedFailure {
  private failures = 0;
  private loggedAt = 0;

  constructor(
    private readonly log: Logger,
    /** What failed, as a noun phrase: "claiming webhook deliveries". */
    private readonly what: string,
    private readonly level: 'warn' | 'error' = 'error',
    private readonly now: () => number = Date.now,
    private readonly everyMs = 60_000,
  ) {}

  failed(err: unknown): void {
    this.failures++;
    const at = this.now();
    if (this.failures === 1) this.log[this.level]({ err }, `${this.what} failed`);
    else if (at - this.loggedAt >= this.everyMs) this.log[this.level]({ err, failures: this.failures }, `${this.what} still fails (${this.failures} times in a row)`);
    else return;
    this.loggedAt = at;
  }

  succeeded(): void {
    if (this.failures === 0) return;
    this.log.info({ failures: this.failures }, `${this.what} works again, after ${this.failures} failure${this.failures === 1 ? '' : 's'}`);
    this.failures = 0;
  }
}
