import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { AppError, errors } from '../../lib/errors.js';
import { type StatusPages, statusPageOf } from '../status-pages.js';
import { PAGE_SECURITY_HEADERS } from './html-security.js';

export function problemJson(res: Response, e: AppError) {
  for (const [k, v] of Object.entries(e.headers ?? {})) res.setHeader(k, v);
  res
    .status(e.status)
    .type('application/problem+json')
    .send(
      JSON.stringify({
        type: `/docs/api#problem-${e.code}`,
        title: e.title,
        status: e.status,
        detail: e.detail,
        code: e.code,
        ...e.extensions,
        ...(e.errors ? { errors: e.errors } : {}),
        ...(res.locals.requestId ? { requestId: res.locals.requestId } : {}),
      }),
    );
}

/** The router could not decode a path parameter (`/links/%FF`): the caller's mistake, not ours. */
const malformedPath = () =>
  errors.validation([{ field: 'path', message: 'is not valid percent-encoded UTF-8' }], 'The URL path is not valid percent-encoded UTF-8.');

/**
 * The one place errors become responses: problem+json under /api, elsewhere a status page (404,
 * 405, 500) or a line of text. Unknown errors are logged with their cause and answered 500.
 */
export function errorHandler(log: Logger, pages: StatusPages) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const known = err instanceof AppError ? err : err instanceof URIError ? malformedPath() : undefined;
    const e = known ?? new AppError(500, 'internal_error', 'Internal server error', 'Something went wrong on our side.');
    if (!known) log.error({ err, reqId: res.locals.requestId }, 'unhandled error');
    if (res.headersSent) return res.end();
    if (req.originalUrl.startsWith('/api/')) return problemJson(res, e);
    for (const [k, v] of Object.entries(e.headers ?? {})) res.setHeader(k, v);
    res.status(e.status);
    const page = statusPageOf(pages, e.status);
    if (page) return res.set(PAGE_SECURITY_HEADERS).type('html').send(page);
    res.type('text').send(e.detail);
  };
}
