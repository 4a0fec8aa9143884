import type { Selectable } from 'kysely';
import type { Db, Queries } from '../db/db.js';
import type { WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow } from '../db/schema.js';
import { type Clock, toIso } from '../lib/clock.js';
import { errors } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { enqueueEvent, type EventType } from '../outbox/events.js';
import { requirePlanFeature, requireWithinPlanLimit } from '../workspaces/plans.js';
import { changes, type ChangeContext, recordAudit } from '../audit/audit.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { DEFAULT_ROTATION_GRACE_MS } from '../secrets/rotation-grace.js';
import { openEndpointSecret, sealEndpointSecret } from './endpoint-secrets.js';
import type { CreateWebhookInput, UpdateWebhookInput } from './webhooks.schema.js';

export interface WebhookDeps {
  db: Db;
  clock: Clock;
  /** Why a URL may not receive webhooks (SSRF rules), or undefined when it may. Resolves names. */
  webhookUrlProblem(url: string): Promise<string | undefined>;
  generateSecret(): string;
  /** Seals signing secrets at rest. */
  secretBox: SecretBox;
  /** Called after a commit that added deliveries, or made waiting ones deliverable. */
  outboxChanged(): void;
  /** Called after a commit that deleted or disabled endpoints, or gave some a new URL (`pointedElsewhere`): their attempts in flight are cut off. */
  endpointsChanged(pointedElsewhere?: readonly string[]): void;
}

const DEFAULT_GRACE_SECONDS = DEFAULT_ROTATION_GRACE_MS / 1000;

/** Endpoint JSON: never the secret. */
export function presentEndpoint(row: WebhookEndpointRow) {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: JSON.parse(row.events) as EventType[],
    enabled: row.enabled === 1,
    disabledReason: row.disabled_reason,
    previousSecretExpiresAt: toIso(row.previous_secret_expires_at),
    // The at-rest key cannot open the secret (lost or changed): deliveries wait for a rotation.
    needsSecretRotation: row.secret_unreadable_since !== null,
    failingSince: toIso(row.failing_since),
    lastSuccessAt: toIso(row.last_success_at),
    createdAt: toIso(row.created_at)!,
    updatedAt: toIso(row.updated_at)!,
  };
}

export function presentDelivery(row: WebhookDeliveryRow & { type: string; payload: string }, attempts: Selectable<WebhookAttemptRow>[]) {
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    eventId: row.event_id,
    eventType: row.type,
    status: row.status,
    attemptCount: row.attempts,
    nextAttemptAt: row.status === 'pending' ? toIso(row.next_attempt_at) : null,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    redeliveryOf: row.redelivery_of,
    // The exact bytes receivers get.
    body: row.payload,
    attempts: attempts.map((a) => ({
      at: toIso(a.attempted_at)!,
      durationMs: a.duration_ms,
      outcome: a.outcome,
      statusCode: a.status_code,
      errorClass: a.error_class,
      errorDetail: a.error_detail,
      responseExcerpt: a.response_excerpt,
    })),
    createdAt: toIso(row.created_at)!,
    updatedAt: toIso(row.updated_at)!,
  };
}

const notFound = (id: string) => errors.notFound(`Webhook endpoint ${id}`);
const urlRefused = (reason: string) =>
  errors.validation([{ field: 'url', message: reason }], `This URL cannot receive webhooks: ${reason}`);

function findEndpoint(db: Queries, workspaceId: string, id: string) {
  return db.first(db.q.selectFrom('webhook_endpoints').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id));
}

