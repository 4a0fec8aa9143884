import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Metrics } from '../../metrics/metrics.js';
import { type KnownPath, routePatternOf } from '../allowed-methods.js';
import { loggedStatus, onResponseDone } from '../response-done.js';

const INCOMING_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Static files come with every admin page (CSS, scripts, icons): at info they would outnumber the
 * requests an operator reads the log for, so they are logged at debug (a failure still at error).
 */
// 503 is a state the server reports on purpose (storage unavailable, /readyz), logged once at
// error when it begins: each request that meets it is a warning, not a new error.
const levelOf = (path: string, status: number) =>
  status === 503 ? 'warn' : status >= 500 ? 'error' : path.startsWith('/public/') ? 'debug' : 'info';

/**
 * One log line per request (API and admin pages at info, static files at debug), with a request
 * id (the caller's X-Request-Id when sane), and its latency in the metrics under its route's full
 * pattern (`/api/v1/links/:id`), whether or not the route's handler ran (a 401, a 404 for an
 * unknown id); `unmatched` for paths no route has.
 * A request whose client went away before the answer was sent is logged too, with `aborted: true`.
 */
export function requestLog(log: Logger, clientIp: (req: Request) => string, metrics: Pick<Metrics, 'request'>, knownPaths: () => readonly KnownPath[]) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && INCOMING_ID.test(incoming) ? incoming : randomUUID();
    const ip = clientIp(req);
    res.locals.requestId = id;
    res.setHeader('x-request-id', id);
    onResponseDone(res, log, (finished) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const status = loggedStatus(res, finished);
      const path = req.originalUrl.split('?', 1)[0]!;
      metrics.request(routePatternOf(knownPaths(), path, req.method) ?? 'unmatched', req.method, status, ms / 1000);
      log[levelOf(path, status)](
        {
          reqId: id,
          method: req.method,
          path,
          status,
          ms: Math.round(ms * 100) / 100,
          ip,
          keyId: res.locals.principal?.keyId,
          ...(finished ? {} : { aborted: true }),
        },
        'request',
      );
    });
    next();
  };
}
