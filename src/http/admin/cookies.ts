import type { CookieOptions, Request, Response } from 'express';

/** One cookie of the request (express 5 parses none without a middleware we do not need). */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * HttpOnly, and Secure whenever the request came over https: directly, or through a proxy
 * trusted with LINKQR_TRUST_PROXY that says so in X-Forwarded-Proto (Express's req.secure).
 */
export const cookieOptions = (req: Request, extra: CookieOptions): CookieOptions => ({ httpOnly: true, secure: req.secure, ...extra });

export function setCookie(req: Request, res: Response, name: string, value: string, extra: CookieOptions) {
  res.cookie(name, value, cookieOptions(req, extra));
}

export function clearCookie(req: Request, res: Response, name: string, extra: CookieOptions) {
  res.clearCookie(name, cookieOptions(req, extra));
}