export async function createWebhook(deps: WebhookDeps, workspaceId: string, ctx: ChangeContext, input: CreateWebhookInput) {
  await requirePlanFeature(deps.db, workspaceId, 'webhooks');
  const problem = await deps.webhookUrlProblem(input.url);
  if (problem) throw urlRefused(problem);
  const secret = deps.generateSecret();
  const now = deps.clock.now();
  const id = newId('whk', now);
  const row: WebhookEndpointRow = {
    id,
    workspace_id: workspaceId,
    url: input.url,
    description: input.description ?? '',
    events: JSON.stringify(input.events),
    enabled: input.enabled === false ? 0 : 1,
    disabled_reason: null,
    secret: sealEndpointSecret(deps.secretBox, id, 'secret', secret),
    previous_secret: null,
    previous_secret_expires_at: null,
    secret_unreadable_since: null,
    failing_since: null,
    last_success_at: null,
    created_at: now,
    updated_at: now,
  };
  await deps.db.write(async (t) => {
    const count = async () => (await t.row<{ n: number }>('select count(*) as n from webhook_endpoints where workspace_id = ?', workspaceId))!.n;
    await requireWithinPlanLimit(t, workspaceId, 'webhookEndpoints', count);
    await t.run(t.q.insertInto('webhook_endpoints').values(row));
    await recordAudit(t, ctx, {
      workspaceId,
      action: 'webhook.create',
      targetType: 'webhook_endpoint',
      targetId: row.id,
      summary: { url: row.url, events: input.events, description: row.description, enabled: row.enabled === 1 },
      at: now,
    });
  });
  // The only time the secret leaves the server.
  return { ...presentEndpoint(row), secret };
}

export async function listWebhooks(deps: WebhookDeps, workspaceId: string, q: { limit: number; after?: string | undefined }) {
  await requirePlanFeature(deps.db, workspaceId, 'webhooks');
  let query = deps.db.q.selectFrom('webhook_endpoints').selectAll().where('workspace_id', '=', workspaceId);
  if (q.after) query = query.where('id', '>', q.after);
  const rows = await deps.db.all(query.orderBy('id').limit(q.limit + 1));
  const page = rows.slice(0, q.limit);
  return { data: page.map(presentEndpoint), nextCursor: rows.length > q.limit ? page[page.length - 1]!.id : null };
}

export async function getWebhook(deps: WebhookDeps, workspaceId: string, id: string) {
  await requirePlanFeature(deps.db, workspaceId, 'webhooks');
  const row = await findEndpoint(deps.db, workspaceId, id);
  if (!row) throw notFound(id);
  return presentEndpoint(row);
}

export async function updateWebhook(deps: WebhookDeps, workspaceId: string, ctx: ChangeContext, id: string, input: UpdateWebhookInput) {
  await requirePlanFeature(deps.db, workspaceId, 'webhooks');
  if (input.url !== undefined) {
    const problem = await deps.webhookUrlProblem(input.url);
    if (problem) throw urlRefused(problem);
  }
  const now = deps.clock.now();
  const row = await deps.db.write(async (t) => {
    const before = await findEndpoint(t, workspaceId, id);
    if (!before) throw notFound(id);
    const patch: Partial<WebhookEndpointRow> = { updated_at: now };
    if (input.url !== undefined) patch.url = input.url;
    if (input.events !== undefined) patch.events = JSON.stringify(input.events);
    if (input.description !== undefined) patch.description = input.description;
    if (input.enabled !== undefined) {
      patch.enabled = input.enabled ? 1 : 0;
      // Enabling a disabled endpoint by hand clears LinkQR's reason and the failure streak: a
      // fresh start. Saving an enabled one with enabled: true (a form sends every field) is not
      // one, or editing the description would keep a dead endpoint from ever being disabled.
      if (input.enabled && before.enabled === 0) Object.assign(patch, { disabled_reason: null, failing_since: null });
    }
    await t.run(t.q.updateTable('webhook_endpoints').set(patch).where('id', '=', id));
    const after = (await findEndpoint(t, workspaceId, id))!;
    const changed = changes(presentEndpoint(before), presentEndpoint(after), ['url', 'events', 'description', 'enabled']);
    if (Object.keys(changed).length > 0) {
      await recordAudit(t, ctx, { workspaceId, action: 'webhook.update', targetType: 'webhook_endpoint', targetId: id, summary: changed, at: now });
    }
    return { after, pointedElsewhere: before.url !== after.url };
  });
  // Re-enabling makes its pending deliveries due again.
  if (input.enabled) deps.outboxChanged();
  if (input.enabled === false || row.pointedElsewhere) deps.endpointsChanged(row.pointedElsewhere ? [id] : []);
  return presentEndpoint(row.after);
}

