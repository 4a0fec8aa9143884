import type { NextFunction, Request, Response } from 'express';

/**
 * Headers for server-rendered pages: only our own scripts and styles, no framing, no
 * sniffing, and no referrer (the setup page's URL carries its token).
 */
export function htmlSecurityHeaders(_req: Request, res: Response, next: NextFunction) {
  res.setHeader(
    'content-security-policy',
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  );
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('cache-control', 'no-store');
  next();
}
