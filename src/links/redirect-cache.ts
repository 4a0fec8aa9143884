import { LRUCache } from 'lru-cache';
import type { Queries } from '../db/db.js';
import type { LinkRow, LinkStatus, RedirectCode } from '../db/schema.js';
import { findLinkBySlug, findLinksBySlugs } from './links.repo.js';
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

/** A miss waiting for the next read of the database, with the requests' promise to settle. */
interface QueuedRead {
  domain: string;
  slug: string;
  resolve(target: RedirectTarget | undefined): void;
  reject(error: unknown): void;
}

/**
 * Misses read together: those queued in one turn of the event loop go in one statement. Over many
 * links (a QR campaign, uniform traffic over 1M links) most requests miss the cache; on PostgreSQL
 * a statement each was a round trip each, and the pool's 10 connections queued them.
 */
const READS_PER_STATEMENT = 200;

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
  private queued: QueuedRead[] = [];
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

  /** Queues the read of a slug for the end of this turn of the event loop (readQueued). */
  private load(domain: string, slug: string): Promise<RedirectTarget | undefined> {
    return new Promise((resolve, reject) => {
      if (this.queued.push({ domain, slug, resolve, reject }) === 1) setImmediate(() => void this.readQueued());
    });
  }

  /**
   * Reads every queued slug, READS_PER_STATEMENT a statement (the statements run side by side on
   * PostgreSQL's pool). Each link's human clicks so far are its row's plus its buffered ones, the
   * buffered count taken right after the read, before anything else runs on SQLite: a read waits
   * while a transaction is open, and the click recorder takes a batch's clicks out of its count
   * inside the batch's transaction, just before the commit (and puts them back if the commit
   * fails). So the row and the count always agree on which clicks are written.
   */
  private readQueued(): void {
    const queued = this.queued;
    this.queued = [];
    for (let i = 0; i < queued.length; i += READS_PER_STATEMENT) {
      const reads = queued.slice(i, i + READS_PER_STATEMENT);
      // One slug (misses few and far between): the plain keyed read, no JSON to make or take apart.
      const rows =
        reads.length === 1
          ? findLinkBySlug(this.db, reads[0]!.domain, reads[0]!.slug).then((row) => (row ? [row] : []))
          : findLinksBySlugs(this.db, reads.map((r) => [r.domain, r.slug] as const));
      rows.then(
        (found) => {
          const byKey = new Map(found.map((row) => [redirectKey(row.domain, row.slug), row]));
          for (const r of reads) {
            const row = byKey.get(redirectKey(r.domain, r.slug));
            // A row that cannot be made a target (an unreadable `targets`) fails its own request only.
            try {
              r.resolve(row ? this.targetOf(row) : undefined);
            } catch (error) {
              r.reject(error);
            }
          }
        },
        (error: unknown) => {
          for (const r of reads) r.reject(error);
        },
      );
    }
  }

  private targetOf(row: LinkRow): RedirectTarget {
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
