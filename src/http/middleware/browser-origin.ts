import type { NextFunction, Request, Response } from 'express';
import { errors } from '../../lib/errors.js';

/**
 * The API answers servers, not web pages of other sites: no CORS, and a request a browser sent
 * from another site (it says so in Origin or Sec-Fetch-Site) is refused with 403
 * browser_origin_refused, CORS preflights included, before its key is looked at. A key in a
 * page's code is a key anyone who opens the page can copy.
 *
 * Allowed: no Origin at all (curl, server-side HTTP clients, Node's fetch; a browser's address
 * bar) and LinkQR's own origin, the one of LINKQR_BASE_URL (same-origin requests carry no key
 * of another site's making and need no CORS).
 */
export function refuseBrowserOrigins(deps: { baseUrl(): string }) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    const fromAnotherSite = site === 'cross-site' || site === 'same-site' || (origin !== undefined && origin !== originOf(deps.baseUrl()));
    if (fromAnotherSite) {
      const from = origin === undefined ? 'another site' : `another site (Origin: ${origin})`;
      throw errors.forbidden(
        'browser_origin_refused',
        `A browser sent this request from a page of ${from}. The API refuses those: API keys are secrets, and a key in ` +
          'browser code can be read by anyone who opens the page. Call the API from your server, keep the key there, and ' +
          'let your page talk to your server.',
      );
    }
    next();
  };
}

function originOf(baseUrl: string): string | undefined {
  try {
    return new URL(baseUrl).origin;
  } catch {
    return undefined;
  }
}
