import { randomBase62 } from '../lib/base62.js';
import { anyCase } from '../lib/request-schemas.js';

export const SLUG_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const AUTO_SLUG_LENGTH = 7;

/**
 * Top-level paths the server uses or may use. A link cannot take them, which is also what lets
 * the redirect fast path claim every other single-segment path without asking the router.
 * Compared case-insensitively.
 */
export const RESERVED_SLUGS: ReadonlySet<string> = new Set([
  'admin', 'api', 'setup', 'healthz', 'readyz', 'livez', 'metrics', 'docs', 'public', 'static', 'assets',
  'login', 'logout', 'signup', 'register', 'auth', 'oauth', 'dashboard', 'settings', 'account', 'help',
  'status', 'about', 'favicon', 'robots', 'sitemap', 'well-known', '_', 'www', 'app', 'qr',
]);

export const isReservedSlug = (slug: string) => RESERVED_SLUGS.has(slug.toLowerCase());

/** Matches any text but a reserved slug, in any letter case: the rule as a pattern JSON Schema can carry. */
export const NOT_RESERVED_SLUG = new RegExp(`^(?!(?:${[...RESERVED_SLUGS].map(anyCase).join('|')})$)`);

export const randomSlug = () => randomBase62(AUTO_SLUG_LENGTH);
