import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import type { Db, Queries } from '../db/db.js';
import { deleteIdempotencyRecordsBefore, IDEMPOTENCY_WINDOW_MS } from '../idempotency/idempotency.repo.js';
import { deleteRequestsBefore, REQUEST_LOG_RETENTION_MS } from '../keys/request-log.js';
import { DAY_MS, ROLLUP_FACETS } from '../clicks/rollups.js';
import { deleteEndedSalts } from '../clicks/visitor-salts.js';
import { DRY_RUN_KEPT_MS } from '../imports/imports.service.js';
import { encodeBase62 } from '../lib/base62.js';
import { deleteExpired as deleteExpiredSessions } from '../sessions/sessions.service.js';
import type { Job, JobContext } from './schedule.js';
import { greatest, jsonNumber, jsonValuesParam } from '../db/dialect-sql.js';

/**
 * Plan limit, a key of the `plans.limits` JSON: clicks older than this many days (a positive
 * integer) are deleted by this job. A plan without the key keeps clicks forever.
 */
export const ANALYTICS_RETENTION_DAYS = 'analyticsRetentionDays';

/**
 * Rows deleted per transaction. Each one holds the event loop (and redirects) while it runs: a
 * few ms on a small database, 80 ms on average over 100M clicks (a day's clicks are spread over
 * the pages of that day, a page holding many links' clicks), so the job rests as long after each
 * (pause()): it takes at most half of the server's time however large the database. Measured
 * there, deleting a day of 1.1M clicks: redirects went on at 7,841 req/s instead of 525 (11,449
 * without the job), the job took 57 s instead of 19. Chunks of 1,000 were no better (p99 227
 * against 218 ms): the WAL checkpoints the job's writes bring are the longer waits.
 */
const CHUNK = 5_000;

/** After a transaction that began at `startedAt` (performance.now()): as long again for everything else. */
async function pause(startedAt: number, signal: AbortSignal): Promise<void> {
  const took = performance.now() - startedAt;
  await (took >= 1 ? sleep(Math.min(took, 1_000)) : nextTurn());
  signal.throwIfAborted();
}
/** Links looked at between two turns of the event loop. */
const LINKS_PER_TURN = 1_000;

export const retentionJob: Job = {
  name: 'retention',
  cron: () => '30 * * * *',
  async run(ctx) {
    // Each step on its own: one that fails (a table the database refuses to delete from) is
    // logged and the others still run, above all the visitor salts' and the sessions'. The run
    // then fails, naming the steps, and the next hour tries them again. Stopping ends the run at
    // the next chunk of a long step, as before.
    const failed: string[] = [];
    const step = async <T>(name: string, fn: () => Promise<T>, none: T): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        ctx.log.error({ err, step: name }, 'a step of the retention job failed; the others go on');
        failed.push(name);
        return none;
      }
    };
    // First, so that a day's visitor salt goes within the hour after the day ends, whatever else fails.
    const visitorSalts = await step('visitor salts', () => deleteEndedSalts(ctx.db, ctx.clock.now()), 0);
    const expiredClicks = await step('expired clicks', () => deleteExpiredClicks(ctx), 0);
    const orphanClicks = await step('clicks of deleted links', () => deleteOrphanClicks(ctx), 0);
    const rollupRows = await step('rollups', () => deleteRollups(ctx), 0);
    const { deliveries, events } = await step('webhook deliveries and events', () => deleteOldOutbox(ctx), { deliveries: 0, events: 0 });
    const auditEntries = await step('audit log', () => deleteOldAudit(ctx), 0);
    const expiredSessions = await step('sessions', () => deleteExpiredSessions(ctx), 0);
    const idempotencyRecords = await step('idempotency records', () => deleteOldIdempotencyRecords(ctx), 0);
    const apiRequests = await step('API request log', () => deleteOldApiRequests(ctx), 0);
    const imports = await step('imports', () => deleteOldImports(ctx), 0);
    const result = { expiredClicks, orphanClicks, rollupRows, deliveries, events, auditEntries, expiredSessions, idempotencyRecords, apiRequests, visitorSalts, imports };
    if (failed.length > 0) {
      // What the other steps did is said too (a failed step's own count reads 0).
      ctx.log.warn({ ...result, failed }, 'the retention job did all but the failed steps');
      throw new Error(`the retention job could not delete: ${failed.join(', ')} (logged above); the rest was done`);
    }
    return result;
  },
};

