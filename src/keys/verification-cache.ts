import { createHash, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/**
 * Remembers, briefly, that a secret matched a given argon2 hash, so argon2 runs once per key
 * per TTL rather than on every request. Entries are keyed by (key id, hash): when the row's
 * hash changes (rotation), old entries simply stop being consulted. It never decides whether a
 * key is active; the caller reads the row for that on every request.
 */
export class VerificationCache {
  private readonly entries: LRUCache<string, Buffer>;

  /**
   * `now` is the clock the TTL is measured on (milliseconds); tests pass their own. It must read
   * above 0: lru-cache takes an entry started at 0 for one without a TTL (performance.now() is).
   */
  constructor({ ttlMs = 5 * 60_000, max = 10_000, now = () => performance.now() }: { ttlMs?: number; max?: number; now?: () => number } = {}) {
    // ttlResolution 0: read the clock on every lookup rather than caching it for a millisecond.
    this.entries = new LRUCache({ max, ttl: ttlMs, ttlResolution: 0, perf: { now } });
  }

  has(keyId: string, hash: string, secret: string): boolean {
    const digest = this.entries.get(`${keyId}\0${hash}`);
    return digest !== undefined && timingSafeEqual(digest, sha256(secret));
  }

  remember(keyId: string, hash: string, secret: string): void {
    this.entries.set(`${keyId}\0${hash}`, sha256(secret));
  }

  clear(): void {
    this.entries.clear();
  }
}

// Only a digest of the secret is kept in memory, never the secret itself.
const sha256 = (secret: string) => createHash('sha256').update(secret).digest();
