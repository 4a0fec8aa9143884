import { MAX_LOCATION_LENGTH } from './location.js';

/**
 * Where a link with forwardQuery sends a visitor who came with a query string (`/spring?utm_source=mail`):
 * its destination with the visitor's parameters added after its own, as Shlink does.
 * - A parameter the destination already has is not added again: the link's own value wins.
 * - `qr=1`, LinkQR's marker for a scan of the link's QR code, is not forwarded.
 * - The destination's own query and fragment are kept byte for byte (the added parameters go
 *   before the fragment).
 * - If the result would be longer than a Location header may be, the destination alone: a
 *   visitor's long query does not break a working link.
 * `requestUrl` is the request's path and query as received (`req.url`).
 */
export function withForwardedQuery(destination: string, requestUrl: string): string {
  const q = requestUrl.indexOf('?');
  if (q === -1 || q === requestUrl.length - 1) return destination;
  const incoming = new URLSearchParams(requestUrl.slice(q + 1));
  incoming.delete('qr', '1');
  if (incoming.size === 0) return destination;

  const hashAt = destination.indexOf('#');
  const beforeHash = hashAt === -1 ? destination : destination.slice(0, hashAt);
  const hash = hashAt === -1 ? '' : destination.slice(hashAt);
  const queryAt = beforeHash.indexOf('?');
  const own = new URLSearchParams(queryAt === -1 ? '' : beforeHash.slice(queryAt + 1));
  const added = new URLSearchParams();
  for (const [name, value] of incoming) if (!own.has(name)) added.append(name, value);
  if (added.size === 0) return destination;

  const separator = queryAt === -1 ? '?' : beforeHash.endsWith('?') || beforeHash.endsWith('&') ? '' : '&';
  const forwarded = `${beforeHash}${separator}${added.toString()}${hash}`;
  return forwarded.length > MAX_LOCATION_LENGTH ? destination : forwarded;
}
