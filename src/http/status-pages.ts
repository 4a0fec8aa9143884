import type { ServerResponse } from 'node:http';
import type { Eta } from 'eta';
import { PAGE_SECURITY_HEADERS } from './middleware/html-security.js';

export interface StatusPages {
  notFound: Buffer;
  gone: Buffer;
  serverError: Buffer;
}

/** The small HTML pages of the public routes, rendered once at start. */
export function renderStatusPages(views: Eta): StatusPages {
  const page = (code: number, title: string, message: string) =>
    Buffer.from(views.render('pages/status', { code, title, message }));
  return {
    notFound: page(404, 'Link not found', 'This short link does not exist. Check the address for typos.'),
    gone: page(410, 'Link no longer available', 'This short link has been disabled, has expired, or has reached its click limit.'),
    serverError: page(500, 'Something went wrong', 'The server could not complete the request. Try again in a moment.'),
  };
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
