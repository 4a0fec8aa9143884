import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../../lib/errors.js';

/** Compared as SHA-256 digests: equal lengths for timingSafeEqual, and no early exit on the first differing byte. */
export function tokensMatch(expected: string, given: unknown): boolean {
  if (typeof given !== 'string' || given === '' || expected === '') return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(expected), digest(given));
}

export const CSRF_FIELD = '_csrf';
export const CSRF_HEADER = 'x-csrf-token';

export const csrfRefused = () =>
  new AppError(403, 'csrf_failed', 'This form has expired', 'The page this came from is out of date or was not sent by LinkQR. Reload it and try again.');

/**
 * Every state-changing request carries the session's token: forms as the `_csrf` field, htmx
 * requests as the X-CSRF-Token header (the admin layout sets hx-headers on <body>). Cookies
 * are sent by the browser whoever made the page; the token only our pages know.
 * Mount after the body parser and after the session is resolved.
 */
export function requireCsrf(expectedToken: (res: Response) => string | undefined) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
    const body = req.body as Record<string, unknown> | undefined;
    const given = req.get(CSRF_HEADER) ?? body?.[CSRF_FIELD];
    const expected = expectedToken(res);
    if (expected === undefined || !tokensMatch(expected, given)) throw csrfRefused();
    next();
  };
}
