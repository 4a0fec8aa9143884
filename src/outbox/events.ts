import type { Db } from '../db/db.js';
import { newId } from '../lib/ids.js';

export const EVENT_TYPES = ['link.created', 'link.updated', 'link.deleted', 'link.clicked', 'webhook.test'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * Adds an event to the outbox. Call it inside the transaction of the change that caused it,
 * so the event exists if and only if the change committed. The payload string built here is
 * the exact body receivers will get.
 */
export function enqueueEvent(db: Db, e: { workspaceId: string; type: EventType; data: unknown; at: number }): string {
  const id = newId('evt', e.at);
  const payload = JSON.stringify({ type: e.type, timestamp: new Date(e.at).toISOString(), data: e.data });
  db.stmt('insert into events (id, workspace_id, type, payload, created_at) values (?, ?, ?, ?, ?)').run(id, e.workspaceId, e.type, payload, e.at);
  return id;
}
