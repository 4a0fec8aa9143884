import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { runCli, spawnServer, sqliteOnly, startTestServer, tempDataDir } from '../testing/harness.js';

// SQLite's planner statistics (sqlite_stat1, sqlite_stat4); on PostgreSQL the job runs ANALYZE.
test('optimize gathers the query planner statistics a grown table lacks', { skip: sqliteOnly }, async () => {
  const t = await startTestServer();
  try {
    const db = t.store.db.sqlite;
    db.prepare(
      `with recursive n(i) as (select 1 union all select i + 1 from n where i < 1000)
       insert into clicks (link_id, workspace_id, clicked_at, bot, qr) select 'lnk_' || (i % 20), 'wsp_x', i, 0, 0 from n`,
    ).run();
    const clickStats = () =>
      db.prepare("select count(*) from sqlite_schema where name = 'sqlite_stat1'").pluck().get() === 0
        ? []
        : (db.prepare("select idx, stat from sqlite_stat1 where tbl = 'clicks'").all() as { idx: string; stat: string }[]);
    assert.deepEqual(clickStats(), [], 'no statistics yet');

    assert.deepEqual(await t.server.scheduler.run('optimize'), { status: 'ok', result: {} });

    const stats = clickStats();
    assert.ok(stats.some((s) => s.idx === 'clicks_by_link_time' && s.stat.startsWith('1000 ')), JSON.stringify(stats));

    // An operator's ANALYZE (PRAGMA optimize gathers none) leaves value samples; the next run drops
    // them: with them, every statement binding an indexed parameter in a join is re-prepared.
    db.exec('analyze');
    const samples = () => db.prepare('select count(*) from sqlite_stat4').pluck().get() as number;
    assert.ok(samples() > 0, 'ANALYZE gathered samples');
    assert.equal((await t.server.scheduler.run('optimize')).status, 'ok');
    assert.equal(samples(), 0, 'no value samples kept');
    assert.ok(clickStats().some((s) => s.idx === 'clicks_by_link_time'), 'the row counts are kept');
    assert.ok(t.logs.some((l) => /"job":"optimize"/.test(l) && /"msg":"job finished"/.test(l)));
  } finally {
    await t.close();
  }
});

test('serve drops the value samples a hand-run ANALYZE left, before it answers', { skip: sqliteOnly }, async () => {
  const dataDir = tempDataDir();
  try {
    const made = await runCli(['workspace', 'create', 'Acme'], { dataDir });
    assert.equal(made.code, 0, made.stderr);
    const samples = () => {
      const db = new Database(join(dataDir, 'linkqr.db'));
      try {
        return db.prepare('select count(*) from sqlite_stat4').pluck().get() as number;
      } finally {
        db.close();
      }
    };
    const db = new Database(join(dataDir, 'linkqr.db'));
    db.exec('analyze');
    db.close();
    assert.ok(samples() > 0, 'ANALYZE gathered samples');
    const server = await spawnServer(dataDir);
    assert.equal((await server.stop('SIGTERM')).code, 0);
    assert.equal(samples(), 0);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
