// Click ingestion: how many clicks a second one instance writes (the click recorder: batched
// inserts plus the links' counters, monthly counts and rollups, one transaction a batch), against
// a raw multi-row INSERT loop into the same table, same batch size, in the same run.
//   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx scripts/bench/click-ingestion.ts
//   node --import tsx scripts/bench/click-ingestion.ts          (SQLite, for comparison)
//   BENCH_CLICKS (default 200,000), BENCH_LINKS (default 1,000)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ClickRecorder, type ClickInput } from '../../src/clicks/click-recorder.js';
import { loadConfig } from '../../src/config.js';
import type { Queries } from '../../src/db/db.js';
import { createLogger } from '../../src/lib/logger.js';
import { insertLink } from '../../src/links/links.repo.js';
import { newLinkRow } from '../../src/links/links.service.js';
import { openStore } from '../../src/store.js';
import { TEST_OPERATOR } from '../../src/testing/harness.js';
import { createWorkspace } from '../../src/workspaces/workspaces.service.js';

const CLICKS = Number(process.env.BENCH_CLICKS ?? 200_000);
const LINKS = Number(process.env.BENCH_LINKS ?? 1_000);
const BATCH = 2_000; // the recorder's default maxBatch
const server = process.env.BENCH_POSTGRES_URL;

const AGENT = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'linkqr-ingest-'));
  const name = `linkqr_bench_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: server });
    await c.connect();
    await c.query(sql).finally(() => c.end());
  };
  let url: string | undefined;
  if (server) {
    await admin(`create database ${name}`);
    const u = new URL(server);
    u.pathname = `/${name}`;
    url = u.href;
  }
  const log = createLogger('warn');
  const env: Record<string, string> = { LINKQR_DATA_DIR: dataDir, LINKQR_LOG_LEVEL: 'warn' };
  if (url) Object.assign(env, { LINKQR_DATABASE_URL: url, LINKQR_SECRET: 'benchmark-secret-not-for-production' });
  const store = await openStore(loadConfig(env), { log, applyPending: true });
  const { db } = store;
  try {
    const workspace = await createWorkspace({ db, clock: store.clock }, TEST_OPERATOR, 'Bench');
    const now = Date.now();
    const linkIds: string[] = [];
    await db.tx(async (t) => {
      for (let i = 0; i < LINKS; i++) {
        const row = newLinkRow(workspace.id, TEST_OPERATOR, { url: `https://example.com/${i}` }, now);
        await insertLink(t, row);
        linkIds.push(row.id);
      }
    });
    const click = (i: number): ClickInput => ({
      linkId: linkIds[i % LINKS]!,
      workspaceId: workspace.id,
      at: now + i,
      bot: false,
      qr: i % 4 === 0,
      referrer: i % 3 === 0 ? 'https://www.google.com/' : undefined,
      userAgent: AGENT,
      ip: `203.0.113.${i % 250}`,
    });

    // The recorder, fed as redirects would feed it: a batch's worth at a time, as fast as it writes.
    const salt = randomBytes(32);
    const recorder = new ClickRecorder({ db, log, visitorSalts: { saltFor: () => salt }, keepUserAgent: () => false });
    const recorderStart = performance.now();
    for (let i = 0; i < CLICKS; i++) {
      recorder.record(click(i));
      if (i % BATCH === BATCH - 1) {
        // Let the write run; keep at most a few batches waiting, as a busy instance would.
        while (recorder.depth > 4 * BATCH) await new Promise((resolve) => setTimeout(resolve, 1));
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    await recorder.close(10_000);
    const recorderSeconds = (performance.now() - recorderStart) / 1000;

    // The baseline: the same rows (visitor hash and classification aside, given), BATCH at a time,
    // one multi-row INSERT each, nothing else.
    const columns = ['link_id', 'workspace_id', 'clicked_at', 'bot', 'qr', 'referrer', 'referrer_host', 'user_agent', 'device', 'browser', 'os', 'ip_hash'];
    const rowOf = (c: ClickInput) => [c.linkId, c.workspaceId, c.at, 0, c.qr ? 1 : 0, c.referrer ?? null, c.referrer ? 'www.google.com' : null, null, 'mobile', 'Safari', 'iOS', 'x'.repeat(22)];
    const rawStart = performance.now();
    for (let from = 0; from < CLICKS; from += BATCH) {
      const rows = Array.from({ length: Math.min(BATCH, CLICKS - from) }, (_, k) => rowOf(click(CLICKS + from + k)));
      await db.tx((t: Queries) => rawInsert(t, columns, rows));
    }
    const rawSeconds = (performance.now() - rawStart) / 1000;
    const [{ n }] = (await db.rows<{ n: number }>('select count(*) as n from clicks')) as [{ n: number }];

    const recorderRate = CLICKS / recorderSeconds;
    const rawRate = CLICKS / rawSeconds;
    console.log(`click ingestion, ${url ? 'PostgreSQL' : 'SQLite'}, ${CLICKS.toLocaleString('en-US')} clicks over ${LINKS.toLocaleString('en-US')} links, batches of ${BATCH}:`);
    console.log(`  recorder (clicks + counters + rollups) : ${Math.round(recorderRate).toLocaleString('en-US')} clicks/s`);
    console.log(`  raw multi-row INSERT into clicks       : ${Math.round(rawRate).toLocaleString('en-US')} rows/s`);
    console.log(`  ratio                                  : ${(recorderRate / rawRate).toFixed(2)}x (goal >= 0.5x on PostgreSQL)`);
    console.log(`  rows in clicks                         : ${Number(n).toLocaleString('en-US')} (expected ${(2 * CLICKS).toLocaleString('en-US')})`);
    process.exitCode = Number(n) === 2 * CLICKS ? 0 : 1;
  } finally {
    await db.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (url) await admin(`drop database if exists ${name} with (force)`);
  }
}

/** One multi-row INSERT: VALUES lists on SQLite, the columns as arrays through unnest on PostgreSQL (as the recorder does). */
async function rawInsert(t: Queries, columns: string[], rows: unknown[][]) {
  if (t.dialect === 'postgres') {
    const types = ['text', 'text', 'bigint', 'smallint', 'smallint', 'text', 'text', 'text', 'text', 'text', 'text', 'text'];
    await t.exec(
      `insert into clicks (${columns.join(', ')}) select * from unnest(${types.map((ty) => `?::${ty}[]`).join(', ')})`,
      ...columns.map((_, i) => rows.map((r) => r[i])),
    );
    return;
  }
  // SQLite allows 32,766 parameters a statement: 2,000 rows of 12 in chunks of 500.
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    await t.exec(`insert into clicks (${columns.join(', ')}) values ${chunk.map(() => `(${columns.map(() => '?').join(', ')})`).join(', ')}`, ...chunk.flat());
  }
}

void main();
