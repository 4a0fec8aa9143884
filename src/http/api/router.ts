import express, { type Request } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { KeyDeps } from '../../keys/keys.service.js';
import type { LinkDeps } from '../../links/links.service.js';
import { errors } from '../../lib/errors.js';
import { allowedMethods, routesOf } from '../allowed-methods.js';
import { authenticate } from '../middleware/auth.js';
import { requireAllowedNetwork } from '../middleware/allowed-network.js';
import { apiRequestLog } from '../middleware/api-request-log.js';
import { refuseBrowserOrigins } from '../middleware/browser-origin.js';
import { idempotency } from '../middleware/idempotency.js';
import { refuseAnnouncedTooLarge } from '../middleware/body.js';
import { jsonBody } from '../middleware/json-body.js';
import { noQuery } from '../middleware/validate.js';
import { type RateLimitDeps, rateLimit } from '../middleware/rate-limit.js';
import { bindAnalyticsApi } from './analytics.routes.js';
import { buildOpenApiDocument } from './openapi/document.js';
import { bindLinksApi } from './links.routes.js';
import { bindQrLogoApi } from './qr-logo.routes.js';
import { bindDomainsApi } from './domains.routes.js';
import { bindImportsApi } from './imports.routes.js';
import { type ImportDeps, MAX_IMPORT_BYTES } from '../../imports/imports.service.js';
import type { DomainDeps } from '../../domains/domains.service.js';
import { bindMeApi } from './me.routes.js';
import { bindWebhooksApi } from './webhooks.routes.js';
import type { AnalyticsDeps } from '../../analytics/stats.service.js';
import type { QrDeps } from '../../qr/qr.service.js';
import type { WebhookDeps } from '../../webhooks/webhooks.service.js';

export const BODY_LIMIT_BYTES = 64 * 1024;

/** An import carries a whole export file: its route alone takes up to MAX_IMPORT_BYTES. */
const bodyLimitOf = (req: Request) => (req.method === 'POST' && req.path === '/imports' ? MAX_IMPORT_BYTES : BODY_LIMIT_BYTES);

/** /api/v1: methods, the contract, then authenticate, log, check, limit, parse JSON, and the resource routes. */
export function bindApi(
  deps: KeyDeps & LinkDeps & DomainDeps & ImportDeps & QrDeps & AnalyticsDeps & WebhookDeps & RateLimitDeps & { log: Logger; config: Pick<Config, 'webhookRetrySchedule'> },
  clientIp: (req: Request) => string,
) {
  const router = express.Router();
  const limits = rateLimit(deps, clientIp);
  // A body announced too large is refused before anything else: no work is done for it.
  router.use(refuseAnnouncedTooLarge(bodyLimitOf));
  // Then, so that every other answer carries RateLimit headers and one without a valid key counts against the address.
  router.use(limits.perClientAddress);
  // Before any key check: a browser page of another site gets an explanation instead.
  router.use(refuseBrowserOrigins(deps));
  // A known path with another method: 405 (204 to OPTIONS) before any key is asked for.
  router.use(allowedMethods(() => routesOf(router)));
  // The contract needs no key (it holds no workspace data).
  let openApi: { baseUrl: string; json: string } | undefined;
  router.get('/openapi.json', noQuery, (_req, res) => {
    const baseUrl = deps.baseUrl();
    if (openApi?.baseUrl !== baseUrl) {
      openApi = { baseUrl, json: JSON.stringify(buildOpenApiDocument({ baseUrl, webhookRetrySchedule: deps.config.webhookRetrySchedule })) };
    }
    res.type('application/json').send(openApi.json);
  });
  router.use(authenticate(deps, clientIp));
  // From here on the request belongs to a key: its log sees every answer, refusals included.
  router.use(apiRequestLog(deps, clientIp));
  router.use(requireAllowedNetwork(clientIp));
  router.use(limits.perKey);
  // Their bodies are images, not JSON: before the JSON parser, which refuses other media types.
  bindQrLogoApi(router, deps);
  router.use(jsonBody(bodyLimitOf));
  router.use(idempotency(deps));
  bindMeApi(router, deps);
  bindLinksApi(router, deps);
  bindDomainsApi(router, deps);
  bindImportsApi(router, deps);
  bindAnalyticsApi(router, deps);
  bindWebhooksApi(router, deps);
  router.use(() => {
    throw errors.routeNotFound();
  });
  return router;
}
