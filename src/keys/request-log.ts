import type { Logger } from 'pino';
import type { Selectable } from 'kysely';
import type { Db, Queries } from '../db/db.js';
import type { ApiRequestLogRow } from '../db/schema.js';

/** One answered API request, as each key's request log keeps it. Never the query string, body or key. */
export interface ApiRequestEntry {
  keyId: string;
  workspaceId: string;
  at: number;
  method: string;
  /** The request path without its query string. */
  path: string;
  status: number;
  durationMs: number;
  ip: string;
  requestId: string | null;
}

/** How long the log keeps a request (the retention job deletes older rows). */
export const REQUEST_LOG_RETENTION_MS = 30 * 86_400_000;
/** Longer paths are cut: the log is for recognising an integration, not for replaying it. */
export const MAX_LOGGED_PATH = 512;

export interface ApiRequestRecorderOptions {
  /** How long an entry may wait in memory before its batch is written. */
  flushDelayMs?: number;
  /** A batch this large is written at once rather than after the delay. */
  maxBatch?: number;
  /** Beyond this many unwritten entries (database stuck), new ones are dropped and counted. */
  maxBuffered?: number;
  /**
   * Each key keeps at most about this many requests: one busy integration (thousands of requests
   * a second) would otherwise fill the disk long before the 30 days are up.
   */
  keepPerKey?: number;
}

/**
 * Each API key's request log, written behind like the key usage: entries wait in a bounded
 * buffer and are written in one transaction per batch, so an API request costs no write of
 * its own. A key's oldest rows beyond `keepPerKey` are deleted as new ones arrive.
 */
export class ApiRequestRecorder {
  private buffer: ApiRequestEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private dropped = 0;
  /** The batch being written (settled when it is): a flush waits for it, so the server's stop writes everything before the database closes. */
  private writing: Promise<unknown> = Promise.resolve();
  /** Rows written per key since its log was last trimmed. */
  private readonly untrimmed = new Map<string, number>();
  private readonly flushDelayMs: number;
  private readonly maxBatch: number;
  private readonly maxBuffered: number;
  private readonly keepPerKey: number;

  constructor(
    private readonly deps: { db: Db; log: Logger },
    options: ApiRequestRecorderOptions = {},
  ) {
    this.flushDelayMs = options.flushDelayMs ?? 1_000;
    this.maxBatch = options.maxBatch ?? 2_000;
    this.maxBuffered = options.maxBuffered ?? 20_000;
    this.keepPerKey = options.keepPerKey ?? 100_000;
  }

  record(entry: ApiRequestEntry): void {
    if (this.buffer.length >= this.maxBuffered) {
      this.dropped++;
      return;
    }
    this.buffer.push(entry);
    if (this.buffer.length >= this.maxBatch) this.flushSoon();
    // unref: a pending log entry alone must not keep a process alive (the server's close() flushes).
    // flush() never rejects: a failed write is logged there.
    else this.timer ??= setTimeout(() => void this.flush(), this.flushDelayMs).unref();
  }

  /** Entries waiting to be written. */
  get depth(): number {
    return this.buffer.length;
  }

  /**
   * Writes everything buffered, after any batch still being written; resolves to how many
   * entries this call wrote. Never rejects: a failed write is logged.
   */
  flush(): Promise<number> {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    const batch = this.buffer;
    this.buffer = [];
    const written = this.writing.then(() => (batch.length === 0 ? 0 : this.write(batch)));
    this.writing = written;
    return written;
  }

