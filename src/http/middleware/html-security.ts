import type { NextFunction, Request, Response } from 'express';

/**
 * What every HTML page sends, the small status pages included (on the redirect fast path as in
 * Express): only our own scripts and styles (no inline script, no inline event handlers, no
 * eval), no framing, no sniffing, and links to other sites learn nothing of our URLs (ids,
 * search terms).
 */
export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

/** The page headers, and never cached. */
function securityHeaders(referrerPolicy: 'no-referrer' | 'same-origin') {
  return (_req: Request, res: Response, next: NextFunction) => {
    res.set({ ...PAGE_SECURITY_HEADERS, 'referrer-policy': referrerPolicy });
    res.setHeader('cache-control', 'no-store');
    next();
  };
}

/** The setup page: its URL carries the setup token, so no referrer at all. */
export const htmlSecurityHeaders = securityHeaders('no-referrer');

/** Admin pages, and the home page (`/`). */
export const adminSecurityHeaders = securityHeaders('same-origin');
