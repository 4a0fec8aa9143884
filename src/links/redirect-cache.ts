import { LRUCache } from 'lru-cache';
import type { Queries } from '../db/db.js';
import type { LinkStatus, RedirectCode } from '../db/schema.js';
import { findLinkBySlug } from './links.repo.js';
import { asLocation } from './location.js';
import type { Target } from './targets.js';

/** What the redirect path needs to know about a link. */
export interface RedirectTarget {
  linkId: string;
  workspaceId: string;
  url: string;
  status: LinkStatus;
  expiresAt: number | null;
  expiredUrl: string | null;
  maxClicks: number | null;
  redirectCode: RedirectCode;
  /** The visitor's query string is added to the destination (src/links/forward-query.ts). */
  forwardQuery: boolean;
  /** Destinations by device and country (their URLs as Location carries them), or null: none. */
  targets: Target[] | null;
  /** The link's password hash: visitors type the password before being redirected. */
  passwordHash: string | null;
  /**
   * Human clicks so far: written ones plus those still buffered. The redirect path increments
   * it as it lets a human click through, which is what makes maxClicks exact in one process.
   */
  humanClicks: number;
}

/** A read of the database on a miss, shared by the requests for its slug that arrive meanwhile. */
interface Load {
  readonly target: Promise<RedirectTarget | undefined>;
  /** Set when the link changed while the read was under way: its answer is not cached. */
  stale: boolean;
}

/**
 * The cache key of a domain's slug: the slug alone on the base URL's host (no string built on
 * the common path), else `domain/slug` (a slug holds no '/', so keys cannot collide).
 */
export const redirectKey = (domain: string, slug: string) => (domain === '' ? slug : `${domain}/${slug}`);

/**
 * (domain, slug) → redirect target, loaded from the database on a miss and dropped whenever the
 * link changes (the links service calls invalidate after its commit). Unknown slugs are not
 * cached, so a flood of random paths cannot push real links out.
 */
export class RedirectCache {
  private readonly targets: LRUCache<string, RedirectTarget>;
  private readonly loads = new Map<string, Load>();
  /** Requests answered from the cache, and those that were not (a read, shared or not; unknown slugs too): the metrics' hit rate. */
  hits = 0;
  misses = 0;
  readonly max: number;

  constructor(
    private readonly db: Queries,
    private readonly pendingHumanClicks: (linkId: string) => number,
    max = 100_000,
  ) {
    this.targets = new LRUCache({ max });
    this.max = max;
  }

  /** Targets held now (at most `max`: the least recently used go first). */
  get size(): number {
    return this.targets.size;
  }

  /** The cached target of a domain's slug, without asking the database (the redirect's fast path). */
  cached(domain: string, slug: string): RedirectTarget | undefined {
    const target = this.targets.get(redirectKey(domain, slug));
    if (target !== undefined) this.hits++;
    return target;
  }

  /** The target of a slug that `cached` did not have: read from the database and cached. */
  miss(domain: string, slug: string): Promise<RedirectTarget | undefined> {
    this.misses++;
    const key = redirectKey(domain, slug);
    // Concurrent misses share one read and so one target object: each request increments the
    // humanClicks of the object the others check, or maxClicks would not be exact.
    let load = this.loads.get(key);
    if (!load) {
      const started: Load = {
        stale: false,
        target: this.load(domain, slug).then(
          (loaded) => {
            if (this.loads.get(key) === started) this.loads.delete(key);
            if (loaded && !started.stale) this.targets.set(key, loaded);
            return loaded;
          },
          (error: unknown) => {
            if (this.loads.get(key) === started) this.loads.delete(key);
            throw error;
          },
        ),
      };
      this.loads.set(key, started);
      load = started;
    }
    return load.target;
  }

  invalidate(domain: string, slug: string): void {
    const key = redirectKey(domain, slug);
    this.targets.delete(key);
    // A read under way may have seen the link as it was: the next request reads again.
    this.forgetLoad(key);
  }

  clear(): void {
    this.targets.clear();
    for (const key of [...this.loads.keys()]) this.forgetLoad(key);
  }

  private forgetLoad(key: string) {
    const load = this.loads.get(key);
    if (!load) return;
    load.stale = true;
    this.loads.delete(key);
  }

  /**
   * The row and the link's buffered human clicks, which together are its human clicks so far.
   * The buffered count is taken right after the read, before anything else runs on SQLite: a
   * read waits while a transaction is open, and the click recorder takes a batch's clicks out
   * of its count inside the batch's transaction, just before the commit (and puts them back if
   * the commit fails). So the row and the count always agree on which clicks are written.
   */
  private async load(domain: string, slug: string): Promise<RedirectTarget | undefined> {
    const row = await findLinkBySlug(this.db, domain, slug);
    if (!row) return undefined;
    return {
      linkId: row.id,
      workspaceId: row.workspace_id,
      url: asLocation(row.url),
      status: row.status,
      expiresAt: row.expires_at,
      expiredUrl: row.expired_url === null ? null : asLocation(row.expired_url),
      maxClicks: row.max_clicks,
      redirectCode: row.redirect_code,
      forwardQuery: row.forward_query === 1,
      targets: row.targets === null ? null : (JSON.parse(row.targets) as Target[]).map((t) => ({ ...t, url: asLocation(t.url) })),
      passwordHash: row.password_hash,
      humanClicks: row.clicks + this.pendingHumanClicks(row.id),
    };
  }
}