/** Clicks older than the analytics retention of their workspace's plan. */
async function deleteExpiredClicks(ctx: JobContext): Promise<number> {
  const { db, signal } = ctx;
  const cutoffs = await retentionCutoffs(ctx);
  if (cutoffs.size === 0) return 0;
  const deleter = new ChunkedDelete(db, signal);
  let after = '';
  for (;;) {
    const links = await db.all(
      db.q
        .selectFrom('links')
        .innerJoin('workspaces', 'workspaces.id', 'links.workspace_id')
        .select(['links.id as id', 'workspaces.plan_id as planId'])
        .where('workspaces.plan_id', 'in', [...cutoffs.keys()])
        .where('links.id', '>', after)
        .orderBy('links.id')
        .limit(LINKS_PER_TURN),
    );
    for (const link of links) {
      const cutoff = cutoffs.get(link.planId)!;
      await deleter.collect((limit) => db.rows(`SELECT ${CLICK_REF[db.dialect]} FROM clicks WHERE link_id = ? AND clicked_at < ? LIMIT ?`, link.id, cutoff, limit));
    }
    if (links.length < LINKS_PER_TURN) break;
    after = links[links.length - 1]!.id;
    await nextTurn();
    signal.throwIfAborted();
  }
  return deleter.finish();
}

/** Plan id → time before which clicks go, for the plans that limit retention. */
async function retentionCutoffs({ db, clock, log }: JobContext): Promise<Map<string, number>> {
  const cutoffs = new Map<string, number>();
  for (const plan of await db.all(db.q.selectFrom('plans').select(['id', 'name', 'limits']))) {
    let days: unknown;
    try {
      days = (JSON.parse(plan.limits) as Record<string, unknown>)[ANALYTICS_RETENTION_DAYS];
    } catch {
      days = 'unreadable limits';
    }
    if (days === undefined) continue;
    if (!Number.isSafeInteger(days) || (days as number) < 1) {
      // Deleting analytics on a misread setting cannot be undone: keep them and say why.
      log.warn({ plan: plan.name, [ANALYTICS_RETENTION_DAYS]: days }, 'plan retention is not a positive number of days; its clicks are kept');
      continue;
    }
    cutoffs.set(plan.id, clock.now() - (days as number) * DAY_MS);
  }
  return cutoffs;
}

/**
 * Clicks of links that no longer exist (deleting a link, or its workspace, leaves its clicks
 * behind on purpose: see the clicks table). Walks the distinct link ids of the clicks index one
 * seek at a time instead of scanning every click.
 */
async function deleteOrphanClicks(ctx: JobContext): Promise<number> {
  const { db } = ctx;
  const deleter = new ChunkedDelete(db, ctx.signal);
  for await (const linkId of deletedLinksIn(ctx, 'clicks')) {
    await deleter.collect((limit) => db.rows(`SELECT ${CLICK_REF[db.dialect]} FROM clicks WHERE link_id = ? LIMIT ?`, linkId, limit));
  }
  return deleter.finish();
}

/**
 * The link ids in `table` (indexed by link_id first) whose link no longer exists: the distinct
 * ids are walked one index seek at a time, with a turn of the event loop every LINKS_PER_TURN.
 */
async function* deletedLinksIn({ db, signal }: JobContext, table: 'clicks' | 'click_rollups' | 'workspace_link_days'): AsyncGenerator<string> {
  const nextLinkId = `select link_id from ${table} where link_id > ? order by link_id limit 1`;
  let after = '';
  for (let seen = 1; ; seen++) {
    const row = await db.row<{ link_id: string }>(nextLinkId, after);
    if (!row) return;
    after = row.link_id;
    if (!(await db.row('select 1 from links where id = ?', after))) yield after;
    if (seen % LINKS_PER_TURN === 0) {
      await nextTurn();
      signal.throwIfAborted();
    }
  }
}

/**
 * The analytics rollups follow the clicks: days wholly before a workspace's retention cutoff
 * (rollups keep whole days, by day or by hour, so a day goes once all of it is past), and every
 * row of links that no longer exist. CHUNK rows per transaction.
 */
