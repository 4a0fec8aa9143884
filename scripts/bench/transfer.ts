// Import and export at size, on one instance:
//  - import: N rows of LinkQR CSV (default 100,000) through the import job (parse, check every row,
//    create links with their link.created events, the per-row report), against raw INSERTs of
//    the same link rows in transactions of the same size, in the same run;
//  - export: the clicks of a range as CSV through the running server (GET /api/v1/clicks/export),
//    with the server's peak memory (VmHWM) before and after, against the number of clicks.
//   node --import tsx scripts/bench/transfer.ts                        (SQLite)
//   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx scripts/bench/transfer.ts
//   BENCH_ROWS (default 100,000), BENCH_CLICKS (default 1,000,000; 10,000,000 for the figure)
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { insertLink } from '../../src/links/links.repo.js';
import { newLinkRow } from '../../src/links/links.service.js';
import { processImport, startImport } from '../../src/imports/imports.service.js';
import { openStore } from '../../src/store.js';
import { TEST_OPERATOR } from '../../src/testing/harness.js';
import { createWorkspace } from '../../src/workspaces/workspaces.service.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const CLICKS = Number(process.env.BENCH_CLICKS ?? 1_000_000);
const server = process.env.BENCH_POSTGRES_URL;

async function database(): Promise<{ url?: string; drop(): Promise<void> }> {
  if (!server) return { drop: async () => {} };
  const name = `linkqr_bench_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: server });
    await c.connect();
    await c.query(sql).finally(() => c.end());
  };
  await admin(`create database ${name}`);
  const u = new URL(server);
  u.pathname = `/${name}`;
  return { url: u.href, drop: () => admin(`drop database if exists ${name} with (force)`) };
}

const envOf = (dataDir: string, url?: string): Record<string, string> => ({
  LINKQR_DATA_DIR: dataDir,
  LINKQR_LOG_LEVEL: 'warn',
  ...(url ? { LINKQR_DATABASE_URL: url, LINKQR_SECRET: 'benchmark-secret-not-for-production' } : {}),
});

async function importBench() {
  const dataDir = mkdtempSync(join(tmpdir(), 'linkqr-import-'));
  const db1 = await database();
  const store = await openStore(loadConfig(envOf(dataDir, db1.url)), { log: createLogger('warn'), applyPending: true });
  try {
    const deps = { db: store.db, clock: store.clock, baseUrl: () => 'https://go.example.com', importsChanged: () => {}, outboxChanged: () => {} };
    const workspace = await createWorkspace({ db: store.db, clock: store.clock }, TEST_OPERATOR, 'Import');
    const raw = await createWorkspace({ db: store.db, clock: store.clock }, TEST_OPERATOR, 'Raw');
    const lines = ['url,slug,title,tags'];
    for (let i = 0; i < ROWS; i++) lines.push(`https://example.com/products/${i}?ref=import,imp-${i},"Product ${i}, the one","import, bench"`);
    const data = `${lines.join('\n')}\n`;

    const started = performance.now();
    const job = await startImport(deps, workspace.id, TEST_OPERATOR, { format: 'csv', data });
    await store.db.exec("update imports set status = 'running' where id = ?", job.id);
    await processImport(deps, (await store.db.first(store.db.q.selectFrom('imports').selectAll().where('id', '=', job.id)))!);
    const importSeconds = (performance.now() - started) / 1000;
    const done = (await store.db.first(store.db.q.selectFrom('imports').selectAll().where('id', '=', job.id)))!;

    // The baseline: the same link rows, INSERTed 500 to a transaction, nothing else.
    const rawStarted = performance.now();
    const now = Date.now();
    for (let from = 0; from < ROWS; from += 500) {
      await store.db.write(async (t) => {
        for (let i = from; i < Math.min(ROWS, from + 500); i++) {
          await insertLink(t, newLinkRow(raw.id, TEST_OPERATOR, { url: `https://example.com/products/${i}?ref=import`, slug: `raw-${i}`, title: `Product ${i}, the one`, tags: ['import', 'bench'] }, now));
        }
      });
    }
    const rawSeconds = (performance.now() - rawStarted) / 1000;
    console.log(`import, ${server ? 'PostgreSQL' : 'SQLite'}, ${ROWS.toLocaleString('en-US')} rows (${(data.length / 1e6).toFixed(1)} MB of CSV):`);
    console.log(`  the import job (parse, checks, links + events + report): ${importSeconds.toFixed(1)} s, ${Math.round(ROWS / importSeconds).toLocaleString('en-US')} rows/s; created ${Number(done.created).toLocaleString('en-US')}, skipped ${done.skipped}`);
    console.log(`  raw INSERTs of the same link rows (500 a transaction)  : ${rawSeconds.toFixed(1)} s, ${Math.round(ROWS / rawSeconds).toLocaleString('en-US')} rows/s`);
    console.log(`  the import takes ${(importSeconds / rawSeconds).toFixed(2)}x the raw inserts' time`);
  } finally {
    await store.db.close();
    await db1.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The peak resident memory of a process so far, in MB (Linux). */
const peakMb = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

async function exportBench() {
  const dataDir = mkdtempSync(join(tmpdir(), 'linkqr-export-'));
  const db2 = await database();
  const env = { ...process.env, ...envOf(dataDir, db2.url) };
  try {
    const seedStarted = performance.now();
    execFileSync(process.execPath, ['--import', 'tsx', 'scripts/seed.ts', '--data-dir', dataDir, '--links', '2000', '--clicks', String(CLICKS), '--hot-link-clicks', String(Math.floor(CLICKS / 10)), '--days', '30'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    console.log(`export: seeded ${CLICKS.toLocaleString('en-US')} clicks over 30 days in ${((performance.now() - seedStarted) / 1000).toFixed(0)} s`);
    const key = execFileSync(process.execPath, ['bin/linkqr.cjs', 'key', 'create', '--workspace', 'Bench', '--name', 'bench', '--scopes', 'analytics:read'], { env }).toString().trim();
    const child = spawn(process.execPath, ['bin/linkqr.cjs', 'serve', '--port', '0'], { env: { ...env, LINKQR_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await new Promise<string>((resolve) => {
      let buffered = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const m = /"url":"(http:\/\/[^"]+)"/.exec(buffered);
        if (m) resolve(m[1]!);
      });
    });
    const before = peakMb(child.pid!);
    const started = performance.now();
    const res = await fetch(`${url}/api/v1/clicks/export?from=2000-01-01&to=2100-01-01`, { headers: { authorization: `Bearer ${key}` } });
    let bytes = 0;
    let lines = 0;
    for await (const chunk of res.body!) {
      bytes += chunk.length;
      for (const b of chunk) if (b === 10) lines++;
    }
    const seconds = (performance.now() - started) / 1000;
    const after = peakMb(child.pid!);
    child.kill('SIGTERM');
    console.log(`export, ${server ? 'PostgreSQL' : 'SQLite'}: ${(lines - 1).toLocaleString('en-US')} clicks, ${(bytes / 1e6).toFixed(0)} MB of CSV in ${seconds.toFixed(1)} s (${Math.round((lines - 1) / seconds).toLocaleString('en-US')} clicks/s)`);
    console.log(`  server peak RSS: ${before.toFixed(0)} MB before the export, ${after.toFixed(0)} MB after it (${(after / before).toFixed(2)}x)`);
  } finally {
    await db2.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main() {
  await importBench();
  if (CLICKS > 0) await exportBench();
}
main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
