// Redirects while the retention job deletes a day's clicks, against the same redirects without it,
// in the same run (issue 17: the p99 during retention <= 2x the p99 without). Every redirect is a
// recorded click, spread uniformly over the seeded links. Phases: without, with (the job started
// as the load starts), without again; "without" is the worse of the two.
//   node --import tsx scripts/bench/retention-stall.ts
//   BENCH_RETENTION_DIR=/tmp/linkqr-stats-100m  a seeded SQLite data dir to use (stats.mjs's 100M
//     seed: a day is about 1.1M clicks); it loses its oldest day, so a second run finds less to delete
//   BENCH_RETENTION_DAYS the plan's retention (default: what takes the oldest whole day, and at
//     most two, from the seed's clicks)
//   BENCH_CLICKS (default 5,000,000) seeded over 91 days into a temporary data dir otherwise
//   BENCH_DURATION (seconds per phase, default 10)
//
// The server runs in this process, pinned to the server core, so that its retention job can be
// started by hand (it is hourly); the load generator (redirect-scale.mjs's) is a child on the load core.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createServer } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { openStore } from '../../src/store.js';
// @ts-expect-error: a plain ES module without types
import { BIN, DURATION, LOAD_CORE, ROOT, SERVER_CORE } from './lib.mjs';

async function main(): Promise<void> {
  const given = process.env.BENCH_RETENTION_DIR;
  const dataDir = given ?? mkdtempSync(join(tmpdir(), 'linkqr-retention-'));
  const clicks = Number(process.env.BENCH_CLICKS ?? 5_000_000);
  if (!existsSync(join(dataDir, 'linkqr.db'))) {
    console.log(`seeding ${clicks.toLocaleString('en-US')} clicks over 91 days into ${dataDir} …`);
    execFileSync(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'scripts/seed.ts'), '--data-dir', dataDir, '--clicks', String(clicks), '--hot-link-clicks', String(Math.round(clicks / 10)), '--links', '2000', '--days', '91'],
      { stdio: ['ignore', 'ignore', 'inherit'], cwd: ROOT },
    );
  }
  const cli = (...args: string[]) => execFileSync(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, LINKQR_DATA_DIR: dataDir } }).toString().trim();
  cli('migrate');
  // The seed's oldest day goes: by default the retention that takes at least one whole day and
  // less than two, whatever the seed's age (its clicks end when it ran) and whatever runs before
  // took; BENCH_RETENTION_DAYS sets it.
  const probe = new Database(join(dataDir, 'linkqr.db'), { readonly: true });
  const oldest = probe.prepare('select min(clicked_at) from clicks').pluck().get() as number;
  probe.close();
  const days = Number(process.env.BENCH_RETENTION_DAYS ?? Math.floor((Date.now() - oldest) / 86_400_000) - 1);
  cli('plan', 'upsert', 'Retention bench', '--limit', `analyticsRetentionDays=${days}`);
  cli('workspace', 'set-plan', 'Bench', 'Retention bench');

  const slugFile = join(dataDir, 'retention-slugs.txt');
  const sqlite = new Database(join(dataDir, 'linkqr.db'), { readonly: true });
  writeFileSync(slugFile, (sqlite.prepare('select slug from links').pluck().all() as string[]).join('\n'));
  const expiring = sqlite.prepare('select count(*) from clicks where clicked_at < ?').pluck().get(Date.now() - days * 86_400_000) as number;
  sqlite.close();

  execFileSync('taskset', ['-p', '-c', SERVER_CORE, String(process.pid)], { stdio: 'ignore' });
  const store = await openStore(loadConfig({ LINKQR_DATA_DIR: dataDir, LINKQR_LOG_LEVEL: 'warn', LINKQR_PORT: '0', LINKQR_HOST: '127.0.0.1' }), {
    log: createLogger('warn'),
    applyPending: true,
  });
  const server = await createServer(store, { jobs: false });
  const url = await server.listen();

  interface Load {
    rps: number;
    p99: number;
    max: number;
    redirects: number;
    other: number;
    errors: number;
  }
  /** One phase of uniform traffic from the load core; never blocks this process's event loop (the server's). */
  function load(): Promise<Load> {
    return new Promise((resolve, reject) => {
      const child = spawn('taskset', ['-c', LOAD_CORE, process.execPath, join(ROOT, 'scripts/bench/redirect-scale.mjs'), 'load', url, slugFile, 'uniform'], {
        env: { PATH: process.env.PATH, BENCH_DURATION: String(DURATION) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Load) : reject(new Error(`load generator exited ${code}`))));
    });
  }

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const line = (name: string, r: Load) => console.log(`  ${name.padEnd(18)} ${fmt(r.rps)} req/s, p99 ${r.p99} ms, max ${r.max} ms, ${fmt(r.redirects)} redirects, ${r.other} other, ${r.errors} errors`);

  try {
    const before = await load();
    const started = performance.now();
    let retentionMs = 0;
    const retention = server.scheduler.run('retention').then((outcome) => {
      retentionMs = performance.now() - started;
      return outcome;
    });
    const during = await load();
    const outcome = await retention;
    const after = await load();
    const without = Math.max(before.p99, after.p99);
    console.log(`\nretention stall, SQLite, ${fmt(expiring)} clicks older than ${days} days, ${DURATION} s per phase (every redirect a recorded click):`);
    line('without (before)', before);
    line('with retention', during);
    line('without (after)', after);
    console.log(`  retention job      ${outcome.status} in ${(retentionMs / 1000).toFixed(1)} s${outcome.status === 'ok' ? `: ${JSON.stringify(outcome.result)}` : ''}`);
    const ratio = during.p99 / without;
    console.log(`  p99 ratio          ${ratio.toFixed(2)}x the worse phase without (target <= 2x: ${ratio <= 2 ? 'met' : 'NOT met'})`);
    if (retentionMs / 1000 < DURATION / 2) console.log(`  note               the job took less than half the phase: its effect on the p99 is diluted`);
    process.exitCode = outcome.status === 'ok' && [before, during, after].every((r) => r.other === 0 && r.errors === 0) ? 0 : 1;
  } finally {
    await server.close();
    if (!given) rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
