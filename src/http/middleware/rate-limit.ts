import type { NextFunction, Request, Response } from 'express';

/** STUB (issue 8, rate-limit/origin helper): per key (after authenticate) or per client address (before). */
export function rateLimit(_deps: unknown, _by: 'key' | 'ip', _clientIp: (req: Request) => string) {
  return (_req: Request, _res: Response, next: NextFunction) => next();
}
