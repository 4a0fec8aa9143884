import express, { type Request } from 'express';
import type { KeyDeps } from '../../keys/keys.service.js';
import type { LinkDeps } from '../../links/links.service.js';
import { errors } from '../../lib/errors.js';
import { authenticate } from '../middleware/auth.js';
import { requireAllowedNetwork } from '../middleware/allowed-network.js';
import { apiRequestLog } from '../middleware/api-request-log.js';
import { refuseBrowserOrigins } from '../middleware/browser-origin.js';
import { idempotency } from '../middleware/idempotency.js';
import { jsonBody } from '../middleware/json-body.js';
import { rateLimit } from '../middleware/rate-limit.js';
import { bindAnalyticsApi } from './analytics.routes.js';
import { bindLinksApi } from './links.routes.js';
import { bindMeApi } from './me.routes.js';
import { bindWebhooksApi } from './webhooks.routes.js';
import type { AnalyticsDeps } from '../../analytics/stats.service.js';
import type { QrDeps } from '../../qr/qr.service.js';
import type { WebhookDeps } from '../../webhooks/webhooks.service.js';

export const BODY_LIMIT_BYTES = 64 * 1024;

/** /api/v1: authenticate, parse JSON, then the resource routes. */
export function bindApi(deps: KeyDeps & LinkDeps & QrDeps & AnalyticsDeps & WebhookDeps, clientIp: (req: Request) => string) {
  const router = express.Router();
  // Before anything else: a browser page of another site gets an explanation, not a key check.
  router.use(refuseBrowserOrigins());
  router.use(authenticate(deps, clientIp));
  // From here on the request belongs to a key: its log sees every answer, refusals included.
  router.use(apiRequestLog(deps, clientIp));
  router.use(requireAllowedNetwork(deps, clientIp));
  router.use(rateLimit(deps, 'key', clientIp));
  router.use(jsonBody(BODY_LIMIT_BYTES));
  router.use(idempotency(deps));
  bindMeApi(router, deps);
  bindLinksApi(router, deps);
  bindAnalyticsApi(router, deps);
  bindWebhooksApi(router, deps);
  router.use(() => {
    throw errors.routeNotFound();
  });
  return router;
}
