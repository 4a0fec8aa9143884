// Redirect throughput with 1k links vs 1M links (every request a random slug of the set, so with
// 1M links most requests miss the in-memory cache and read SQLite). Target: within 10%.
//   npm run build && node scripts/bench/redirect-scale.mjs   (BENCH_DURATION, BENCH_ROUNDS, BENCH_CONNECTIONS)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BIN, BROWSER_UA, CONNECTIONS, DURATION, fmt, freePort, LOAD_CORE, median, ROOT, ROUNDS, startPinned } from './lib.mjs';

if (process.argv[2] === 'load') {
  // The load generator, on its own core: a random slug of the file's list per request.
  const { default: autocannon } = await import('autocannon');
  const [, , , url, slugFile] = process.argv;
  const slugs = (await import('node:fs')).readFileSync(slugFile, 'utf8').split('\n');
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION,
    headers: { 'user-agent': BROWSER_UA },
    requests: [{ setupRequest: (req) => ({ ...req, path: `/${slugs[Math.floor(Math.random() * slugs.length)]}` }) }],
  });
  process.stdout.write(JSON.stringify({ rps: result.requests.average, p99: result.latency.p99, redirects: result['3xx'], other: result.non2xx - result['3xx'], errors: result.errors }));
  process.exit(0);
}

async function setUp(linkCount) {
  const dataDir = mkdtempSync(join(tmpdir(), 'linkqr-scale-'));
  execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/seed.ts'), '--data-dir', dataDir, '--links', String(linkCount), '--clicks', '0'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    cwd: ROOT,
  });
  const db = new Database(join(dataDir, 'linkqr.db'), { readonly: true });
  const slugFile = join(dataDir, 'slugs.txt');
  writeFileSync(slugFile, db.prepare('select slug from links').pluck().all().join('\n'));
  db.close();
  return { dataDir, slugFile };
}

async function run({ dataDir, slugFile }) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startPinned([BIN, 'serve', '--port', String(port)], { LINKQR_DATA_DIR: dataDir, LINKQR_LOG_LEVEL: 'warn' }, `${url}/healthz`);
  const out = execFileSync('taskset', ['-c', LOAD_CORE, process.execPath, import.meta.filename, 'load', url, slugFile], { maxBuffer: 1 << 26 });
  await server.stop();
  return JSON.parse(out.toString());
}

const small = await setUp(1_000);
const large = await setUp(1_000_000);
const results = { small: [], large: [] };
for (let round = 1; round <= ROUNDS; round++) {
  for (const [name, set] of [['small', small], ['large', large]]) {
    const r = await run(set);
    results[name].push(r);
    console.log(`round ${round}: ${name === 'small' ? '1k links' : '1M links'} ${fmt(r.rps)} req/s, p99 ${r.p99} ms, ${fmt(r.redirects)} redirects, ${r.other} other, ${r.errors} errors`);
  }
}
const s = median(results.small.map((r) => r.rps));
const l = median(results.large.map((r) => r.rps));
console.log(`\nredirect scale, ${ROUNDS} rounds of ${DURATION}s, medians: 1k links ${fmt(s)} req/s | 1M links ${fmt(l)} req/s | ratio ${(l / s).toFixed(2)} (target >= 0.90)`);
for (const set of [small, large]) rmSync(set.dataDir, { recursive: true, force: true });
process.exitCode = l / s >= 0.9 && [...results.small, ...results.large].every((r) => r.other === 0 && r.errors === 0) ? 0 : 1;
