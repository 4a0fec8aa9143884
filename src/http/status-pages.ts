import type { ServerResponse } from 'node:http';
import type { Eta } from 'eta';
import { PAGE_SECURITY_HEADERS } from './middleware/html-security.js';

export interface StatusPages {
  notFound: Buffer;
  methodNotAllowed: Buffer;
  gone: Buffer;
  serverError: Buffer;
}

/** The small HTML pages of the public routes, rendered once at start. */
export function renderStatusPages(views: Eta): StatusPages {
  const page = (code: number, title: string, message: string) =>
    Buffer.from(views.render('pages/status', { code, title, message }));
  return {
    notFound: page(404, 'Link not found', 'This short link does not exist. Check the address for typos.'),
    methodNotAllowed: page(405, 'Method not allowed', 'This address does not answer this kind of request.'),
    gone: page(410, 'Link no longer available', 'This short link has been disabled, has expired, or has reached its click limit.'),
    serverError: page(500, 'Something went wrong', 'The server could not complete the request. Try again in a moment.'),
  };
}

/** The page Express answers an error status with, if it has one (`gone` is the redirect path's). */
export function statusPageOf(pages: StatusPages, status: number): Buffer | undefined {
  if (status === 404) return pages.notFound;
  if (status === 405) return pages.methodNotAllowed;
  if (status >= 500) return pages.serverError;
  return undefined;
}

/** A status page on raw node:http (the redirect fast path), with the headers of every page. */
export function writeStatusPage(res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, {
    ...PAGE_SECURITY_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'content-length': body.length,
    'cache-control': 'private, max-age=0',
  });
  res.end(body);
}
