import type { NextFunction, Request, Response } from 'express';
import type { Config } from '../../config.js';
import type { Queries } from '../../db/db.js';
import type { Clock } from '../../lib/clock.js';
import { bucketName, forgetIdleBuckets, giveBackToBucket, takeFromBucket } from '../../limits/shared-limits.repo.js';
import { AppError } from '../../lib/errors.js';
import type { WorkspacePlan } from '../../workspaces/plans.js';
import { principalOf } from './auth.js';

export interface RateLimitDeps {
  clock: Clock;
  config: Pick<Config, 'apiRateLimit' | 'secret'>;
  db: Queries;
}

declare module 'express-serve-static-core' {
  interface Locals {
    /** The address group whose quota this request took on arrival (given back once a key is usable). */
    rateLimitAddress?: string;
  }
}

/**
 * Answers without a valid API key that one client address may get a minute: failed
 * authentications (so keys cannot be guessed at speed), the public OpenAPI document, refusals.
 */
export const ADDRESS_REQUESTS_PER_MINUTE = 60;
const WINDOW_MS = 60_000;

/**
 * SPEC §4 rate limits under /api/v1, with RateLimit-Limit, -Remaining and -Reset on every answer
 * that has a limit, and 429 rate_limited with Retry-After beyond it.
 *
 * - `perClientAddress` goes first and takes one from the address's quota on arrival; an address
 *   past it is refused before its key is even checked (that is what makes guessing slow; it also
 *   refuses a good key sent from that address, for at most a minute). `perKey` gives the unit
 *   back, so only requests that end without a usable key count against the address: no valid
 *   key, a plan without the API, or a key used from outside its allowed networks (a stolen key
 *   cannot use up its owner's quota).
 * - `perKey` goes after authenticate: each key's requests against its plan's
 *   `apiRequestsPerMinute`, else LINKQR_API_RATE_LIMIT. 0 is unlimited: no headers then.
 *
 * IPv6 clients are counted per /64, the block one subscriber usually holds.
 */
export function rateLimit(deps: RateLimitDeps, clientIp: (req: Request) => string) {
  // One process counts in memory; instances sharing a PostgreSQL database count in it.
  const buckets = (kind: string): RateBuckets => (deps.db.dialect === 'postgres' ? new SharedRateLimiter(deps.db, (key) => bucketName(deps.config.secret, kind, key)) : new RateLimiter());
  const keys = buckets('key');
  const addresses = buckets('address');

  async function perClientAddress(req: Request, res: Response, next: NextFunction) {
    const address = addressGroup(clientIp(req));
    // Taken on arrival, not once the answer is known: guesses sent all at once must each use up
    // the quota before their keys are checked. perKey gives it back to requests with a usable key.
    const verdict = await addresses.take(address, ADDRESS_REQUESTS_PER_MINUTE, deps.clock.now());
    if (!verdict.admitted) {
      throw rateLimited(
        verdict,
        `Too many requests without a valid API key came from this address: the limit is ${ADDRESS_REQUESTS_PER_MINUTE} a minute ` +
          `(failed authentications count). Retry in ${verdict.retryAfterSeconds} s.`,
      );
    }
    res.locals.rateLimitAddress = address;
    // Set now, so an answer that never reaches perKey (no valid key, a network or plan refusal)
    // shows the address quota; perKey replaces them. (Set eagerly rather than by wrapping
    // res.writeHead: patching the response object measured 15% off the create-link rate.)
    setRateLimitHeaders(res, verdict);
    next();
  }

  async function perKey(_req: Request, res: Response, next: NextFunction) {
    const { keyId, plan } = principalOf(res);
    const now = deps.clock.now();
    // A usable key from an allowed network: the request is the key's, not the address's. Given
    // back while the key's quota is taken (on PostgreSQL, two statements at once: one round trip
    // of waiting, not two).
    const address = res.locals.rateLimitAddress;
    res.locals.rateLimitAddress = undefined;
    const givenBack = address === undefined ? undefined : addresses.giveBack(address);
    const quota = keyQuota(plan, deps.config.apiRateLimit);
    if (!quota) {
      await givenBack;
      for (const name of RATE_LIMIT_HEADERS) res.removeHeader(name);
      return next();
    }
    const [verdict] = await Promise.all([keys.take(keyId, quota.perMinute, now), givenBack]);
    if (!verdict.admitted) {
      throw rateLimited(
        verdict,
        `This API key may make ${quota.perMinute} requests a minute (${quota.source}). Retry in ${verdict.retryAfterSeconds} s.`,
      );
    }
    setRateLimitHeaders(res, verdict);
    next();
  }

  return { perClientAddress, perKey };
}