async function deleteRollups(ctx: JobContext): Promise<number> {
  const { db } = ctx;
  let deleted = 0;
  // Every facet named, so each link's rows are read as index ranges by (link, facet, day)
  // instead of all its history ('all' too: an older instance left running after migration 0023
  // may still write its day totals here).
  const expiredRollups = `delete from click_rollups where (link_id, facet, day, value) in (
       select link_id, facet, day, value from click_rollups
       where link_id in (select value from ${jsonValuesParam(db.dialect)}) and facet in (${ROLLUP_FACETS.map((f) => `'${f}'`).join(', ')}) and day < ?
       limit ?)`;
  // The workspace's own rollups, by its primary key: rows of a workspace before a time.
  const expiredOf = (table: string, key: string, at: string) =>
    `delete from ${table} where (${key}) in (select ${key} from ${table} where workspace_id = ? and ${at} < ? limit ?)`;
  const expiredWorkspaceRollups = [
    expiredOf('workspace_click_hours', 'workspace_id, hour', 'hour'),
    expiredOf('workspace_click_country_hours', 'workspace_id, hour, country', 'hour'),
    expiredOf('workspace_click_country_days', 'workspace_id, day, country', 'day'),
    expiredOf('workspace_link_days', 'workspace_id, day, link_id', 'day'),
  ];
  const rollupsOfLink = `delete from click_rollups where (link_id, facet, day, value) in (
       select link_id, facet, day, value from click_rollups where link_id = ? and facet = ? limit ?)`;
  for (const [planId, cutoff] of await retentionCutoffs(ctx)) {
    // The day the cutoff falls in is kept whole, by day and by hour: its hours stay with its day
    // rows, so a summary reading that day whole counts what its hours count.
    const firstKept = cutoff - (cutoff % DAY_MS);
    const workspaces = await db.all(db.q.selectFrom('workspaces').select('id').where('plan_id', '=', planId));
    for (const { id: workspaceId } of workspaces) {
      for (const expired of expiredWorkspaceRollups) {
        deleted += await inChunks(ctx, async (t) => (await t.exec(expired, workspaceId, firstKept, CHUNK)).changes);
      }
      const linkIds = (await db.rows<{ id: string }>('select id from links where workspace_id = ?', workspaceId)).map((r) => r.id);
      for (let i = 0; i < linkIds.length; i += LINKS_PER_TURN) {
        const links = JSON.stringify(linkIds.slice(i, i + LINKS_PER_TURN));
        deleted += await inChunks(ctx, async (t) => (await t.exec(expiredRollups, links, firstKept, CHUNK)).changes);
      }
    }
  }
  for await (const linkId of deletedLinksIn(ctx, 'click_rollups')) {
    for (const facet of ROLLUP_FACETS) {
      deleted += await inChunks(ctx, async (t) => (await t.exec(rollupsOfLink, linkId, facet, CHUNK)).changes);
    }
  }
  // Deleted links' day totals, walked in their own table: a run stopped between the two tables
  // leaves none behind.
  const linkDaysOfLink = `delete from workspace_link_days where (workspace_id, day, link_id) in (
       select workspace_id, day, link_id from workspace_link_days where link_id = ? limit ?)`;
  for await (const linkId of deletedLinksIn(ctx, 'workspace_link_days')) {
    deleted += await inChunks(ctx, async (t) => (await t.exec(linkDaysOfLink, linkId, CHUNK)).changes);
  }
  return deleted;
}

/**
 * What finds a click again to delete it. SQLite: its id, the rowid. PostgreSQL: clicks have no
 * primary key there (migrations/postgres/0021), so a click is its row's place (ctid, read by a
 * TID scan) and its id, checked as well: a row that moved between the read and the delete (an
 * operator's VACUUM FULL or CLUSTER), or whose place a new click took, is neither deleted nor
 * lets the click now in that place be deleted for it.
 */
export const CLICK_REF = { sqlite: 'id', postgres: 'ctid::text as ctid, id' } as const;
interface ClickRef {
  id: number;
  ctid?: string;
}

/**
 * Gathers clicks and deletes them CHUNK at a time, one transaction per chunk, leaving the event
 * loop as long again after each (pause()) so redirects and API writes go on during a large delete.
 */
export class ChunkedDelete {
  private pending: ClickRef[] = [];
  private deleted = 0;

  constructor(
    private readonly db: Db,
    private readonly signal: AbortSignal,
  ) {}

  /** Takes the clicks `select(room)` returns until it returns fewer than `room`: it has no more. */
  async collect(select: (room: number) => Promise<ClickRef[]>): Promise<void> {
    for (;;) {
      const room = CHUNK - this.pending.length;
      const found = await select(room);
      this.pending.push(...found);
      if (found.length < room) return;
      await this.flush();
    }
  }

  /** Deletes what is still pending; returns how many clicks were deleted in all. */
  async finish(): Promise<number> {
    await this.flush();
    return this.deleted;
  }

  private async flush() {
    if (this.pending.length === 0) return;
    const refs = this.pending;
    this.pending = [];
    const startedAt = performance.now();
    const { changes } = await this.db.tx((t) =>
      t.dialect === 'postgres'
        ? t.exec(
            // Each place with its own id: a nested loop of TID scans, one row read per click.
            'DELETE FROM clicks c USING unnest(cast(? as tid[]), cast(? as bigint[])) AS r (place, id) WHERE c.ctid = r.place AND c.id = r.id',
            refs.map((r) => r.ctid),
            refs.map((r) => r.id),
          )
        : t.exec(`DELETE FROM clicks WHERE id IN (SELECT cast(value as bigint) FROM ${jsonValuesParam(t.dialect)})`, JSON.stringify(refs.map((r) => r.id))),
    );
    this.deleted += changes;
    await pause(startedAt, this.signal);
  }
}