export async function deleteWebhook(deps: WebhookDeps, workspaceId: string, ctx: ChangeContext, id: string) {
  await requirePlanFeature(deps.db, workspaceId, 'webhooks');
  await deps.db.write(async (t) => {
    const endpoint = await findEndpoint(t, workspaceId, id);
    if (!endpoint) throw notFound(id);
    await t.run(t.q.deleteFrom('webhook_endpoints').where('id', '=', id));
    await recordAudit(t, ctx, {
      workspaceId,
      action: 'webhook.delete',
      targetType: 'webhook_endpoint',
      targetId: id,
      summary: { url: endpoint.url },
      at: deps.clock.now(),
    });
  });
  deps.endpointsChanged();
}

/** Queues a webhook.test event to this endpoint only. */
export async function sendTestEvent(deps: WebhookDeps, workspaceId: string, id: string) {
  await requirePlanFeature(deps.db, workspaceId, 'webhooks');
  const now = deps.clock.now();
  const queued = await deps.db.write(async (t) => {
    const endpoint = await findEndpoint(t, workspaceId, id);
    if (!endpoint) throw notFound(id);
    if (endpoint.enabled !== 1) throw errors.conflict('webhook_disabled', 'The endpoint is disabled: enable it, then send the test again.');
    const data = { endpointId: id, message: 'A test event from LinkQR. If you can read this, the endpoint receives and verifies webhooks.' };
    const { eventId } = await enqueueEvent(t, { workspaceId, type: 'webhook.test', data, at: now, endpointId: id });
    const delivery = (await t.row<{ id: string }>('select id from webhook_deliveries where event_id = ?', eventId))!;
    return { eventId, deliveryId: delivery.id };
  });
  deps.outboxChanged();
  return queued;
}

/**
 * New secret; the old one keeps signing (a second signature) for `graceSeconds`. Also the repair
 * for a secret the at-rest key cannot open: that one cannot sign, so it gets no grace period, and
 * the deliveries that waited for a readable secret go out.
 */
export async function rotateWebhookSecret(deps: WebhookDeps, workspaceId: string, ctx: ChangeContext, id: string, graceSeconds = DEFAULT_GRACE_SECONDS) {
  await requirePlanFeature(deps.db, workspaceId, 'webhooks');
  const secret = deps.generateSecret();
  const now = deps.clock.now();
  const row = await deps.db.write(async (t) => {
    const before = await findEndpoint(t, workspaceId, id);
    if (!before) throw notFound(id);
    const old = openEndpointSecret(deps.secretBox, id, 'secret', before.secret);
    const grace = graceSeconds > 0 && old !== undefined;
    await t.run(
      t.q
        .updateTable('webhook_endpoints')
        .set({
          secret: sealEndpointSecret(deps.secretBox, id, 'secret', secret),
          previous_secret: grace ? sealEndpointSecret(deps.secretBox, id, 'previous_secret', old) : null,
          previous_secret_expires_at: grace ? now + graceSeconds * 1000 : null,
          secret_unreadable_since: null,
          updated_at: now,
        })
        .where('id', '=', id),
    );
    await recordAudit(t, ctx, {
      workspaceId,
      action: 'webhook.rotate_secret',
      targetType: 'webhook_endpoint',
      targetId: id,
      summary: { previousSecretValidUntil: toIso(grace ? now + graceSeconds * 1000 : now) },
      at: now,
    });
    return (await findEndpoint(t, workspaceId, id))!;
  });
  deps.outboxChanged();
  // Deliveries held ahead were read with the old secret: claimed again, they are signed with the new one.
  deps.endpointsChanged();
  return { ...presentEndpoint(row), secret };
}