/** What `take` and `peek` answer: the RateLimit-* header values, and whether the request may go on. */
export interface Verdict {
  admitted: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the whole quota is available again. */
  resetSeconds: number;
  /** Seconds until one more request would be admitted; 0 when this one was. */
  retryAfterSeconds: number;
}

/** Where request counts live: this process's memory, or a database that instances share. */
export interface RateBuckets {
  /** Admits or refuses one request; only an admitted one is counted. */
  take(key: string, perMinute: number, now: number): Verdict | Promise<Verdict>;
  /** Undoes one admitted `take` (the request turned out to belong to another bucket). */
  giveBack(key: string): void | Promise<void>;
}

/**
 * GCRA (a leaky bucket) per key, in whole numbers: each request adds WINDOW_MS units to the key's
 * level, which drains by `perMinute` units a millisecond, and a request is admitted while the
 * level stays within WINDOW_MS × perMinute. So `perMinute` requests may come at once, then one
 * every 60 000 / perMinute ms; a limit of 7 counts exactly, with no drift of fractional ms.
 * A key untouched for a minute has drained and is forgotten; beyond `maxEntries` the least
 * recently used are forgotten too (letting them start afresh), so memory stays bounded.
 */
export class RateLimiter implements RateBuckets {
  /** In order of last use: the Map keeps insertion order and each use re-inserts. */
  private readonly buckets = new Map<string, { level: number; at: number }>();

  constructor(private readonly maxEntries = 100_000) {}

  get size(): number {
    return this.buckets.size;
  }

  /** Admits or refuses one request; only an admitted one is counted. */
  take(key: string, perMinute: number, now: number): Verdict {
    const { verdict, levelAfter } = this.judge(key, perMinute, now);
    if (verdict.admitted) {
      this.buckets.delete(key);
      this.buckets.set(key, { level: levelAfter, at: now });
      this.forgetIdle(now);
    }
    return verdict;
  }

  /** What `take` would answer now, counting nothing. */
  peek(key: string, perMinute: number, now: number): Verdict {
    return this.judge(key, perMinute, now).verdict;
  }

  /** Undoes one admitted `take` (the request turned out to belong to another bucket). */
  giveBack(key: string): void {
    const bucket = this.buckets.get(key);
    // The drain since `at` is applied when the level is next read, so only the unit comes off here.
    if (bucket) bucket.level = Math.max(bucket.level - WINDOW_MS, 0);
  }

  private judge(key: string, perMinute: number, now: number): { verdict: Verdict; levelAfter: number } {
    const level = this.levelOf(key, perMinute, now);
    const levelAfter = level + WINDOW_MS;
    const admitted = levelAfter <= WINDOW_MS * perMinute;
    return { verdict: verdictFor(admitted ? levelAfter : level, perMinute, admitted), levelAfter };
  }

  private levelOf(key: string, perMinute: number, now: number): number {
    const bucket = this.buckets.get(key);
    return bucket ? drainedLevel(bucket, perMinute, now) : 0;
  }

  private forgetIdle(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.at < WINDOW_MS && this.buckets.size <= this.maxEntries) return;
      this.buckets.delete(key);
    }
  }
}

/** A bucket's level at `now`: what it held at `at`, less what has drained since. */
function drainedLevel(bucket: { level: number; at: number }, perMinute: number, now: number): number {
  // Filled under a higher limit, it is at most full under this one; and a full bucket drains
  // within WINDOW_MS, so capping the elapsed time keeps the product small.
  const level = Math.min(bucket.level, WINDOW_MS * perMinute);
  const elapsed = Math.min(Math.max(now - bucket.at, 0), WINDOW_MS);
  return Math.max(level - elapsed * perMinute, 0);
}

