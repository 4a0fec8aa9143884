import type { NextFunction, Request, Response } from 'express';

/** STUB (issue 8, request-log/CIDR helper): 403 ip_not_allowed outside the key's allowed CIDRs. */
export function requireAllowedNetwork(_deps: unknown, _clientIp: (req: Request) => string) {
  return (_req: Request, _res: Response, next: NextFunction) => next();
}
