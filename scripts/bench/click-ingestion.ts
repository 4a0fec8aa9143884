// Click ingestion: how many clicks a second one instance writes (the click recorder: batched
// inserts plus the links' counters and monthly counts, one transaction a batch, and the batches'
// rollups applied about once a second; the time runs until every one is applied), against
// raw INSERT loops into the same table, same batch size, in the same run (three forms on PostgreSQL).
//   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx scripts/bench/click-ingestion.ts
//   node --import tsx scripts/bench/click-ingestion.ts          (SQLite, for comparison)
//   BENCH_CLICKS (default 200,000), BENCH_LINKS (default 1,000), BENCH_ADDRESSES=documentation (see below)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ClickRecorder, type ClickInput } from '../../src/clicks/click-recorder.js';
import { loadConfig } from '../../src/config.js';
import type { Queries } from '../../src/db/db.js';
import { pgJsonRows } from '../../src/db/dialect-sql.js';
import { createLogger } from '../../src/lib/logger.js';
import { diskAssets } from '../../src/lib/assets.js';
import { createCountryLookup } from '../../src/geo/country-lookup.js';
import { insertLink } from '../../src/links/links.repo.js';
import { newLinkRow } from '../../src/links/links.service.js';
import { openStore } from '../../src/store.js';
import { TEST_OPERATOR } from '../../src/testing/harness.js';
import { createWorkspace } from '../../src/workspaces/workspaces.service.js';