/**
 * The same GCRA in a table that instances on one PostgreSQL database share: each take is one
 * atomic upsert (src/limits/shared-limits.repo.ts), so a key allowed 60 a minute gets 60 whichever
 * instances its requests reach. Each instance deletes idle buckets once a minute.
 */
export class SharedRateLimiter implements RateBuckets {
  private sweptAt = 0;

  constructor(
    private readonly db: Queries,
    private readonly bucketOf: (key: string) => string,
  ) {}

  async take(key: string, perMinute: number, now: number): Promise<Verdict> {
    if (now - this.sweptAt >= WINDOW_MS) {
      this.sweptAt = now;
      await forgetIdleBuckets(this.db, now - WINDOW_MS);
    }
    const row = await takeFromBucket(this.db, this.bucketOf(key), WINDOW_MS, perMinute, now);
    // Refused, the row is as it was: the verdict is its level now, as in memory.
    return verdictFor(row.admitted ? row.level : drainedLevel(row, perMinute, now), perMinute, row.admitted);
  }

  async giveBack(key: string): Promise<void> {
    await giveBackToBucket(this.db, this.bucketOf(key), WINDOW_MS);
  }
}

/** The RateLimit-* values for a bucket at `level` (after this request, if it was admitted). */
function verdictFor(level: number, perMinute: number, admitted: boolean): Verdict {
  const capacity = WINDOW_MS * perMinute;
  const drainedPerSecond = 1_000 * perMinute;
  return {
    admitted,
    limit: perMinute,
    remaining: Math.floor((capacity - level) / WINDOW_MS),
    resetSeconds: Math.ceil(level / drainedPerSecond),
    retryAfterSeconds: admitted ? 0 : Math.ceil((level + WINDOW_MS - capacity) / drainedPerSecond),
  };
}

/** A key's requests per minute and where that number comes from (named in the 429). */
interface Quota {
  perMinute: number;
  source: string;
}

/** The quota of a key under its workspace's plan (read with the key), undefined when unlimited. */
function keyQuota(plan: WorkspacePlan, instanceLimit: number): Quota | undefined {
  const fromPlan = plan.limits.apiRequestsPerMinute;
  const quota =
    fromPlan !== undefined
      ? { perMinute: fromPlan, source: `the apiRequestsPerMinute limit of the "${plan.name}" plan` }
      : { perMinute: instanceLimit, source: 'the instance setting LINKQR_API_RATE_LIMIT' };
  return quota.perMinute > 0 ? quota : undefined;
}

const RATE_LIMIT_HEADERS = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'] as const;

function setRateLimitHeaders(res: Response, verdict: Verdict): void {
  res.setHeader('ratelimit-limit', String(verdict.limit));
  res.setHeader('ratelimit-remaining', String(verdict.remaining));
  res.setHeader('ratelimit-reset', String(verdict.resetSeconds));
}

const rateLimitHeaders = (verdict: Verdict): Record<string, string> => ({
  'ratelimit-limit': String(verdict.limit),
  'ratelimit-remaining': String(verdict.remaining),
  'ratelimit-reset': String(verdict.resetSeconds),
});

function rateLimited(verdict: Verdict, detail: string): AppError {
  return new AppError(429, 'rate_limited', 'Too many requests', detail, undefined, {
    ...rateLimitHeaders(verdict),
    'retry-after': String(verdict.retryAfterSeconds),
  });
}

/**
 * What an address is counted as: an IPv4 address as it is (IPv4-mapped IPv6 included), an IPv6
 * address by its /64, since one subscriber usually holds a whole /64.
 */
export function addressGroup(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!ip.includes(':')) return ip;
  const [head = '', tail] = ip.split('%')[0]!.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(Math.max(8 - headGroups.length - tailGroups.length, 0)).fill('0');
  const groups = [...headGroups, ...zeros, ...tailGroups].slice(0, 4);
  return `${groups.map((g) => Number.parseInt(g, 16).toString(16)).join(':')}::/64`;
}
