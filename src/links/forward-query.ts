import { MAX_LOCATION_LENGTH } from './location.js';

/**
 * Where a link with forwardQuery sends a visitor who came with a query string (`/spring?utm_source=mail`):
 * its destination with the visitor's parameters added after its own, as Shlink does.
 * - A parameter the destination already has is not added again: the link's own value wins.
 * - `qr=1`, LinkQR's marker for a scan of the link's QR code, is not forwarded.
 * - The visitor's parameters are passed as they were sent (`a%20b` stays `a%20b`, a bare `flag`
 *   stays `flag`), only characters a query may not hold percent-encoded; the destination's own
 *   query and fragment are kept byte for byte (the added parameters go before the fragment).
 * - If the result would be longer than a Location header may be, the destination alone: a
 *   visitor's long query does not break a working link.
 * `requestUrl` is the request's path and query as received (`req.url`).
 */
export function withForwardedQuery(destination: string, requestUrl: string): string {
  const q = requestUrl.indexOf('?');
  if (q === -1 || q === requestUrl.length - 1) return destination;

  const hashAt = destination.indexOf('#');
  const beforeHash = hashAt === -1 ? destination : destination.slice(0, hashAt);
  const hash = hashAt === -1 ? '' : destination.slice(hashAt);
  const queryAt = beforeHash.indexOf('?');
  const own = new URLSearchParams(queryAt === -1 ? '' : beforeHash.slice(queryAt + 1));

  const added: string[] = [];
  for (const segment of requestUrl.slice(q + 1).split('&')) {
    if (segment === '') continue;
    // The segment's name and value as a server would read them, to compare; the segment itself is what is passed on.
    const [[name, value] = ['', '']] = new URLSearchParams(segment);
    if ((name === 'qr' && value === '1') || own.has(name)) continue;
    added.push(segment.replace(NOT_IN_QUERY, percentEncoded));
  }
  if (added.length === 0) return destination;

  const separator = queryAt === -1 ? '?' : beforeHash.endsWith('?') || beforeHash.endsWith('&') ? '' : '&';
  const forwarded = `${beforeHash}${separator}${added.join('&')}${hash}`;
  return forwarded.length > MAX_LOCATION_LENGTH ? destination : forwarded;
}

/**
 * What RFC 3986 does not allow in a query, and `%` not followed by two hex digits. (Node's parser
 * already refuses control characters, spaces and non-ASCII in a request line.)
 */
const NOT_IN_QUERY = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]|%(?![0-9A-Fa-f]{2})/gu;
// A lone surrogate cannot be encoded (nor reach here over HTTP): U+FFFD in its place.
const percentEncoded = (c: string) => {
  try {
    return encodeURIComponent(c);
  } catch {
    return '%EF%BF%BD';
  }
};
