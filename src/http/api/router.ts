import express, { type Request } from 'express';
import type { KeyDeps } from '../../keys/keys.service.js';
import type { LinkDeps } from '../../links/links.service.js';
import { errors } from '../../lib/errors.js';
import { authenticate } from '../middleware/auth.js';
import { jsonBody } from '../middleware/json-body.js';
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
  router.use(authenticate(deps, clientIp));
  router.use(jsonBody(BODY_LIMIT_BYTES));
  bindMeApi(router, deps);
  bindLinksApi(router, deps);
  bindAnalyticsApi(router, deps);
  bindWebhooksApi(router, deps);
  router.use(() => {
    throw errors.routeNotFound();
  });
  return router;
}
