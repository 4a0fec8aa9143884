import { LRUCache } from 'lru-cache';
import type { Queries } from '../db/db.js';
import type { LinkStatus, RedirectCode } from '../db/schema.js';
import { findLinkBySlug } from './links.repo.js';
import { asLocation } from './location.js';

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
 * Slug → redirect target, loaded from the database on a miss and dropped whenever the link
 * changes (the links service calls invalidate after its commit). Unknown slugs are not cached,
 * so a flood of random paths cannot push real links out.
 */
export class RedirectCache {
  private readonly targets: LRUCache<string, RedirectTarget>;
  private readonly loads = new Map<string, Load>();

  constructor(
    private readonly db: Queries,
    private readonly pendingHumanClicks: (linkId: string) => number,
    max = 100_000,
  ) {
    this.targets = new LRUCache({ max });
  }

  /** The cached target of a slug, without asking the database (the redirect's fast path). */
  cached(slug: string): RedirectTarget | undefined {
    return this.targets.get(slug);
  }

  /** The target of a slug that `cached` did not have: read from the database and cached. */
  miss(slug: string): Promise<RedirectTarget | undefined> {
    // Concurrent misses share one read and so one target object: each request increments the
    // humanClicks of the object the others check, or maxClicks would not be exact.
    let load = this.loads.get(slug);
    if (!load) {
      const started: Load = {
        stale: false,
        target: this.load(slug).then(
          (loaded) => {
            if (this.loads.get(slug) === started) this.loads.delete(slug);
            if (loaded && !started.stale) this.targets.set(slug, loaded);
            return loaded;
          },
          (error: unknown) => {
            if (this.loads.get(slug) === started) this.loads.delete(slug);
            throw error;
          },
        ),
      };
      this.loads.set(slug, started);
      load = started;
    }
    return load.target;
  }

  invalidate(slug: string): void {
    this.targets.delete(slug);
    // A read under way may have seen the link as it was: the next request reads again.
    this.forgetLoad(slug);
  }

  clear(): void {
    this.targets.clear();
    for (const slug of [...this.loads.keys()]) this.forgetLoad(slug);
  }

  private forgetLoad(slug: string) {
    const load = this.loads.get(slug);
    if (!load) return;
    load.stale = true;
    this.loads.delete(slug);
  }

  /**
   * The row and the link's buffered human clicks, which together are its human clicks so far.
   * The buffered count is taken right after the read, before anything else runs on SQLite: a
   * read waits while a transaction is open, and the click recorder takes a batch's clicks out
   * of its count inside the batch's transaction, just before the commit (and puts them back if
   * the commit fails). So the row and the count always agree on which clicks are written.
   */
  private async load(slug: string): Promise<RedirectTarget | undefined> {
    const row = await findLinkBySlug(this.db, slug);
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
      humanClicks: row.clicks + this.pendingHumanClicks(row.id),
    };
  }
}
