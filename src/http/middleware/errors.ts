import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { storageProblem } from '../../db/storage-errors.js';
import { STORAGE_RETRY_SECONDS } from '../../db/storage-health.js';
import { AppError, errors } from '../../lib/errors.js';
import { lingerAfterRefusal } from './body.js';
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
 * The one place errors become responses: problem+json under /api, an HTML page elsewhere.
 * A write the disk refused (full, read-only, I/O error) is 503 storage_unavailable with
 * Retry-After: the same request works once the disk does (the storage health in db.ts logs the
 * cause once). Other unknown errors are logged with their cause and answered with a plain 500.
 */
export function errorHandler(log: Logger, pages: StatusPages) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const known =
      err instanceof AppError
        ? err
        : err instanceof URIError
          ? malformedPath()
          : storageProblem(err)
            ? errors.storageUnavailable(STORAGE_RETRY_SECONDS)
            : undefined;
    const e = known ?? new AppError(500, 'internal_error', 'Internal server error', 'Something went wrong on our side.');
    if (!known) log.error({ err, reqId: res.locals.requestId }, 'unhandled error');
    if (res.headersSent) return res.end();
    if (e.status === 413) lingerAfterRefusal(req);
    if (req.originalUrl.startsWith('/api/')) return problemJson(res, e);
    for (const [k, v] of Object.entries(e.headers ?? {})) res.setHeader(k, v);
    // An htmx form would drop a 5xx answer silently (views/layouts/admin.eta lets 503 through):
    // the page replaces the admin page's body, so the change visibly did not happen.
    if (e.code === 'storage_unavailable' && req.get('hx-request')) res.set({ 'hx-retarget': 'body', 'hx-reswap': 'innerHTML' });
    // A stricter referrer policy the route set already (setup: its URL carries the token) stays.
    const referrerPolicy = res.getHeader('referrer-policy') ?? PAGE_SECURITY_HEADERS['referrer-policy']!;
    res.status(e.status).set(PAGE_SECURITY_HEADERS).set('referrer-policy', String(referrerPolicy)).type('html').send(statusPageOf(pages, e));
  };
}