async function attemptsOf(db: Queries, deliveryIds: string[]) {
  if (deliveryIds.length === 0) return new Map<string, Selectable<WebhookAttemptRow>[]>();
  const rows = await db.all(db.q.selectFrom('webhook_attempts').selectAll().where('delivery_id', 'in', deliveryIds).orderBy('id'));
  const byDelivery = new Map<string, Selectable<WebhookAttemptRow>[]>();
  for (const r of rows) byDelivery.set(r.delivery_id, [...(byDelivery.get(r.delivery_id) ?? []), r]);
  return byDelivery;
}

const deliveriesWithEvents = (db: Queries) =>
  db.q.selectFrom('webhook_deliveries as d').innerJoin('events as e', 'e.id', 'd.event_id').selectAll('d').select(['e.type', 'e.payload']);

/** Newest first, with their attempts. */
export async function listDeliveries(
  deps: WebhookDeps,
  workspaceId: string,
  endpointId: string,
  q: { limit: number; after?: string | undefined; status?: WebhookDeliveryRow['status'] | undefined },
) {
  await requirePlanFeature(deps.db, workspaceId, 'webhooks');
  if (!(await findEndpoint(deps.db, workspaceId, endpointId))) throw notFound(endpointId);
  let query = deliveriesWithEvents(deps.db).where('d.endpoint_id', '=', endpointId);
  if (q.after) query = query.where('d.id', '<', q.after);
  if (q.status) query = query.where('d.status', '=', q.status);
  const rows = await deps.db.all(query.orderBy('d.id', 'desc').limit(q.limit + 1));
  const page = rows.slice(0, q.limit);
  const attempts = await attemptsOf(deps.db, page.map((r) => r.id));
  return {
    data: page.map((r) => presentDelivery(r, attempts.get(r.id) ?? [])),
    nextCursor: rows.length > q.limit ? page[page.length - 1]!.id : null,
  };
}

/** Sends a delivery's event to its endpoint again, as a new delivery (same webhook-id). */
export async function redeliver(deps: WebhookDeps, workspaceId: string, deliveryId: string) {
  await requirePlanFeature(deps.db, workspaceId, 'webhooks');
  const now = deps.clock.now();
  const id = await deps.db.write(async (t) => {
    const original = await t.first(
      t.q.selectFrom('webhook_deliveries').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', deliveryId),
    );
    if (!original) throw errors.notFound(`Delivery ${deliveryId}`);
    const row: WebhookDeliveryRow = {
      id: newId('dlv', now),
      endpoint_id: original.endpoint_id,
      event_id: original.event_id,
      workspace_id: workspaceId,
      status: 'pending',
      attempts: 0,
      next_attempt_at: now,
      lease_until: null,
      last_status_code: null,
      last_error: null,
      redelivery_of: original.id,
      created_at: now,
      updated_at: now,
    };
    await t.run(t.q.insertInto('webhook_deliveries').values(row));
    return row.id;
  });
  deps.outboxChanged();
  const row = (await deps.db.first(deliveriesWithEvents(deps.db).where('d.id', '=', id)))!;
  return presentDelivery(row, []);
}

/** The workspace's event log, oldest first: `after` is the last id a consumer has seen. */
export async function listEvents(deps: { db: Queries }, workspaceId: string, q: { limit: number; after?: string | undefined; type?: EventType | undefined }) {
  await requirePlanFeature(deps.db, workspaceId, 'webhooks');
  let query = deps.db.q.selectFrom('events').select(['id', 'payload']).where('workspace_id', '=', workspaceId);
  if (q.after) query = query.where('id', '>', q.after);
  if (q.type) query = query.where('type', '=', q.type);
  const rows = await deps.db.all(query.orderBy('id').limit(q.limit + 1));
  const page = rows.slice(0, q.limit);
  return {
    data: page.map((r) => ({ id: r.id, ...(JSON.parse(r.payload) as object) })),
    nextCursor: rows.length > q.limit ? page[page.length - 1]!.id : null,
  };
}
