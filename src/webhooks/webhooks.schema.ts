import * as z from 'zod';
import { cursorParam, limitParam } from '../lib/pagination.js';
import { patchOf } from '../lib/request-schemas.js';
import { EVENT_TYPES } from '../outbox/events.js';

/**
 * The scheme is what JSON Schema can say of a webhook URL (the OpenAPI document carries it); the
 * rest (https unless inside LINKQR_WEBHOOK_ALLOWED_CIDRS, an address webhooks may reach) is
 * checked by the service on save and is a rule the document lists.
 */
const url = z
  .string()
  .min(1, 'is required')
  // Empty passes here: one message, from min(), for an empty URL.
  .regex(/^(?:$|\s*[Hh][Tt][Tt][Pp][Ss]?:)/, 'must start with https:// (or http:// for a receiver inside LINKQR_WEBHOOK_ALLOWED_CIDRS)')
  .max(2048, 'must be at most 2048 characters')
  .trim()
  .meta({ examples: ['https://hooks.example.com/linkqr'] });
const events = z
  .array(z.enum(EVENT_TYPES, { message: `must be one of ${EVENT_TYPES.join(', ')}` }))
  .min(1, 'subscribe to at least one event')
  .transform((list) => [...new Set(list)]);
const description = z.string().max(500, 'must be at most 500 characters').trim();

export const createWebhookBody = z.strictObject({
  url,
  events,
  description: description.optional(),
  enabled: z.boolean().optional(),
});
export type CreateWebhookInput = z.output<typeof createWebhookBody>;

export const updateWebhookBody = patchOf(createWebhookBody);
export type UpdateWebhookInput = z.output<typeof updateWebhookBody>;

export const MAX_GRACE_SECONDS = 7 * 86_400;
export const rotateSecretBody = z.strictObject({
  graceSeconds: z.number().int('must be an integer').min(0).max(MAX_GRACE_SECONDS, 'must be at most 604800 (7 days)').optional(),
});

export const WEBHOOK_ID = /^whk_[0-9A-Za-z]{20}$/;
export const DELIVERY_ID = /^dlv_[0-9A-Za-z]{20}$/;
export const EVENT_ID = /^evt_[0-9A-Za-z]{20}$/;


export const listWebhooksQuery = z.strictObject({ limit: limitParam, after: cursorParam(WEBHOOK_ID).optional() });
export const listDeliveriesQuery = z.strictObject({
  limit: limitParam,
  after: cursorParam(DELIVERY_ID).optional(),
  status: z.enum(['pending', 'succeeded', 'failed']).optional(),
});
export const listEventsQuery = z.strictObject({
  limit: limitParam,
  after: cursorParam(EVENT_ID).optional(),
  type: z.enum(EVENT_TYPES).optional(),
});
