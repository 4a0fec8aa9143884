import type { ClickRecord } from '../clicks/clicks.repo.js';
import type { Dialect, Queries } from '../db/db.js';
import { newId } from '../lib/ids.js';
import { jsonFlagOn, jsonValuesOf } from '../db/dialect-sql.js';

export const EVENT_TYPES = ['link.created', 'link.updated', 'link.deleted', 'link.clicked', 'webhook.test'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** A workspace whose plan has the webhooks feature off keeps its event log but gets no deliveries. */
const webhooksFeatureOn = (d: Dialect) => jsonFlagOn(d, 'p.features', 'webhooks');

export interface NewEvent {
  workspaceId: string;
  type: EventType;
  data: unknown;
  at: number;
  /** Deliver to this endpoint only, subscribed or not (the "send test" button). */
  endpointId?: string;
}

/**
 * Adds an event to the outbox, with one delivery per enabled endpoint of the workspace that
 * subscribes to its type. Call it inside the transaction of the change that caused it, so the
 * event and its deliveries exist if and only if the change committed. The payload string built
 * here is the exact body receivers get, on every attempt.
 */
export async function enqueueEvent(db: Queries, e: NewEvent): Promise<{ eventId: string; deliveries: number }> {
  const eventId = newId('evt', e.at);
  const payload = JSON.stringify({ type: e.type, timestamp: new Date(e.at).toISOString(), data: e.data });
  await db.exec('insert into events (id, workspace_id, type, payload, created_at) values (?, ?, ?, ?, ?)', eventId, e.workspaceId, e.type, payload, e.at);
  const endpoints = e.endpointId
    ? await db.rows<{ id: string }>('select id from webhook_endpoints where id = ? and workspace_id = ?', e.endpointId, e.workspaceId)
    : await db.rows<{ id: string }>(
        `select e.id from webhook_endpoints e
           join workspaces w on w.id = e.workspace_id join plans p on p.id = w.plan_id
         where e.workspace_id = ? and e.enabled = 1 and ${webhooksFeatureOn(db.dialect)}
           and exists (select 1 from ${jsonValuesOf(db.dialect, 'e.events')} where value = ?)`,
        e.workspaceId,
        e.type,
      );
  for (const endpoint of endpoints) {
    await db.exec(
      `insert into webhook_deliveries (id, endpoint_id, event_id, workspace_id, status, attempts, next_attempt_at, created_at, updated_at)
       values (?, ?, ?, ?, 'pending', 0, ?, ?, ?)`,
      newId('dlv', e.at),
      endpoint.id,
      eventId,
      e.workspaceId,
      e.at,
      e.at,
      e.at,
    );
  }
  return { eventId, deliveries: endpoints.length };
}

/** Workspaces with at least one enabled endpoint subscribed to `type`. */
export async function workspacesSubscribedTo(db: Queries, type: EventType): Promise<Set<string>> {
  const rows = await db.rows<{ workspace_id: string }>(
    `select distinct e.workspace_id from webhook_endpoints e
       join workspaces w on w.id = e.workspace_id join plans p on p.id = w.plan_id
     where e.enabled = 1 and ${webhooksFeatureOn(db.dialect)}
       and exists (select 1 from ${jsonValuesOf(db.dialect, 'e.events')} where value = ?)`,
    type,
  );
  return new Set(rows.map((r) => r.workspace_id));
}

/**
 * `link.clicked` events for a batch of clicks, inside the batch's transaction. Only workspaces
 * with an endpoint subscribed to link.clicked get them: recording an event per click for
 * nobody would double the write load of every redirect. `presentLinkById` runs inside that
 * transaction too, so it reads through the same handle as `db`.
 */
export async function enqueueClickEvents(
  db: Queries,
  clicks: readonly ClickRecord[],
  presentLinkById: (linkId: string) => Promise<unknown>,
): Promise<number> {
  const subscribed = await workspacesSubscribedTo(db, 'link.clicked');
  if (subscribed.size === 0) return 0;
  const links = new Map<string, unknown>();
  let deliveries = 0;
  for (const c of clicks) {
    if (!subscribed.has(c.workspaceId)) continue;
    if (!links.has(c.linkId)) links.set(c.linkId, await presentLinkById(c.linkId));
    const link = links.get(c.linkId);
    if (link === undefined) continue; // deleted while its clicks waited in the buffer
    const click = {
      at: new Date(c.at).toISOString(),
      bot: c.bot,
      qr: c.qr,
      referrer: c.referrer,
      referrerHost: c.referrerHost,
      device: c.device,
      browser: c.browser,
      os: c.os,
      country: c.country,
      userAgent: c.userAgent,
    };
    deliveries += (await enqueueEvent(db, { workspaceId: c.workspaceId, type: 'link.clicked', data: { link, click }, at: c.at })).deliveries;
  }
  return deliveries;
}
