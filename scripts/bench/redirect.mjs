// Redirect throughput with click recording, against a bare node:http 302 server measured in the
// same run. Server on one core, load generator on the other. Target: >= 0.7x the baseline.
//   npm run build && node scripts/bench/redirect.mjs     (BENCH_DURATION, BENCH_ROUNDS, BENCH_CONNECTIONS, BENCH_WARMUP)
// Each server first takes BENCH_WARMUP seconds (default 2; 0: none) of the same load, not measured:
// the measure is the steady state, not a fresh server's first seconds (code V8 has not optimized
// yet; on PostgreSQL, a new database's first statements and cold caches).
// BENCH_MAX_CLICKS=N gives the link a maxClicks (far above what the run and its warm-up reach): every human
// click of such a link is written before its redirect is answered (src/http/redirect.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { autocannon, BROWSER_UA, DURATION, fmt, median, ROUNDS, startBare302, startLinkqr } from './lib.mjs';

const MAX_CLICKS = process.env.BENCH_MAX_CLICKS ? Number(process.env.BENCH_MAX_CLICKS) : undefined;
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
if (!(WARMUP >= 0)) throw new Error(`BENCH_WARMUP must be seconds (0: none), not ${process.env.BENCH_WARMUP}`);
/** autocannon's result of the warm-up, or undefined without one. */
const warmUp = (url) => (WARMUP > 0 ? autocannon(url, { headers: { 'user-agent': BROWSER_UA }, duration: WARMUP }) : undefined);

/** User + system CPU seconds of these processes so far (Linux /proc; 0 for a process gone). */
function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {}
  }
  return ticks / 100; // USER_HZ
}

/** The PostgreSQL server's processes on this machine (the benchmark's database is local). */
const postgresPids = () => (process.env.BENCH_POSTGRES_URL ? readdirSync('/proc').filter((p) => /^\d+$/.test(p) && commOf(p) === 'postgres') : []);
const commOf = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

const bare = [];
const linkqr = [];
let recordedOk = true;

for (let round = 1; round <= ROUNDS; round++) {
  const b = await startBare302();
  warmUp(`${b.url}/abc1234`);
  const bareCpuBefore = cpuSeconds([b.child.pid]);
  const br = autocannon(`${b.url}/abc1234`, { headers: { 'user-agent': BROWSER_UA } });
  const bareCpu = cpuSeconds([b.child.pid]) - bareCpuBefore;
  await b.stop();
  bare.push({ rps: br.requests.average, p99: br.latency.p99, perRequest: (bareCpu * 1e6) / br.requests.total });

  const l = await startLinkqr();
  const created = await fetch(`${l.url}/api/v1/links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${l.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'https://example.com/landing', ...(MAX_CLICKS ? { maxClicks: MAX_CLICKS } : {}) }),
  }).then((r) => r.json());
  const warm = warmUp(`${l.url}/${created.slug}`);
  const cpuBefore = { linkqr: cpuSeconds([l.child.pid]), postgres: cpuSeconds(postgresPids()) };
  const lr = autocannon(`${l.url}/${created.slug}`, { headers: { 'user-agent': BROWSER_UA } });
  const cpu = { linkqr: cpuSeconds([l.child.pid]) - cpuBefore.linkqr, postgres: cpuSeconds(postgresPids()) - cpuBefore.postgres };
  // autocannon counts completed responses; every one of them was a redirect and must be a stored click.
  const redirects = lr['3xx'];
  await new Promise((r) => setTimeout(r, 200)); // the last batch is written
  const after = await fetch(`${l.url}/api/v1/links/${created.id}`, { headers: { authorization: `Bearer ${l.key}` } }).then((r) => r.json());
  await l.stop();
  // The link's clicks are the warm-up's and the measured run's.
  const recorded = after.clicks - (warm?.['3xx'] ?? 0);
  recordedOk &&= recorded >= redirects && lr.non2xx === redirects && lr.errors === 0 && (!warm || (warm.non2xx === warm['3xx'] && warm.errors === 0));
  // CPU time per redirect: LinkQR's own (one core, so 1 / its share is the most it could answer)
  // and, on PostgreSQL, the database server's (writing the clicks), which takes one of the two
  // cores' time from LinkQR or from the load generator.
  const perRedirect = { linkqr: (cpu.linkqr * 1e6) / lr.requests.total, postgres: (cpu.postgres * 1e6) / lr.requests.total };
  linkqr.push({ rps: lr.requests.average, p99: lr.latency.p99, redirects, recorded, perRedirect });

  console.log(
    `round ${round}: bare ${fmt(br.requests.average)} req/s (p99 ${br.latency.p99} ms) | linkqr ${fmt(lr.requests.average)} req/s ` +
      `(p99 ${lr.latency.p99} ms), ${fmt(redirects)} redirects, ${fmt(recorded)} clicks recorded; CPU per redirect: linkqr ${perRedirect.linkqr.toFixed(1)} µs` +
      (l.databaseUrl ? `, PostgreSQL ${perRedirect.postgres.toFixed(1)} µs` : ''),
  );
}

const ratio = median(linkqr.map((x) => x.rps)) / median(bare.map((x) => x.rps));
console.log(`\nredirect benchmark, ${ROUNDS} rounds of ${DURATION}s, medians:`);
console.log(`  bare node:http 302 : ${fmt(median(bare.map((x) => x.rps)))} req/s, p99 ${median(bare.map((x) => x.p99))} ms`);
console.log(`  linkqr redirect    : ${fmt(median(linkqr.map((x) => x.rps)))} req/s, p99 ${median(linkqr.map((x) => x.p99))} ms`);
console.log(`  ratio              : ${ratio.toFixed(2)}x (target >= 0.70, floor 0.50)`);
console.log(
  `  CPU per redirect   : linkqr ${median(linkqr.map((x) => x.perRedirect.linkqr)).toFixed(1)} µs, bare ${median(bare.map((x) => x.perRequest)).toFixed(1)} µs` +
    (process.env.BENCH_POSTGRES_URL ? `, PostgreSQL ${median(linkqr.map((x) => x.perRedirect.postgres)).toFixed(1)} µs` : ''),
);
console.log(`  every click recorded: ${recordedOk ? 'yes' : 'NO'}`);
process.exitCode = ratio >= 0.5 && recordedOk ? 0 : 1;
