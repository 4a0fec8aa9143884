import type { LinkRow } from '../db/schema.js';
import { toIso } from '../lib/clock.js';
import type { Target } from './targets.js';
import type { LinkState } from './links.schema.js';
import { hostOfHeader } from '../domains/hostnames.js';

/**
 * The origin of a link's short URL: the base URL for links on its host (domain ''), else the
 * link's domain with the base URL's scheme (a reverse proxy serves every domain the same way).
 */
export function originOf(domain: string, baseUrl: string): string {
  return domain === '' ? baseUrl : `${baseUrl.slice(0, baseUrl.indexOf('//') + 2)}${domain}`;
}

/**
 * The host name of the base URL: the `domain` of links on it. Read off the text (config made it a
 * normalised URL) rather than parsed: every Link JSON, export row and TLS question asks it.
 */
export function baseHostname(baseUrl: string): string {
  const rest = baseUrl.slice(baseUrl.indexOf('//') + 2);
  const slash = rest.indexOf('/');
  return hostOfHeader(slash === -1 ? rest : rest.slice(0, slash))!;
}

/** The Link JSON of SPEC §4. Fields are listed one by one so a new column never leaks. */
export function presentLink(row: LinkRow, baseUrl: string) {
  const shortUrl = `${originOf(row.domain, baseUrl)}/${row.slug}`;
  return {
    id: row.id,
    domain: row.domain === '' ? baseHostname(baseUrl) : row.domain,
    slug: row.slug,
    shortUrl,
    // The tracked URL to encode in QR codes: scans through it are recorded as qr=true.
    qrUrl: `${shortUrl}?qr=1`,
    url: row.url,
    title: row.title,
    tags: JSON.parse(row.tags) as string[],
    status: row.status,
    expiresAt: toIso(row.expires_at),
    expiredUrl: row.expired_url,
    maxClicks: row.max_clicks,
    redirectCode: row.redirect_code,
    forwardQuery: row.forward_query === 1,
    targets: row.targets === null ? [] : (JSON.parse(row.targets) as Target[]),
    passwordProtected: row.password_hash !== null,
    clicks: row.clicks,
    lastClickedAt: toIso(row.last_clicked_at),
    createdBy: row.created_by_key_id
      ? { type: 'key' as const, id: row.created_by_key_id }
      : row.created_by_user_id
        ? { type: 'user' as const, id: row.created_by_user_id }
        : null,
    createdAt: toIso(row.created_at)!,
    updatedAt: toIso(row.updated_at)!,
  };
}
export type Link = ReturnType<typeof presentLink>;

/**
 * A link as a visitor meets it at `now` (src/http/redirect.ts): only an active one redirects to its
 * target. The admin's Links table badges it so, and its filter asks the same in SQL (links.repo.ts).
 */
export function linkState(link: Pick<Link, 'status' | 'expiresAt' | 'maxClicks' | 'clicks'>, now: number): LinkState {
  if (link.status === 'disabled') return 'disabled';
  if (link.expiresAt !== null && Date.parse(link.expiresAt) <= now) return 'expired';
  if (link.maxClicks !== null && link.clicks >= link.maxClicks) return 'limit_reached';
  return 'active';
}
