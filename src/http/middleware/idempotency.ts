/**
 * Idempotency-Key on API POSTs (SPEC §4): a client that retries a POST (a timeout, a dropped
 * connection) gets the first answer instead of having the work done twice.
 *
 * - Only POST requests that send the header. The key is 1–255 printable ASCII characters, not
 *   starting or ending with a space (HTTP strips those, so they never arrive); anything else is
 *   refused with 400 invalid_idempotency_key. Keys belong to one API key:
 *   another key may use the same string for its own requests.
 * - "The same request" is the SHA-256 of the method, the path with its query string as sent, and
 *   the parsed JSON body written with object keys sorted: whitespace and the order of keys do
 *   not make another request; values, array order and the query string do. No body and `{}` differ.
 * - Before the route runs, the key is reserved (a record with status 0, in its own transaction).
 *   The answer (status, body, content-type and location) is stored as the route sends it, before
 *   its bytes reach the client.
 * - Stored: 2xx and 4xx answers. A 4xx is the answer to that request as sent: change the request
 *   and send it with a new key. Not stored: 429 and 5xx (the next try may well succeed): the
 *   reservation is dropped and a retry with the key runs the route again.
 * - The same key and request within 24 h: the stored answer again, with `Idempotent-Replayed:
 *   true`. The route does not run again (nor its scope check: the key was allowed when it ran).
 * - The same key with another request within 24 h: 409 idempotency_key_reused, also while the
 *   first one is still running.
 * - A duplicate that arrives while the first is running in this process waits for it and gets its
 *   answer, so concurrent duplicates do the work once. Running in another process (several
 *   servers on one database): 409 idempotency_key_in_progress with Retry-After: 1. A reservation
 *   older than 60 s is taken to be left by a crashed process and is taken over: the route runs
 *   again (a crash between the route's commit and storing its answer can thus repeat the work).
 * - Records older than 24 h count as absent; the retention job deletes them.
 * - Stored bodies are sealed under the at-rest key (some hold a webhook secret). One that cannot be
 *   opened (the key was lost or changed) answers 409 idempotency_record_unreadable: running the
 *   route again could do the work twice.
 */
import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Db } from '../../db/db.js';
import {
  claimIdempotencyKey,
  releaseIdempotencyKey,
  type Reservation,
  saveIdempotentResponse,
  type StoredResponse,
} from '../../idempotency/idempotency.repo.js';
import type { Clock } from '../../lib/clock.js';
import { AppError, errors } from '../../lib/errors.js';
import type { SecretBox } from '../../secrets/secret-box.js';
import { onResponseDone } from '../response-done.js';
import { principalOf } from './auth.js';

/** The Idempotency-Key as the OpenAPI document states it (its pattern is this one's source). */
export const IDEMPOTENCY_KEY_FORMAT = /^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$/;
/** A reservation older than this, with no request of this process behind it, was left by a crashed process. */
const STALE_RESERVATION_MS = 60_000;
/** The response headers a replay repeats; the others (request id, rate limit) belong to each request. */
const REPLAYED_HEADERS = ['content-type', 'location'];

const idempotencyErrors = {
  invalidKey: () =>
    errors.badRequest('invalid_idempotency_key', 'The Idempotency-Key header must be 1 to 255 printable ASCII characters.'),
  keyReused: () =>
    errors.conflict(
      'idempotency_key_reused',
      'This Idempotency-Key was used with a different request (method, path or body) in the last 24 hours. ' +
        'Send a new key with a new request; repeat the first request unchanged to get its response.',
    ),
  keyInProgress: () =>
    new AppError(
      409,
      'idempotency_key_in_progress',
      'Conflict',
      'A request with this Idempotency-Key is still being processed. Retry in a moment to get its response.',
      undefined,
      { 'retry-after': '1' },
    ),
  recordUnreadable: () =>
    errors.conflict(
      'idempotency_record_unreadable',
      "The first answer to this Idempotency-Key cannot be read: the server's at-rest key changed since it was stored. " +
        'Check whether the first request took effect, then send the request again with a new key.',
    ),
};

