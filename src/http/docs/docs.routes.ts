import type { Express } from 'express';
import type { Eta } from 'eta';
import type { Config } from '../../config.js';
import { buildOpenApiDocument } from '../api/openapi/document.js';
import { adminSecurityHeaders } from '../middleware/html-security.js';
import { apiDocsView, inlineCode } from './api-docs.js';

/** /docs/api: the API reference, rendered on the server from the OpenAPI document (no CDN, no script). */
export function bindDocs(app: Express, deps: { views: Eta; baseUrl(): string; config: Pick<Config, 'webhookRetrySchedule'> }) {
  let cached: { baseUrl: string; html: string } | undefined;
  app.get('/docs/api', adminSecurityHeaders, (_req, res) => {
    const baseUrl = deps.baseUrl();
    if (cached?.baseUrl !== baseUrl) {
      const view = apiDocsView(buildOpenApiDocument({ baseUrl, webhookRetrySchedule: deps.config.webhookRetrySchedule }));
      cached = { baseUrl, html: deps.views.render('pages/docs/api', { ...view, md: inlineCode }) };
    }
    res.type('html').send(cached.html);
  });
}
