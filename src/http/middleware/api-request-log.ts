import type { NextFunction, Request, Response } from 'express';

/** STUB (issue 8, request-log/CIDR helper): records each authenticated request in the key's log. */
export function apiRequestLog(_deps: unknown, _clientIp: (req: Request) => string) {
  return (_req: Request, _res: Response, next: NextFunction) => next();
}
