import type { Logger } from 'pino';

/**
 * Work a request starts but does not wait for (the mail of "Forgot your password?", whose answer
 * must not take longer when the email has an account). Failures are logged here; a stopping server
 * waits for what is running (`settled`) before it closes the database under it.
 */
export class BackgroundWork {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly log: Logger) {}

  /**
   * Runs `work` on a later turn of the event loop: none of it (not even a first query, which on
   * SQLite runs synchronously) happens before the caller's response is written.
   */
  start(what: string, work: () => Promise<void>): void {
    const done: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
      .then(work)
      .catch((err: unknown) => this.log.error({ err }, `${what} failed`))
      .finally(() => this.running.delete(done));
    this.running.add(done);
  }

  /** Resolves once everything started so far has finished. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
