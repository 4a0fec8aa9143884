import { LRUCache } from 'lru-cache';
import type { Db } from '../db/db.js';
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
  /**
   * Human clicks so far: written ones plus those still buffered. The redirect path increments
   * it as it lets a human click through, which is what makes maxClicks exact in one process.
   */
  humanClicks: number;
}

/**
 * Slug → redirect target, loaded from the database on a miss and dropped whenever the link
 * changes (the links service calls invalidate after its commit). Unknown slugs are not cached,
 * so a flood of random paths cannot push real links out.
 */
export class RedirectCache {
  private readonly targets: LRUCache<string, RedirectTarget>;

  constructor(
    private readonly db: Db,
    private readonly pendingHumanClicks: (linkId: string) => number,
    max = 100_000,
  ) {
    this.targets = new LRUCache({ max });
  }

  get(slug: string): RedirectTarget | undefined {
    let target = this.targets.get(slug);
    if (target) return target;
    const row = findLinkBySlug(this.db, slug);
    if (!row) return undefined;
    target = {
      linkId: row.id,
      workspaceId: row.workspace_id,
      url: asLocation(row.url),
      status: row.status,
      expiresAt: row.expires_at,
      expiredUrl: row.expired_url === null ? null : asLocation(row.expired_url),
      maxClicks: row.max_clicks,
      redirectCode: row.redirect_code,
      humanClicks: row.clicks + this.pendingHumanClicks(row.id),
    };
    this.targets.set(slug, target);
    return target;
  }

  invalidate(slug: string): void {
    this.targets.delete(slug);
  }

  clear(): void {
    this.targets.clear();
  }
}