const CLICKS = Number(process.env.BENCH_CLICKS ?? 200_000);
const LINKS = Number(process.env.BENCH_LINKS ?? 1_000);
const BATCH = 2_000; // the recorder's default maxBatch
const DOCUMENTATION_ADDRESSES = process.env.BENCH_ADDRESSES === 'documentation';
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
      // Public addresses of many networks, so each click's country is looked up as a visitor's
      // would be; BENCH_ADDRESSES=documentation: 203.0.113.x, which has none (no lookup, one facet row).
      ip: DOCUMENTATION_ADDRESSES ? `203.0.113.${i % 250}` : `${23 + (i % 190)}.${(i * 7) % 256}.${(i * 13) % 256}.${1 + (i % 250)}`,
    });

    // The recorder, fed as redirects would feed it: a batch's worth at a time, as fast as it writes.
    const salt = randomBytes(32);
    const countries = createCountryLookup({ assets: diskAssets() });
    const recorder = new ClickRecorder({ db, log, visitorSalts: { saltFor: () => salt }, keepUserAgent: () => false, countryOf: (ip) => countries.country(ip) });
    const recorderStart = performance.now();
    for (let i = 0; i < CLICKS; i++) {
      recorder.record(click(i));
      if (i % BATCH === BATCH - 1) {
        // Let the write run; keep at most a few batches waiting, as a busy instance would.
        while (recorder.depth > 4 * BATCH) await new Promise((resolve) => setTimeout(resolve, 1));
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    // Every click written and every batch's rollups applied (close alone bounds its apply to 2 s).
    await recorder.flush();
    const recorderSeconds = (performance.now() - recorderStart) / 1000;
    await recorder.close(10_000);
    const rolledUp = await db.row<{ total: number | null; pending: number }>(
      'select (select sum(total) from workspace_link_days) as total, (select count(*) from pending_rollups) as pending',
    );

    // The baselines: the same rows (visitor hash and classification aside, given), BATCH at a time,
    // one INSERT each, nothing else. The goal's is the plain multi-row INSERT (a VALUES list); on
    // PostgreSQL the rows also go in as one array per column (unnest, what the recorder used to do)
    // and as one JSON parameter (what it does now), the fastest way measured here.
    const columns = ['link_id', 'workspace_id', 'clicked_at', 'bot', 'qr', 'referrer', 'referrer_host', 'user_agent', 'device', 'browser', 'os', 'ip_hash', 'country'];
    const rowOf = (c: ClickInput) => [c.linkId, c.workspaceId, c.at, 0, c.qr ? 1 : 0, c.referrer ?? null, c.referrer ? 'www.google.com' : null, null, 'mobile', 'Safari', 'iOS', 'x'.repeat(22), 'US'];
    // Each run starts from an empty clicks table, as the recorder's did: a bigger table (and index)
    // makes every insert dearer, and would favour whichever ran first.
    const count = async () => Number((await db.rows<{ n: number }>('select count(*) as n from clicks'))[0]!.n);
    const counts = [await count()];
    const forms: RawForm[] = url ? ['values', 'unnest', 'json'] : ['values'];
    const rates: { form: RawForm; rate: number }[] = [];
    for (const form of forms) {
      await db.exec(url ? 'truncate clicks' : 'delete from clicks');
      const rawStart = performance.now();
      for (let from = 0; from < CLICKS; from += BATCH) {
        const rows = Array.from({ length: Math.min(BATCH, CLICKS - from) }, (_, k) => rowOf(click(from + k)));
        await db.tx((t: Queries) => rawInsert(t, form, columns, rows));
      }
      rates.push({ form, rate: CLICKS / ((performance.now() - rawStart) / 1000) });
      counts.push(await count());
    }
    const recorderRate = CLICKS / recorderSeconds;
    const label = { values: 'multi-row INSERT … VALUES', unnest: 'INSERT, one array a column (unnest)', json: 'INSERT, the rows as one JSON parameter' };
    console.log(`click ingestion, ${url ? 'PostgreSQL' : 'SQLite'}, ${CLICKS.toLocaleString('en-US')} clicks over ${LINKS.toLocaleString('en-US')} links, batches of ${BATCH}:`);
    console.log(`  recorder (clicks + counters + rollups)   : ${Math.round(recorderRate).toLocaleString('en-US')} clicks/s`);
    for (const { form, rate } of rates) {
      const goal = form === 'values' ? ' (goal >= 0.5x on PostgreSQL)' : '';
      console.log(`  raw ${label[form].padEnd(37)}: ${Math.round(rate).toLocaleString('en-US')} rows/s, recorder ${(recorderRate / rate).toFixed(2)}x${goal}`);
    }
    console.log(`  rows in clicks after each run            : ${counts.map((c) => c.toLocaleString('en-US')).join(', ')} (expected ${CLICKS.toLocaleString('en-US')} each)`);
    console.log(`  clicks in the day rollups, batches pending: ${Number(rolledUp?.total ?? 0).toLocaleString('en-US')}, ${Number(rolledUp?.pending)} (expected ${CLICKS.toLocaleString('en-US')}, 0)`);
    process.exitCode = counts.every((c) => c === CLICKS) && Number(rolledUp?.total) === CLICKS && Number(rolledUp?.pending) === 0 ? 0 : 1;
  } finally {
    await db.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (url) await admin(`drop database if exists ${name} with (force)`);
  }
}

type RawForm = 'values' | 'unnest' | 'json';
const TYPES = ['text', 'text', 'bigint', 'smallint', 'smallint', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text'] as const;

/** One INSERT of the rows, in the given form. */
async function rawInsert(t: Queries, form: RawForm, columns: string[], rows: unknown[][]) {
  const into = `insert into clicks (${columns.join(', ')})`;
  if (form === 'unnest') {
    await t.exec(`${into} select * from unnest(${TYPES.map((ty) => `?::${ty}[]`).join(', ')})`, ...columns.map((_, i) => rows.map((r) => r[i])));
  } else if (form === 'json') {
    await t.exec(`${into} select * from ${pgJsonRows('r', Object.fromEntries(columns.map((c, i) => [c, TYPES[i]!])))}`, JSON.stringify(rows));
  } else {
    // SQLite allows 32,766 parameters a statement, PostgreSQL 65,535: 2,000 rows of 12 in chunks of 500 on SQLite.
    const chunk = t.dialect === 'postgres' ? rows.length : 500;
    const row = `(${TYPES.map((ty) => (t.dialect === 'postgres' ? `?::${ty}` : '?')).join(', ')})`;
    for (let i = 0; i < rows.length; i += chunk) {
      const part = rows.slice(i, i + chunk);
      await t.exec(`${into} values ${part.map(() => row).join(', ')}`, ...part.flat());
    }
  }
}

void main();
