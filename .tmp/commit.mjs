import pg from 'pg';
const c = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' }); await c.connect();
await c.query('create temp table t (x int)'); await c.query('create table if not exists tt (x int)');
for (const sync of ['on', 'off']) {
  await c.query(`set synchronous_commit = ${sync}`);
  const t0 = performance.now(); for (let i = 0; i < 500; i++) await c.query('insert into tt values (1)');
  console.log(sync, ((performance.now() - t0) / 500).toFixed(3), 'ms per autocommit insert');
}
const t0 = performance.now(); for (let i = 0; i < 500; i++) await c.query('select 1');
console.log('select 1', ((performance.now() - t0) / 500).toFixed(3), 'ms');
await c.query('drop table tt'); await c.end();
