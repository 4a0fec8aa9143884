import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { KeyDeps } from '../../keys/keys.service.js';
import { loggedStatus, onResponseDone } from '../response-done.js';

/**
 * Records each authenticated request in its key's log when the answer has been sent: refusals
 * further down (network, rate limit, scope, validation) included. Only the method, the path
 * without its query string, the status, the time taken, the client address and the request id
 * are kept; never the query, the body or the Authorization header.
 */
export function apiRequestLog(deps: Pick<KeyDeps, 'clock' | 'apiRequests'> & { log: Logger }, clientIp: (req: Request) => string) {
  return (req: Request, res: Response, next: NextFunction) => {
    const recorder = deps.apiRequests;
    const principal = res.locals.principal;
    if (!recorder || !principal) return next();
    const at = deps.clock.now();
    const started = performance.now();
    const ip = clientIp(req);
    onResponseDone(res, deps.log, (finished) => {
      recorder.record({
        keyId: principal.keyId,
        workspaceId: principal.workspaceId,
        at,
        method: req.method,
        path: req.originalUrl.split('?', 1)[0]!,
        status: loggedStatus(res, finished),
        durationMs: performance.now() - started,
        ip,
        requestId: res.locals.requestId ?? null,
      });
    });
    next();
  };
}
