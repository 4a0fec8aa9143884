import type { IncomingMessage } from 'node:http';

/**
 * Whether If-None-Match names this entity tag (RFC 9110 §13.1.2: weak comparison, a list, or *).
 * Proxies that compress responses turn strong tags weak, so `W/"x"` matches `"x"`.
 */
export function notModified(req: IncomingMessage, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (!header) return false;
  if (header.trim() === '*') return true;
  const strip = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => strip(tag) === strip(etag));
}