/** A request of this process holding a key: duplicates wait for `answered`. */
interface Running {
  requestHash: string;
  answered: Promise<void>;
}

export function idempotency(deps: { db: Db; clock: Clock; secretBox: SecretBox; log: Logger }) {
  const running = new Map<string, Running>();

  return async (req: Request, res: Response, next: NextFunction) => {
    const idempotencyKey = req.headers['idempotency-key'];
    if (req.method !== 'POST' || idempotencyKey === undefined) return next();
    if (typeof idempotencyKey !== 'string' || !IDEMPOTENCY_KEY_FORMAT.test(idempotencyKey)) throw idempotencyErrors.invalidKey();
    const { keyId } = principalOf(res);
    const requestHash = fingerprint(req);
    const slot = `${keyId}\n${idempotencyKey}`;

    for (;;) {
      const first = running.get(slot);
      if (first) {
        if (first.requestHash !== requestHash) throw idempotencyErrors.keyReused();
        // Then look again: its answer is stored, or it was not kept and this request runs instead.
        await first.answered;
        continue;
      }
      // In the map before the claim is awaited (on PostgreSQL it takes round trips): a duplicate
      // arriving meanwhile waits for this one instead of racing it in the database.
      let release!: () => void;
      const entry = { requestHash, answered: new Promise<void>((resolve) => (release = resolve)) };
      running.set(slot, entry);
      const free = () => {
        if (running.get(slot) === entry) running.delete(slot);
        release();
      };
      let claim: Awaited<ReturnType<typeof claimIdempotencyKey>>;
      try {
        claim = await claimIdempotencyKey(deps.db, deps.secretBox, {
          keyId,
          idempotencyKey,
          requestHash,
          now: deps.clock.now(),
          staleAfterMs: STALE_RESERVATION_MS,
        });
      } catch (err) {
        free();
        throw err;
      }
      if (claim.outcome !== 'reserved') free();
      switch (claim.outcome) {
        case 'replay':
          return replay(res, claim.response);
        case 'reused':
          throw idempotencyErrors.keyReused();
        case 'running':
          throw idempotencyErrors.keyInProgress();
        case 'unreadable':
          throw idempotencyErrors.recordUnreadable();
        case 'reserved':
          // Resolves (never rejects) once the answer is stored or dropped, after free().
          void keepAnswer(res, claim.reservation, deps, free);
          // A request that never answers (its connection dropped first) frees the slot too, or its
          // duplicates would wait here for ever; the record stays reserved until it is stale.
          onResponseDone(res, deps.log, (finished) => {
            if (!finished) free();
          });
          return next();
      }
    }
  };
}

/**
 * Stores the answer the route sends (or drops the reservation when it is not kept). Resolves once
 * that is done, after `whenDone` has run.
 */
function keepAnswer(res: Response, reservation: Reservation, { db, secretBox, log }: { db: Db; secretBox: SecretBox; log: Logger }, whenDone: () => void): Promise<void> {
  return new Promise((resolve) => {
    onAnswer(res, async (answer) => {
      try {
        if (isKept(answer.status)) await saveIdempotentResponse(db, secretBox, reservation, answer);
        else await releaseIdempotencyKey(db, reservation);
      } catch (err) {
        // The route's work is committed: its true answer goes out whatever becomes of the record
        // (a 503 "nothing was changed" would be a lie). A retry with this key is 409 in progress
        // until the reservation is stale (60 s), then runs again.
        log.error({ err, status: answer.status }, 'the answer to an Idempotency-Key request could not be stored; it was sent anyway');
      } finally {
        whenDone();
        resolve();
      }
    });
  });
}

const isKept = (status: number) => (status >= 200 && status < 300) || (status >= 400 && status < 500 && status !== 429);