  private async write(batch: ApiRequestEntry[]): Promise<number> {
    const { db, log } = this.deps;
    try {
      // One transaction for the whole batch: a commit costs far more than the inserts in it.
      await db.tx(async (t) => {
        for (const e of batch) {
          await t.exec(
            `insert into api_request_log (key_id, workspace_id, at, method, path, status, duration_ms, ip, request_id)
             values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            e.keyId,
            e.workspaceId,
            e.at,
            e.method,
            e.path.slice(0, MAX_LOGGED_PATH),
            e.status,
            Math.round(e.durationMs),
            e.ip || null,
            e.requestId,
          );
          this.untrimmed.set(e.keyId, (this.untrimmed.get(e.keyId) ?? 0) + 1);
        }
        await this.trimBusyKeys(t);
      });
    } catch (err) {
      // A log of past requests is not worth retrying forever (nor holding the API up for): say so and move on.
      log.error({ err, entries: batch.length }, 'writing the API request log failed; these entries are lost');
      return 0;
    }
    if (this.dropped > 0) {
      log.warn({ dropped: this.dropped }, 'API request log entries dropped while the buffer was full');
      this.dropped = 0;
    }
    return batch.length;
  }

  /**
   * Trims a key once a tenth of its allowance has been written since the last trim: a busy key
   * is trimmed every few batches, a quiet one almost never, and none keeps more than 110 %.
   */
  private async trimBusyKeys(t: Queries) {
    const step = Math.max(1, Math.floor(this.keepPerKey / 10));
    for (const [keyId, written] of this.untrimmed) {
      if (written < step) continue;
      await t.exec(
        `delete from api_request_log where key_id = ? and id <= (
           select id from api_request_log where key_id = ? order by id desc limit 1 offset ?)`,
        keyId,
        keyId,
        this.keepPerKey,
      );
      this.untrimmed.delete(keyId);
    }
  }

  private flushSoon() {
    // flush() never rejects: a failed write is logged there.
    this.immediate ??= setImmediate(() => void this.flush());
  }
}

/** A logged request as the CLI and the admin UI show it. */
export type LoggedRequest = {
  id: number;
  at: string;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  ip: string | null;
  requestId: string | null;
};

type LogRow = Omit<Selectable<ApiRequestLogRow>, 'key_id' | 'workspace_id'>;

/**
 * A key's requests, newest first. `before` is the id of the last entry of the previous page;
 * `nextBefore` is set when there may be more.
 */
export async function listKeyRequests(
  db: Queries,
  keyId: string,
  page: { limit: number; before?: number },
): Promise<{ data: LoggedRequest[]; nextBefore: number | null }> {
  const rows = await db.rows<LogRow>(
    `select id, at, method, path, status, duration_ms, ip, request_id from api_request_log
     where key_id = ? and id < ? order by id desc limit ?`,
    keyId,
    page.before ?? Number.MAX_SAFE_INTEGER,
    page.limit,
  );
  const data = rows.map((r) => ({
    id: r.id,
    at: new Date(r.at).toISOString(),
    method: r.method,
    path: r.path,
    status: r.status,
    durationMs: r.duration_ms,
    ip: r.ip,
    requestId: r.request_id,
  }));
  return { data, nextBefore: rows.length === page.limit ? rows[rows.length - 1]!.id : null };
}

/** Where a key has been used from, as its log remembers: each address, how often and when last. */
export interface KeyRequestSummary {
  lastDay: number;
  total: number;
  addresses: { ip: string | null; requests: number; lastAt: string }[];
}

/** Requests in the day before `now`, in the whole log, and the addresses seen (latest first, at most `maxAddresses`). */
export async function summariseKeyRequests(db: Queries, keyId: string, now: number, maxAddresses = 10): Promise<KeyRequestSummary> {
  const counts = (await db.row<{ total: number; lastDay: number }>(
    'select count(*) as total, count(*) filter (where at >= ?) as "lastDay" from api_request_log where key_id = ?',
    now - 86_400_000,
    keyId,
  ))!;
  const addresses = await db.rows<{ ip: string | null; requests: number; lastAt: number }>(
    `select ip, count(*) as requests, max(at) as "lastAt" from api_request_log where key_id = ?
     group by ip order by "lastAt" desc limit ?`,
    keyId,
    maxAddresses,
  );
  return { ...counts, addresses: addresses.map((a) => ({ ...a, lastAt: new Date(a.lastAt).toISOString() })) };
}

/** Deletes up to `limit` entries older than `cutoff` (the retention job calls it until it returns less). */
export const deleteRequestsBefore = async (db: Queries, cutoff: number, limit: number): Promise<number> =>
  (await db.exec('delete from api_request_log where id in (select id from api_request_log where at < ? limit ?)', cutoff, limit)).changes;
