import type { ServerResponse } from 'node:http';
import type { Eta } from 'eta';
import { PAGE_SECURITY_HEADERS } from './middleware/html-security.js';

export interface StatusPages {
  notFound: Buffer;
  methodNotAllowed: Buffer;
  gone: Buffer;
  serverError: Buffer;
  /** Any other status, for refusals outside the API (a form body too large, say). */
  render(code: number, title: string, message: string): Buffer;
  /** 503: the database cannot be written right now (a short link with a click limit, an admin change). */
  unavailable: Buffer;
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
    render: page,
    unavailable: page(503, 'Temporarily unavailable', 'The server cannot write to its database right now, so this request was not carried out. Try again in a few seconds.'),
  };
}

/** The page Express answers a refusal or failure with outside the API (the redirect path has its own). */
export function statusPageOf(pages: StatusPages, e: { status: number; code: string; title: string; detail: string }): Buffer {
  if (e.status === 404) return pages.notFound;
  if (e.status === 405) return pages.methodNotAllowed;
  if (e.code === 'storage_unavailable') return pages.unavailable;
  if (e.status >= 500) return pages.serverError;
  return pages.render(e.status, e.title, e.detail);
}

/** A status page on raw node:http (the redirect fast path), with the headers of every page. */
export function writeStatusPage(res: ServerResponse, status: number, body: Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...PAGE_SECURITY_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'content-length': body.length,
    'cache-control': 'private, max-age=0',
    ...headers,
  });
  res.end(body);
}
