import type { Request, Response, Router } from 'express';
import { errors } from '../../lib/errors.js';
import {
  createWebhookBody,
  DELIVERY_ID,
  listDeliveriesQuery,
  listEventsQuery,
  listWebhooksQuery,
  rotateSecretBody,
  updateWebhookBody,
  WEBHOOK_ID,
} from '../../webhooks/webhooks.schema.js';
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listDeliveries,
  listEvents,
  listWebhooks,
  redeliver,
  rotateWebhookSecret,
  sendTestEvent,
  updateWebhook,
  type WebhookDeps,
} from '../../webhooks/webhooks.service.js';
import { can, changeOf, principalOf } from '../middleware/auth.js';
import { noQuery, parseInput } from '../middleware/validate.js';
import { sendJson } from './send-json.js';

const idOf = (raw: unknown, pattern: RegExp, what: string): string => {
  if (typeof raw !== 'string' || !pattern.test(raw)) throw errors.notFound(`${what} ${String(raw)}`);
  return raw;
};
const webhookId = (req: Request) => idOf(req.params.id, WEBHOOK_ID, 'Webhook endpoint');

export function bindWebhooksApi(router: Router, deps: WebhookDeps) {
  const read = can('webhooks.read');
  const write = can('webhooks.write');
  const ws = (res: Response) => principalOf(res).workspaceId;

  router.post('/webhooks', write, noQuery, async (req, res) => {
    const created = await createWebhook(deps, ws(res), changeOf(res), parseInput(createWebhookBody, req.body, 'body'));
    sendJson(res, 201, created, { location: `/api/v1/webhooks/${created.id}` });
  });
  router.get('/webhooks', read, async (req, res) => {
    sendJson(res, 200, await listWebhooks(deps, ws(res), parseInput(listWebhooksQuery, req.query, 'query')));
  });
  router.get('/webhooks/:id', read, noQuery, async (req, res) => {
    sendJson(res, 200, await getWebhook(deps, ws(res), webhookId(req)));
  });
  router.patch('/webhooks/:id', write, noQuery, async (req, res) => {
    const id = webhookId(req);
    sendJson(res, 200, await updateWebhook(deps, ws(res), changeOf(res), id, parseInput(updateWebhookBody, req.body, 'body')));
  });
  router.delete('/webhooks/:id', write, noQuery, async (req, res) => {
    await deleteWebhook(deps, ws(res), changeOf(res), webhookId(req));
    res.status(204).end();
  });
  router.post('/webhooks/:id/test', write, noQuery, async (req, res) => {
    sendJson(res, 202, await sendTestEvent(deps, ws(res), webhookId(req)));
  });
  router.post('/webhooks/:id/rotate-secret', write, noQuery, async (req, res) => {
    const id = webhookId(req);
    const body = parseInput(rotateSecretBody, req.body ?? {}, 'body');
    sendJson(res, 200, await rotateWebhookSecret(deps, ws(res), changeOf(res), id, body.graceSeconds));
  });
  router.get('/webhooks/:id/deliveries', read, async (req, res) => {
    const id = webhookId(req);
    sendJson(res, 200, await listDeliveries(deps, ws(res), id, parseInput(listDeliveriesQuery, req.query, 'query')));
  });
  router.post('/webhooks/deliveries/:id/redeliver', write, noQuery, async (req, res) => {
    sendJson(res, 202, await redeliver(deps, ws(res), idOf(req.params.id, DELIVERY_ID, 'Delivery')));
  });
  router.get('/events', read, async (req, res) => {
    sendJson(res, 200, await listEvents(deps, ws(res), parseInput(listEventsQuery, req.query, 'query')));
  });
}
