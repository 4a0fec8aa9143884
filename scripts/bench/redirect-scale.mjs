// Redirect throughput with 1k links vs 1M links in the database, every redirect a recorded click.
// Links are ranked newest first (new links are the ones being shared). Three traffic shapes:
//   hotset   the 1,000 newest links, equally likely: what the size of the database costs
//            (target: 1M links within 10% of 1k links)
//   zipf     over all links, the k-th newest getting traffic ∝ 1/k: with 1M links, half of the
//            requests go to the long tail beyond the newest 1,000
//   uniform  over all links: the worst case, each click touching cold pages (its link's counters,
//            index entry and rollup rows) and most lookups missing the cache
// Each run also reports the server's peak RSS and its redirect cache's hit rate (from /metrics).
//   npm run build && node scripts/bench/redirect-scale.mjs   (BENCH_DURATION, BENCH_ROUNDS, BENCH_CONNECTIONS, BENCH_TRAFFIC,
//    BENCH_SERVER_NODE_OPTIONS e.g. --cpu-prof)
//   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres: on PostgreSQL instead, each seed
//    copied into a fresh database (linkqr copy-database, then VACUUM ANALYZE), dropped at the end
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { benchDatabase, BIN, BROWSER_UA, CONNECTIONS, DURATION, fmt, freePort, LOAD_CORE, median, ROOT, ROUNDS, startPinned } from './lib.mjs';

if (process.argv[2] === 'load') {
  // The load generator, on its own core: a random slug of the file's list per request.
  const { default: autocannon } = await import('autocannon');
  const [, , , url, slugFile, traffic = 'uniform'] = process.argv;
  const slugs = (await import('node:fs')).readFileSync(slugFile, 'utf8').split('\n');
  const n = traffic === 'hotset' ? Math.min(1_000, slugs.length) : slugs.length;
  const pick = traffic === 'zipf' ? zipfPicker(n) : () => Math.floor(Math.random() * n);
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION,
    headers: { 'user-agent': BROWSER_UA },
    requests: [{ setupRequest: (req) => ({ ...req, path: `/${slugs[pick()]}` }) }],
  });
  process.stdout.write(JSON.stringify({ rps: result.requests.average, p99: result.latency.p99, max: result.latency.max, redirects: result['3xx'], other: result.non2xx - result['3xx'], errors: result.errors }));
  process.exit(0);
}

/** Indexes 0…n-1 with P(k) ∝ 1/(k+1): a cumulative table and a binary search. */
function zipfPicker(n) {
  const cumulative = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cumulative[k] = sum += 1 / (k + 1);
  return () => {
    const x = Math.random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

async function setUp(linkCount) {
  const dataDir = mkdtempSync(join(tmpdir(), 'linkqr-scale-'));
  execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/seed.ts'), '--data-dir', dataDir, '--links', String(linkCount), '--clicks', '0'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    cwd: ROOT,
  });
  const db = new Database(join(dataDir, 'linkqr.db'), { readonly: true });
  const slugFile = join(dataDir, 'slugs.txt');
  writeFileSync(slugFile, db.prepare('select slug from links order by id desc').pluck().all().join('\n'));
  db.close();
  // BENCH_POSTGRES_URL: the same links in a PostgreSQL database of their own, analyzed as an operator would after the move.
  const database = await benchDatabase();
  if (database.url) {
    const started = performance.now();
    execFileSync(process.execPath, [BIN, 'copy-database', '--to', database.url], {
      env: { PATH: process.env.PATH, LINKQR_DATA_DIR: dataDir, ...database.env, LINKQR_DATABASE_URL: '' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query('vacuum analyze');
    await client.end();
    console.log(`${fmt(linkCount)} links copied to PostgreSQL and analyzed in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  return { dataDir, slugFile, database };
}

async function run({ dataDir, slugFile, database }, traffic) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = { LINKQR_DATA_DIR: dataDir, LINKQR_LOG_LEVEL: 'warn', ...database.env, ...(process.env.BENCH_SERVER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS } : {}) };
  const server = await startPinned([BIN, 'serve', '--port', String(port)], env, `${url}/healthz`);
  const out = execFileSync('taskset', ['-c', LOAD_CORE, process.execPath, import.meta.filename, 'load', url, slugFile, traffic], { maxBuffer: 1 << 26 });
  // taskset execs node: the child's pid is the server's. VmHWM: the peak resident set so far.
  const peakRssMb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))[1]) / 1024;
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const cache = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  const hits = cache('linkqr_redirect_cache_requests_total\\{result="hit"\\}');
  const misses = cache('linkqr_redirect_cache_requests_total\\{result="miss"\\}');
  await server.stop();
  return { ...JSON.parse(out.toString()), peakRssMb, hitRate: hits / (hits + misses), cacheEntries: cache('linkqr_redirect_cache_entries') };
}

const small = await setUp(1_000);
const large = await setUp(1_000_000);
const TRAFFIC = (process.env.BENCH_TRAFFIC ?? 'hotset,zipf,uniform').split(',');
const results = {};
for (let round = 1; round <= ROUNDS; round++) {
  for (const traffic of TRAFFIC) {
    for (const [name, set] of [['1k links', small], ['1M links', large]]) {
      const r = await run(set, traffic);
      (results[`${traffic} ${name}`] ??= []).push(r);
      console.log(
        `round ${round}: ${traffic.padEnd(7)} ${name} ${fmt(r.rps)} req/s, p99 ${r.p99} ms, ${fmt(r.redirects)} redirects, ${r.other} other, ${r.errors} errors; ` +
          `peak RSS ${fmt(r.peakRssMb)} MB, redirect cache ${(r.hitRate * 100).toFixed(1)}% hits, ${fmt(r.cacheEntries)} entries`,
      );
    }
  }
}
console.log(`\nredirect scale on ${process.env.BENCH_POSTGRES_URL ? 'PostgreSQL' : 'SQLite'}, ${ROUNDS} rounds of ${DURATION}s, medians (every redirect a recorded click):`);
let ok = Object.values(results).every((rs) => rs.every((r) => r.other === 0 && r.errors === 0));
for (const traffic of TRAFFIC) {
  const s = median(results[`${traffic} 1k links`].map((r) => r.rps));
  const l = median(results[`${traffic} 1M links`].map((r) => r.rps));
  const rss = Math.max(...results[`${traffic} 1M links`].map((r) => r.peakRssMb));
  console.log(`  ${traffic.padEnd(7)}: 1k links ${fmt(s)} req/s | 1M links ${fmt(l)} req/s | ratio ${(l / s).toFixed(2)}${traffic === 'hotset' ? ' (target >= 0.90)' : ''} | peak RSS at 1M links ${fmt(rss)} MB`);
  if (traffic === 'hotset') ok &&= l / s >= 0.9;
}
for (const set of [small, large]) {
  await set.database.drop();
  rmSync(set.dataDir, { recursive: true, force: true });
}
process.exitCode = ok ? 0 : 1;
