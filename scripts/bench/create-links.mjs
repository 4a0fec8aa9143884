// API link creation per second with one key (target >= 5,000/s). Server on one core, load on the other.
//   npm run build && node scripts/bench/create-links.mjs     (BENCH_DURATION, BENCH_CONNECTIONS)
import { autocannon, DURATION, fmt, openBenchSql, startLinkqr } from './lib.mjs';

const l = await startLinkqr();
// Warm the key's verification cache so the run measures steady state, not one argon2 hash.
await fetch(`${l.url}/api/v1/me`, { headers: { authorization: `Bearer ${l.key}` } });
const result = autocannon(`${l.url}/api/v1/links`, {
  method: 'POST',
  headers: { authorization: `Bearer ${l.key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ url: 'https://example.com/landing?utm_source=bench', tags: ['bench'] }),
});
const created = result['2xx'];
await l.child.kill('SIGTERM');
await new Promise((r) => l.child.once('exit', r));
const db = await openBenchSql(l);
const [{ n: rows }] = await db.all('select count(*) n from links');
const [{ n: events }] = await db.all("select count(*) n from events where type = 'link.created'");
await db.close();
await l.stop();

console.log(`create-links benchmark, ${DURATION}s, one key, ${l.databaseUrl ? 'PostgreSQL' : 'SQLite'}:`);
console.log(`  created     : ${fmt(created / DURATION)} links/s (${fmt(result.requests.average)} req/s average), p99 ${result.latency.p99} ms`);
console.log(`  responses   : ${fmt(created)} x 201, ${fmt(result.non2xx)} other, ${result.errors} errors`);
console.log(`  stored      : ${fmt(rows)} links, ${fmt(events)} link.created events`);
console.log(`  target      : >= 5,000 links/s`);
process.exitCode = rows >= created && events === rows ? 0 : 1;