function replay(res: Response, stored: StoredResponse): void {
  res.writeHead(stored.status, {
    ...stored.headers,
    'idempotent-replayed': 'true',
    'content-length': Buffer.byteLength(stored.body),
  });
  res.end(stored.body);
}

/**
 * Calls `record` with the answer when the route ends it, and hands the last bytes to the socket
 * only once it has settled: a client never sees an answer that a retry would not get. Works for
 * sendJson (writeHead + end) and for Express's res.send (setHeader + end) alike. `record` must
 * not reject: the answer is sent after it.
 */
function onAnswer(res: Response, record: (answer: StoredResponse) => Promise<void>): void {
  const chunks: Buffer[] = [];
  const collect = (chunk: unknown, encoding: unknown) => {
    if (typeof chunk === 'string') chunks.push(Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8'));
    else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
  };
  type Method = (...args: unknown[]) => unknown;
  const original = { writeHead: res.writeHead as Method, write: res.write as Method, end: res.end as Method };

  // Headers given to writeHead are sent without being kept where getHeader reads them: set them first.
  res.writeHead = ((status: number, ...rest: unknown[]) => {
    const headers = rest.at(-1);
    if (headers !== null && typeof headers === 'object' && !Array.isArray(headers)) {
      for (const [name, value] of Object.entries(headers)) res.setHeader(name, value as string | number | string[]);
      rest.pop();
    }
    return original.writeHead.call(res, status, ...rest);
  }) as Response['writeHead'];
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    collect(chunk, rest[0]);
    return original.write.call(res, chunk, ...rest);
  }) as Response['write'];
  res.end = ((...args: unknown[]) => {
    Object.assign(res, original);
    if (typeof args[0] !== 'function') collect(args[0], args[1]);
    const headers: Record<string, string> = {};
    for (const name of REPLAYED_HEADERS) {
      const value = res.getHeader(name);
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    // res.end returns at once, as it does; the last bytes follow once the record is written.
    // (Ending fails only on a broken connection, which then is closed.)
    void record({ status: res.statusCode, headers, body: Buffer.concat(chunks).toString('utf8') })
      .then(() => original.end.apply(res, args))
      .catch((err: unknown) => res.destroy(err instanceof Error ? err : new Error(String(err))));
    return res;
  }) as Response['end'];
}

/** SHA-256 of what makes a request "the same request": method, path with query, canonical body. */
function fingerprint(req: Request): string {
  return createHash('sha256').update(`${req.method}\n${req.originalUrl}\n`).update(canonicalJson(req.body)).digest('hex');
}

type JsonPart = { value: unknown } | { text: string };

/**
 * The JSON text of a parsed body with object keys sorted ('' for no body). Iterative rather than
 * recursive: a 64 KB body can nest tens of thousands of levels deep.
 */
function canonicalJson(body: unknown): string {
  const out: string[] = [];
  const todo: JsonPart[] = [{ value: body }];
  for (let part = todo.pop(); part !== undefined; part = todo.pop()) {
    if ('text' in part) {
      out.push(part.text);
      continue;
    }
    const { value } = part;
    if (value === null || typeof value !== 'object') {
      out.push(JSON.stringify(value) ?? '');
      continue;
    }
    // Pushed last part first: the stack hands them back in order.
    const isArray = Array.isArray(value);
    const entries: [string, unknown][] = isArray
      ? value.map((item, i) => [String(i), item])
      : Object.keys(value)
          .sort()
          .map((k) => [k, (value as Record<string, unknown>)[k]]);
    todo.push({ text: isArray ? ']' : '}' });
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, item] = entries[i]!;
      todo.push({ value: item });
      const separator = i > 0 ? ',' : '';
      todo.push({ text: isArray ? separator : `${separator}${JSON.stringify(key)}:` });
    }
    todo.push({ text: isArray ? '[' : '{' });
  }
  return out.join('');
}