/** How long the event log and finished webhook deliveries (with their attempts) are kept. */
export const OUTBOX_RETENTION_MS = 30 * DAY_MS;

/**
 * Finished deliveries (and their attempts) and events older than OUTBOX_RETENTION_MS. An event
 * still waiting on a delivery stays. Ids sort by creation time, so `id < cutoff` walks the
 * primary key instead of scanning.
 */
async function deleteOldOutbox({ db, clock, signal }: JobContext): Promise<{ deliveries: number; events: number }> {
  const cutoff = encodeBase62(Math.max(0, clock.now() - OUTBOX_RETENTION_MS), 8);
  const deleteDeliveries = `delete from webhook_deliveries where id in (
       select id from webhook_deliveries where id < ? and status != 'pending' limit ${CHUNK})`;
  const deleteEvents = `delete from events where id in (
       select e.id from events e where e.id < ?
         and not exists (select 1 from webhook_deliveries d where d.event_id = e.id and d.status = 'pending')
       limit ${CHUNK})`;
  const deliveries = await inChunks({ db, signal }, async (t) => (await t.exec(deleteDeliveries, `dlv_${cutoff}`)).changes);
  const events = await inChunks({ db, signal }, async (t) => (await t.exec(deleteEvents, `evt_${cutoff}`)).changes);
  return { deliveries, events };
}

/** The audit log is kept at least a year, longer when the plan keeps analytics longer. */
export const MIN_AUDIT_RETENTION_DAYS = 365;

async function deleteOldAudit({ db, clock }: JobContext): Promise<number> {
  const now = clock.now();
  // Workspaces whose plan keeps analytics longer than a year keep their audit log as long.
  const { changes } = await db.tx((t) =>
    t.exec(
      // The first condition uses the created_at index; only entries past a year are looked at further.
      `delete from audit_log where created_at < ? and created_at < ? - ${greatest(t.dialect, '?', `coalesce((
         select ${jsonNumber(t.dialect, 'p.limits', ANALYTICS_RETENTION_DAYS)} from workspaces w join plans p on p.id = w.plan_id
         where w.id = audit_log.workspace_id), 0)`)} * ${DAY_MS}`,
      now - MIN_AUDIT_RETENTION_DAYS * DAY_MS,
      now,
      MIN_AUDIT_RETENTION_DAYS,
    ),
  );
  return changes;
}

/** Idempotency records past their 24 hours (SPEC §4): no request can replay them any more. */
async function deleteOldIdempotencyRecords({ db, clock, signal }: JobContext): Promise<number> {
  const cutoff = clock.now() - IDEMPOTENCY_WINDOW_MS;
  return inChunks({ db, signal }, (t) => deleteIdempotencyRecordsBefore(t, cutoff, CHUNK));
}

/** Entries of the API keys' request log past their 30 days (api_request_log_by_time finds them). */
async function deleteOldApiRequests({ db, clock, signal }: JobContext): Promise<number> {
  const cutoff = clock.now() - REQUEST_LOG_RETENTION_MS;
  return inChunks({ db, signal }, (t) => deleteRequestsBefore(t, cutoff, CHUNK));
}

/** How long a finished import and its per-row report are kept (the links it made stay, of course). */
export const IMPORT_RETENTION_MS = 30 * DAY_MS;

/** Imports finished more than 30 days ago: their report rows a chunk at a time, then the imports themselves. */
async function deleteOldImports({ db, clock, signal }: JobContext): Promise<number> {
  // A check's file (up to 64 MB) is kept DRY_RUN_KEPT_MS, to be run for real; the check itself as long as any import.
  await db.exec('delete from import_files where import_id in (select id from imports where dry_run = 1 and finished_at < ?)', clock.now() - DRY_RUN_KEPT_MS);
  const old = `select id from imports where finished_at < ?`;
  const cutoff = clock.now() - IMPORT_RETENTION_MS;
  await inChunks({ db, signal }, async (t) =>
    (await t.exec(`delete from import_rows where (import_id, line) in (select import_id, line from import_rows where import_id in (${old}) limit ${CHUNK})`, cutoff)).changes,
  );
  return (await db.exec(`delete from imports where id in (${old})`, cutoff)).changes;
}

/**
 * Runs `deleteChunk` (which deletes at most CHUNK rows, through the transaction it is given) in
 * its own transaction until it deletes fewer, with a turn of the event loop between chunks;
 * returns how many rows went.
 */
async function inChunks(
  { db, signal }: Pick<JobContext, 'db' | 'signal'>,
  deleteChunk: (t: Queries) => Promise<number>,
): Promise<number> {
  let total = 0;
  for (;;) {
    const startedAt = performance.now();
    const n = await db.tx(deleteChunk);
    total += n;
    if (n < CHUNK) return total;
    await pause(startedAt, signal);
  }
}
