import type { NextFunction, Request, Response } from 'express';

/**
 * Headers for server-rendered pages: only our own scripts and styles (no inline script, no
 * inline event handlers, no eval), no framing, no sniffing, never cached.
 */
function securityHeaders(referrerPolicy: 'no-referrer' | 'same-origin') {
  return (_req: Request, res: Response, next: NextFunction) => {
    res.setHeader(
      'content-security-policy',
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    );
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', referrerPolicy);
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('cache-control', 'no-store');
    next();
  };
}

/** The setup page: its URL carries the setup token, so no referrer at all. */
export const htmlSecurityHeaders = securityHeaders('no-referrer');

/** Admin pages: links to other sites learn nothing of our URLs (ids, search terms). */
export const adminSecurityHeaders = securityHeaders('same-origin');
