import type { NextFunction, Request, Response } from 'express';

/** STUB (issue 8, idempotency helper): replays the first response to a POST with the same Idempotency-Key. */
export function idempotency(_deps: unknown) {
  return (_req: Request, _res: Response, next: NextFunction) => next();
}
