import pg from 'pg';
const c = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' }); await c.connect();
for (const kind of ['', 'unlogged']) {
  await c.query(`drop table if exists ul; create ${kind} table ul (k text primary key, n bigint)`); await c.query(`insert into ul values ('a', 0)`);
  const t0 = performance.now(); for (let i = 0; i < 1000; i++) await c.query(`insert into ul values ('a', 1) on conflict (k) do update set n = ul.n + 1`);
  console.log(kind || 'logged', ((performance.now() - t0) / 1000).toFixed(3), 'ms per upsert');
}
await c.query('drop table ul'); await c.end();
