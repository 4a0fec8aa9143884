import http from 'node:http';
import https from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import tls from 'node:tls';
import { urlToHttpOptions } from 'node:url';
import { systemClock, type Clock } from '../lib/clock.js';
import { systemTimers, type TimerHandle, type Timers } from '../lib/timers.js';
import { ADDRESS_BLOCKED, type AddressGuard } from './address-guard.js';

/**
 * One webhook delivery attempt over node:http/node:https. Not fetch: it must ignore proxy
 * environment variables (a proxy would dial addresses the guard never saw), never follow
 * redirects, bound the response it reads, and reuse connections to busy receivers.
 */

export type AttemptOutcome = 'success' | 'failure' | 'gone' | 'throttled';

export type AttemptErrorClass =
  | 'timeout' // no complete answer within the total timeout
  | 'connect_timeout' // DNS + TCP (+ TLS) took longer than the connect timeout
  | 'connection_refused'
  | 'connection_reset' // the receiver closed the connection before answering
  | 'dns'
  | 'blocked_address' // the URL or a resolved address is refused by the AddressGuard
  | 'invalid_url'
  | 'tls'
  | 'unreachable' // no route to the receiver's network or host
  | 'protocol_error' // the answer is not valid HTTP
  | 'invalid_request' // the headers given to send() cannot be sent
  | 'redirect' // 3xx: redirects are never followed
  | 'http_error' // any other non-2xx status
  | 'sender_closed'
  | 'cancelled' // the caller gave up on the attempt (its endpoint was deleted or disabled)
  | 'network_error';

export interface AttemptResult {
  outcome: AttemptOutcome;
  statusCode: number | null;
  errorClass: AttemptErrorClass | null;
  /** A sentence for the delivery log, safe to show to workspace admins; null on success. */
  errorDetail: string | null;
  durationMs: number;
  /** The first maxResponseBytes of the response body, decoded as UTF-8. */
  responseExcerpt: string;
  /** From Retry-After on 429/503 (delay-seconds or HTTP-date), unclamped; else null. */
  retryAfterMs: number | null;
  /**
   * The total timeout ended the attempt, also when a status line had come (a receiver that
   * answers its headers, then stalls its body): it held its connection the whole time.
   */
  timedOut: boolean;
}

export interface DeliveryRequest {
  url: string;
  /** Sent as given; only content-length is computed, and user-agent filled in when absent. */
  headers: Record<string, string>;
  body: string;
}

export interface SenderOptions {
  guard: AddressGuard;
  userAgent: string;
  connectTimeoutMs?: number;
  totalTimeoutMs?: number;
  maxResponseBytes?: number;
  /**
   * Connections per receiver origin; default unbounded. The dispatcher's slots (8 per endpoint,
   * 16 per workspace, 64 in all) bound the attempts, so an agent bound could only make endpoints
   * that share a receiver host queue behind each other's hanging attempts.
   */
  maxSocketsPerOrigin?: number;
  /** Reads "now" for Retry-After HTTP-dates. */
  clock?: Clock;
  /** The timeouts' timers and the attempt durations' clock (tests move time by hand). */
  timers?: Timers;
  /** PEM roots trusted besides the system ones (an intranet CA). */
  extraCa?: string[];
}

export interface Sender {
  /** One attempt. Never throws: every problem is an AttemptResult. Aborting `signal` ends it as 'cancelled'. */
  send(req: DeliveryRequest, signal?: AbortSignal): Promise<AttemptResult>;
  /** Destroys the pooled connections; later sends fail with 'sender_closed'. */
  close(): void;
}


const CANCELLED_DETAIL = 'The attempt was cut off: its endpoint was deleted or disabled meanwhile.';

/** Idle keep-alive sockets are closed after this (unless the receiver's Keep-Alive hint is shorter). */
const IDLE_SOCKET_MS = 30_000;

/** Endpoint URLs whose checked request options are kept (the least recently used are forgotten). */
const TARGETS_KEPT = 256;

/** Where an endpoint URL that passed the guard's checks is sent. */
interface Target {
  isHttps: boolean;
  /** node:http's options for the URL (host, port, path), made once. */
  options: http.RequestOptions;
}

