import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';

const INCOMING_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** One JSON line per request, with a request id (the caller's X-Request-Id when sane). */
export function requestLog(log: Logger, clientIp: (req: Request) => string) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && INCOMING_ID.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = id;
    res.setHeader('x-request-id', id);
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const status = res.statusCode;
      log[status >= 500 ? 'error' : 'info'](
        {
          reqId: id,
          method: req.method,
          path: req.originalUrl.split('?')[0],
          status,
          ms: Math.round(ms * 100) / 100,
          ip: clientIp(req),
          keyId: res.locals.principal?.keyId,
        },
        'request',
      );
    });
    next();
  };
}
