import type { Logger } from 'pino';
import type { Db } from '../db/db.js';
import { recordKeyUse } from './keys.repo.js';

interface Usage {
  requests: number;
  lastAt: number;
  lastIp: string;
}

/**
 * Last used at/IP and request count of each key, written behind: counted in memory and written
 * at most once a second in one transaction, so a read-only API request costs no write.
 */
export class KeyUsageRecorder {
  private pending = new Map<string, Usage>();
  private timer: NodeJS.Timeout | undefined;
  /** The batch being written (settled when it is): a flush waits for it, so the server's stop writes everything before the database closes. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: { db: Db; log: Logger },
    private readonly delayMs = 1_000,
  ) {}

  record(keyId: string, at: number, ip: string): void {
    const u = this.pending.get(keyId);
    if (u) {
      u.requests++;
      u.lastAt = at;
      u.lastIp = ip;
    } else {
      this.pending.set(keyId, { requests: 1, lastAt: at, lastIp: ip });
    }
    // unref: pending usage statistics alone must not keep a process alive (close() flushes them).
    // flush() never rejects: a failed write is logged there.
    this.timer ??= setTimeout(() => void this.flush(), this.delayMs).unref();
  }

  /** Writes the usage counted so far, after any batch still being written. Never rejects: a failed write is logged. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = new Map();
    const written = this.writing.then(() => (batch.size === 0 ? undefined : this.write(batch)));
    this.writing = written;
    return written;
  }

  private async write(batch: Map<string, Usage>): Promise<void> {
    try {
      await this.deps.db.tx(async (t) => {
        for (const [id, u] of batch) await recordKeyUse(t, id, u);
      });
    } catch (err) {
      // Usage statistics are not worth retrying forever; say so and move on.
      this.deps.log.error({ err, keys: batch.size }, 'writing API key usage failed');
    }
  }
}
