/**
 * The longest destination LinkQR redirects to, counted as the Location header carries it
 * (percent-encoded: a non-ASCII character takes 3 to 12 characters, 9 for most CJK). Far longer
 * headers are refused by common HTTP clients (Node's own stops at 16 KB of headers).
 */
export const MAX_LOCATION_LENGTH = 2048;

/**
 * A URL as a Location header carries it: as the WHATWG parser serialises it (punycode host,
 * percent-encoded non-ASCII), since raw non-Latin-1 characters cannot go in a header.
 */
export const asLocation = (url: string) => new URL(url).href;
