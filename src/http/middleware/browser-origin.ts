import type { NextFunction, Request, Response } from 'express';

/** STUB (issue 8, rate-limit/origin helper): refuses requests a browser sent from another site. */
export function refuseBrowserOrigins() {
  return (_req: Request, _res: Response, next: NextFunction) => next();
}
