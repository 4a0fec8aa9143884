// What PostgreSQL sees per redirect, per click, and per API request of one LinkQR instance:
// transactions, rows read and written (pg_stat_database), and statements (pg_stat_statements,
// when the server preloads it: shared_preload_libraries = 'pg_stat_statements').
//   npm run build && BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres node scripts/bench/postgres-work.mjs
// The API's default rate limit is on (LINKQR_API_RATE_LIMIT 600), as in production.
import pg from 'pg';
import { fmt, openBenchSql, startLinkqr } from './lib.mjs';

if (!process.env.BENCH_POSTGRES_URL) throw new Error('set BENCH_POSTGRES_URL (a PostgreSQL server where the user may create databases)');
const N = Number(process.env.BENCH_REQUESTS ?? 500);
const BROWSER = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' };

const l = await startLinkqr('links:read,links:write', { LINKQR_API_RATE_LIMIT: '1000000' });
const stats = new pg.Client({ connectionString: l.databaseUrl });
await stats.connect();
const sql = await openBenchSql(l);
// pg_stat_statements counts every statement (BEGIN and COMMIT too) when the server preloads it.
const hasStatements = (await stats.query(`select current_setting('shared_preload_libraries') as libs`)).rows[0].libs.includes('pg_stat_statements');
if (hasStatements) await stats.query('create extension if not exists pg_stat_statements');

const api = (method, path, body) =>
  fetch(`${l.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${l.key}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  }).then(async (r) => {
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
    return r.json();
  });

const links = [];
for (let i = 0; i < 50; i++) links.push(await api('POST', '/api/v1/links', { url: `https://example.com/${i}` }));
for (const link of links) await fetch(`${l.url}/${link.slug}`, { redirect: 'manual', headers: BROWSER }); // cached

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const snapshot = async () => {
  const db = (await stats.query(`select xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted from pg_stat_database where datname = current_database()`)).rows[0];
  const statements = hasStatements
    ? Number((await stats.query(`select coalesce(sum(calls), 0) as n from pg_stat_statements s join pg_database d on d.oid = s.dbid where d.datname = current_database() and s.userid = current_user::regrole and query not like '%pg_stat%'`)).rows[0].n)
    : NaN;
  return { ...Object.fromEntries(Object.entries(db).map(([k, v]) => [k, Number(v)])), statements };
};

async function measure(name, unit, run) {
  await sleep(1_500); // the server's statistics reach pg_stat_database within a second of a transaction
  const before = await snapshot();
  await run();
  await sleep(1_500);
  const after = await snapshot();
  const per = (k) => (after[k] - before[k]) / N;
  // Our own two snapshot queries are in the counts: 2 transactions, a few rows read.
  const row = {
    [`per ${unit}`]: name,
    statements: hasStatements ? (per('statements')).toFixed(2) : 'n/a',
    transactions: ((after.xact_commit - before.xact_commit - 2) / N).toFixed(2),
    'rows read': (per('tup_fetched')).toFixed(1),
    'rows written': ((after.tup_inserted + after.tup_updated + after.tup_deleted - before.tup_inserted - before.tup_updated - before.tup_deleted) / N).toFixed(2),
  };
  console.log(Object.values(row).map((v, i) => (i === 0 ? String(v).padEnd(40) : String(v).padStart(14))).join(''));
}

const inParallel = async (n, width, fn) => {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await fn(next++);
  }));
};

console.log(`What PostgreSQL sees from one instance (${fmt(N)} of each, 8 at a time${hasStatements ? '' : '; statements need pg_stat_statements preloaded'}):`);
console.log(['', 'statements', 'transactions', 'rows read', 'rows written'].map((v, i) => (i === 0 ? v.padEnd(40) : v.padStart(14))).join(''));
await measure('redirect of a cached link (human click)', 'request', () =>
  inParallel(N, 8, async (i) => void (await fetch(`${l.url}/${links[i % links.length].slug}`, { redirect: 'manual', headers: BROWSER }))),
);
await measure('GET /api/v1/links?limit=50', 'request', () => inParallel(N, 8, () => api('GET', '/api/v1/links?limit=50')));
await measure('GET /api/v1/links/{id}', 'request', () => inParallel(N, 8, (i) => api('GET', `/api/v1/links/${links[i % links.length].id}`)));
await measure('POST /api/v1/links', 'request', () => inParallel(N, 8, (i) => api('POST', '/api/v1/links', { url: `https://example.com/new/${i}` })));
await measure('PATCH /api/v1/links/{id}', 'request', () => inParallel(N, 8, (i) => api('PATCH', `/api/v1/links/${links[i % links.length].id}`, { title: `t${i}` })));

const [{ n: clicks }] = await sql.all('select count(*) as n from clicks');
console.log(`clicks written: ${fmt(clicks)} (expected ${fmt(links.length + N)})`);
await sql.close();
await stats.end();
await l.stop();