export function createSender(options: SenderOptions): Sender {
  const {
    guard,
    userAgent,
    connectTimeoutMs = 5_000,
    totalTimeoutMs = 15_000,
    maxResponseBytes = 20_000,
    maxSocketsPerOrigin = Number.POSITIVE_INFINITY,
    clock = systemClock,
    timers = systemTimers,
  } = options;
  const pool = { keepAlive: true, maxSockets: maxSocketsPerOrigin, scheduling: 'lifo' as const, timeout: IDLE_SOCKET_MS };
  // Node calls these lookups for every new connection to a host name, so the address checked
  // is the address dialled. It never calls them for IP literals: send() checks those itself.
  const httpAgent = new http.Agent({ ...pool, lookup: guard.plainHttpLookup });
  const httpsAgent = new https.Agent({
    ...pool,
    lookup: guard.lookup,
    ...(options.extraCa?.length ? { ca: [...tls.rootCertificates, ...options.extraCa] } : {}),
  });
  /** Sockets that finished connecting (TCP, and TLS for https). */
  const connected = new WeakSet<object>();
  let closed = false;

  // Parsing and checking the same endpoint URL for every attempt was 4% of a delivery's time
  // (profiled): the checks depend on the URL alone (the guard's settings are fixed at start), so
  // a URL that passed them is kept. Addresses behind host names are still checked at connect time.
  const targets = new Map<string, Target>();
  const targetOf = (rawUrl: string): Target | AttemptResult => {
    let target = targets.get(rawUrl);
    if (target) {
      targets.delete(rawUrl);
      targets.set(rawUrl, target);
      return target;
    }
    let parsed: URL;
    try {
      parsed = new URL(rawUrl);
    } catch {
      return failure('invalid_url', 'The endpoint URL is not a valid URL.', 0);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      return failure('invalid_url', `The endpoint URL must use https:// (it uses ${parsed.protocol}).`, 0);
    }
    // Scheme rules and IP-literal hosts (which Node connects to without calling lookup).
    const checked = guard.checkUrl(rawUrl);
    if (!checked.ok) return failure('blocked_address', checked.reason, 0);
    target = { isHttps: checked.url.protocol === 'https:', options: urlToHttpOptions(checked.url) };
    if (targets.size >= TARGETS_KEPT) targets.delete(targets.keys().next().value!);
    targets.set(rawUrl, target);
    return target;
  };

  function attempt(target: Target, req: DeliveryRequest, startedAt: number, signal: AbortSignal | undefined): Promise<AttemptResult | 'retry'> {
    return new Promise((resolve) => {
      const { isHttps } = target;
      const body = Buffer.from(req.body, 'utf8');
      let settled = false;
      let connectTimer: TimerHandle | undefined;
      let response: http.IncomingMessage | undefined;
      let reused = false;
      const chunks: Buffer[] = [];
      let received = 0;

      const finish = (result: AttemptResult | 'retry') => {
        if (settled) return;
        settled = true;
        timers.clearTimeout(totalTimer);
        if (connectTimer) timers.clearTimeout(connectTimer);
        signal?.removeEventListener('abort', cancel);
        resolve(result);
      };
      const fail = (errorClass: AttemptErrorClass, errorDetail: string) =>
        finish(failure(errorClass, errorDetail, timers.now() - startedAt));
      const answered = (timedOut = false) => {
        const res = response!;
        finish(resultOfStatus(res, Buffer.concat(chunks), timers.now() - startedAt, clock.now(), timedOut ? totalTimeoutMs : undefined));
      };
      /** Stops the attempt: with the answer so far if the status line came, else as an error. */
      const abort = (errorClass: AttemptErrorClass, errorDetail: string) => {
        if (response) answered(errorClass === 'timeout');
        else fail(errorClass, errorDetail);
        request?.destroy();
      };

      const totalTimer = timers.setTimeout(
        () => abort('timeout', `The receiver did not answer within ${seconds(totalTimeoutMs)}.`),
        totalTimeoutMs,
      );
      // Unlike a timeout, a cancelled attempt has no outcome, even if the status line came.
      const cancel = () => {
        fail('cancelled', CANCELLED_DETAIL);
        request?.destroy();
      };
      signal?.addEventListener('abort', cancel, { once: true });

      let request: http.ClientRequest | undefined;
      try {
        request = (isHttps ? https : http).request({
          ...target.options,
          method: 'POST',
          agent: isHttps ? httpsAgent : httpAgent,
          headers: outgoingHeaders(req.headers, userAgent, body.length),
        });
      } catch (err) {
        fail('invalid_request', `The request could not be built: ${(err as Error).message}`);
        return;
      }
      const sent = request;

      sent.on('socket', (socket) => {
        // A kept-alive socket is already connected (also when handed over from the agent's
        // queue, where Node leaves reusedSocket false).
        reused = sent.reusedSocket || connected.has(socket);
        if (reused) return;
        connectTimer = timers.setTimeout(
          () => abort('connect_timeout', `Could not connect to the receiver within ${seconds(connectTimeoutMs)}.`),
          connectTimeoutMs,
        );
        socket.once(isHttps ? 'secureConnect' : 'connect', () => {
          connected.add(socket);
          if (connectTimer) timers.clearTimeout(connectTimer);
        });
      });

      sent.on('response', (res) => {
        response = res;
        if (connectTimer) timers.clearTimeout(connectTimer);
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          const room = maxResponseBytes - received;
          if (chunk.length > room) {
            // Enough for the log: stop reading instead of buffering megabytes (drops the socket).
            chunks.push(chunk.subarray(0, room));
            received = maxResponseBytes;
            answered();
            res.destroy();
            return;
          }
          chunks.push(chunk);
          received += chunk.length;
        });
        res.on('end', answered);
        // Cut off mid-body: the status line is the answer; keep what came of the body.
        res.on('close', answered);
        res.on('error', answered);
      });

      sent.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        // A kept-alive socket the receiver closed just as we picked it (its idle timeout raced
        // our request): retry once at once on a fresh connection rather than wait for the
        // retry schedule. Delivery is at-least-once; receivers dedupe on webhook-id.
        if (reused && !response && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          finish('retry');
          return;
        }
        const { errorClass, errorDetail } = classifyError(err);
        fail(errorClass, errorDetail);
      });

      sent.end(body);
    });
  }

  return {
    async send(req, signal) {
      const startedAt = timers.now();
      if (closed) return failure('sender_closed', 'The webhook sender is shut down.', 0);
      if (signal?.aborted) return failure('cancelled', CANCELLED_DETAIL, 0);
      const target = targetOf(req.url);
      if (!('options' in target)) return target;
      const first = await attempt(target, req, startedAt, signal);
      if (first !== 'retry') return first;
      if (signal?.aborted) return failure('cancelled', CANCELLED_DETAIL, timers.now() - startedAt);
      const second = await attempt(target, req, startedAt, signal);
      return second === 'retry'
        ? failure('connection_reset', 'The receiver closed the connection before answering.', timers.now() - startedAt)
        : second;
    },
    close() {
      closed = true;
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** The given headers, content-length set from the body and user-agent added when missing. */
function outgoingHeaders(given: Record<string, string>, userAgent: string, length: number): Record<string, string> {
  const headers: Record<string, string> = {};
  let hasUserAgent = false;
  for (const [name, value] of Object.entries(given)) {
    const lower = name.toLowerCase();
    if (lower === 'content-length') continue;
    if (lower === 'user-agent') hasUserAgent = true;
    headers[name] = value;
  }
  if (!hasUserAgent) headers['user-agent'] = userAgent;
  headers['content-length'] = String(length);
  return headers;
}

/** `timedOutAfterMs`: the total timeout cut the body off (the status stands: a 2xx is still a success). */
function resultOfStatus(res: http.IncomingMessage, bodyStart: Buffer, elapsedMs: number, nowMs: number, timedOutAfterMs?: number): AttemptResult {
  const status = res.statusCode ?? 0;
  const base = {
    statusCode: status,
    durationMs: Math.round(elapsedMs),
    // StringDecoder holds back a character cut in half at the limit instead of emitting U+FFFD.
    responseExcerpt: new StringDecoder('utf8').write(bodyStart),
    retryAfterMs: null,
    timedOut: timedOutAfterMs !== undefined,
  };
  const stalled = timedOutAfterMs === undefined ? '' : `, then did not finish its response within ${seconds(timedOutAfterMs)}`;
  const answer = `The receiver answered ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}${stalled}`;
  if (status >= 200 && status < 300) return { ...base, outcome: 'success', errorClass: null, errorDetail: null };
  if (status === 410) {
    return { ...base, outcome: 'gone', errorClass: 'http_error', errorDetail: `${answer}: the receiver asks for this endpoint to be disabled.` };
  }
  if (status === 429 || status === 503) {
    const retryAfterMs = parseRetryAfter(headerValue(res.headers['retry-after']), nowMs);
    return {
      ...base,
      outcome: 'throttled',
      errorClass: 'http_error',
      errorDetail: `${answer}${retryAfterMs === null ? '' : ` and asked to retry in ${seconds(retryAfterMs)}`}.`,
      retryAfterMs,
    };
  }
  if (status >= 300 && status < 400) {
    const location = headerValue(res.headers.location);
    return {
      ...base,
      outcome: 'failure',
      errorClass: 'redirect',
      errorDetail: `${answer}${location ? ` redirecting to ${location}` : ''}. Webhooks do not follow redirects: set the endpoint URL to the final address.`,
    };
  }
  return { ...base, outcome: 'failure', errorClass: 'http_error', errorDetail: `${answer}.` };
}

function failure(errorClass: AttemptErrorClass, errorDetail: string, elapsedMs: number): AttemptResult {
  return {
    outcome: 'failure',
    statusCode: null,
    errorClass,
    errorDetail,
    durationMs: Math.round(elapsedMs),
    responseExcerpt: '',
    retryAfterMs: null,
    timedOut: errorClass === 'timeout',
  };
}

const headerValue = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(3))} s`;

const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /;

/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, as milliseconds from `nowMs`
 * (a date in the past gives 0). Null when absent or unparsable. Clamping is the caller's call.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const ms = Number(text) * 1000;
    return Number.isSafeInteger(ms) ? ms : null;
  }
  // Date.parse alone would accept "7.5" or "tomorrow"-ish strings; insist on an HTTP-date shape.
  if (!HTTP_DATE.test(text)) return null;
  // asctime dates carry no zone but are GMT.
  const at = Date.parse(/ GMT$/.test(text) ? text : `${text} GMT`);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH$|EPROTO$)/;

function classifyError(err: NodeJS.ErrnoException): { errorClass: AttemptErrorClass; errorDetail: string } {
  // With autoSelectFamily, failing to reach every address of a name gives an AggregateError.
  const inner = err instanceof AggregateError ? (err.errors[0] as NodeJS.ErrnoException | undefined) : undefined;
  const code = err.code ?? inner?.code ?? '';
  const message = err.message || inner?.message || String(err);
  if (code === ADDRESS_BLOCKED) return { errorClass: 'blocked_address', errorDetail: message };
  if (['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA', 'ENODATA'].includes(code)) {
    return { errorClass: 'dns', errorDetail: `The host name could not be resolved (${code}).` };
  }
  if (code === 'ECONNREFUSED') return { errorClass: 'connection_refused', errorDetail: 'The receiver refused the connection: nothing listens on that port.' };
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    return { errorClass: 'connection_reset', errorDetail: 'The receiver closed the connection before answering.' };
  }
  if (code === 'ETIMEDOUT') return { errorClass: 'connect_timeout', errorDetail: 'Connecting to the receiver timed out.' };
  if (['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL'].includes(code)) {
    return { errorClass: 'unreachable', errorDetail: `The receiver cannot be reached (${code}).` };
  }
  if (TLS_CODE.test(code)) return { errorClass: 'tls', errorDetail: `The TLS connection failed: ${message}` };
  if (code.startsWith('HPE_')) return { errorClass: 'protocol_error', errorDetail: `The receiver's answer is not valid HTTP (${code}).` };
  if (code === 'ERR_INVALID_CHAR' || code === 'ERR_INVALID_HTTP_TOKEN') {
    return { errorClass: 'invalid_request', errorDetail: `The request could not be built: ${message}` };
  }
  return { errorClass: 'network_error', errorDetail: code ? `${message} (${code})` : message };
}
