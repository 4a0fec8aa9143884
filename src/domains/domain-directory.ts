import type { Queries } from '../db/db.js';
import { asLocation } from '../links/location.js';
import { verifiedDomainRows } from './domains.repo.js';
import { hostOfHeader } from './hostnames.js';

/** What requests to an added domain need: its redirects as Location headers carry them. */
export interface DomainEntry {
  hostname: string;
  /** The workspace that verified it: only its links are served on it. */
  workspaceId: string;
  rootRedirect: string | null;
  notFoundRedirect: string | null;
}

/**
 * Every added domain of the instance, in memory: the redirect path asks it for each request's
 * `Host`, and must not ask the database. Domains are few and change rarely; every change is
 * followed by a reload, on every instance (the change feed's `domains`).
 */
export class DomainDirectory {
  private byHost = new Map<string, DomainEntry>();
  private generation = 0;

  constructor(private readonly db: Queries) {}

  async reload(): Promise<void> {
    const mine = ++this.generation;
    // Only proven ones: a name a workspace merely claimed gets no redirects and no TLS.
    const rows = await verifiedDomainRows(this.db);
    // Two reloads in flight: the one started last saw the latest state.
    if (mine !== this.generation) return;
    const location = (url: string | null) => (url === null ? null : asLocation(url));
    this.byHost = new Map(
      rows.map((r) => [
        r.hostname,
        { hostname: r.hostname, workspaceId: r.workspace_id, rootRedirect: location(r.root_redirect), notFoundRedirect: location(r.not_found_redirect) },
      ]),
    );
  }

  /** The added domain a request's `Host` header names; undefined for any other host (the base URL's, an address, none). */
  ofHost(header: string | undefined): DomainEntry | undefined {
    // The common case, a server without domains, costs nothing more per redirect.
    if (this.byHost.size === 0) return undefined;
    const host = hostOfHeader(header);
    return host === undefined ? undefined : this.byHost.get(host);
  }

  has(hostname: string): boolean {
    return this.byHost.has(hostname);
  }
}
