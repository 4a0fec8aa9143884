import express, { type NextFunction, type Request, type Response } from 'express';
import type { KeyDeps } from '../../keys/keys.service.js';
import type { LinkDeps } from '../../links/links.service.js';
import { errors } from '../../lib/errors.js';
import { authenticate } from '../middleware/auth.js';
import { bindLinksApi } from './links.routes.js';
import { bindMeApi } from './me.routes.js';

export const BODY_LIMIT = '64kb';

const JSON_TYPE = /^application\/json\s*(;|$)/i;

/** Bodies are JSON or nothing; anything else is refused before it reaches a handler. */
function requireJsonBody(req: Request, _res: Response, next: NextFunction) {
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (hasBody && !JSON_TYPE.test(req.headers['content-type'] ?? '')) throw errors.unsupportedMediaType();
  next();
}

/** /api/v1: authenticate, parse JSON, then the resource routes. */
export function bindApi(deps: KeyDeps & LinkDeps, clientIp: (req: Request) => string) {
  const router = express.Router();
  router.use(authenticate(deps, clientIp));
  // strict: false parses any JSON value, so `42` is reported as "not an object" rather than as bad JSON.
  router.use(requireJsonBody, express.json({ limit: BODY_LIMIT, type: 'application/json', strict: false }));
  bindMeApi(router, deps);
  bindLinksApi(router, deps);
  router.use(() => {
    throw errors.routeNotFound();
  });
  return router;
}
