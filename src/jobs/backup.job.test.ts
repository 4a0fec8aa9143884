import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { DB_FILE } from '../db/files.js';
import { openDb } from '../db/db.js';
import { fakeClock, sqliteOnly, startTestServer, tempDataDir, type TestServer } from '../testing/harness.js';

const T0 = Date.UTC(2030, 0, 1, 3, 0, 0);
const DAY = 86_400_000;

// The job copies the SQLite file; on PostgreSQL it does not exist (backups are pg_dump's).
describe('backup job', { skip: sqliteOnly }, () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  const server = async (opts: Parameters<typeof startTestServer>[0] = {}) => {
    const t = await startTestServer(opts);
    cleanup.push(() => t.close());
    return t;
  };

  test('a backup taken while links are being created holds every link acknowledged before it; a server starts on it', async () => {
    const t = await server({ clock: fakeClock(T0) });
    const key = await t.key();
    // Enough data (~30 MB) that the copy takes several steps, with API writes landing between them.
    t.store.db.sqlite
      .prepare(
        `with recursive n(i) as (select 1 union all select i + 1 from n where i < 120000)
         insert into clicks (link_id, workspace_id, clicked_at, bot, qr, user_agent) select 'lnk_padding', 'wsp_padding', ?, 0, 0, printf('%.200c', 'x') from n`,
      )
      .run(T0);

    type Phase = 'before' | 'during' | 'after';
    let phase: Phase = 'before';
    const acknowledged: { id: string; slug: string; url: string; phase: Phase }[] = [];
    let n = 0;
    const writer = async () => {
      while (phase !== 'after') {
        const url = `https://example.com/${n++}`;
        const res = await t.request('POST', '/api/v1/links', { key, body: { url } });
        assert.equal(res.status, 201, res.text);
        acknowledged.push({ id: res.json.id, slug: res.json.slug, url, phase });
      }
    };
    const writers = [writer(), writer(), writer(), writer()];
    while (acknowledged.length < 200) await new Promise((r) => setTimeout(r, 5));

    phase = 'during';
    const outcome = await t.server.scheduler.run('backup');
    phase = 'after';
    await Promise.all(writers);

    const file = join(t.dataDir, 'backups', 'linkqr-20300101-030000.db');
    assert.equal(outcome.status, 'ok', JSON.stringify(outcome));
    assert.deepEqual(outcome.status === 'ok' && outcome.result.file, file);
    const during = acknowledged.filter((l) => l.phase === 'during');
    assert.ok(during.length > 0, 'links were created while the backup ran');

    // Restore: the backup becomes the database of a fresh data dir.
    const restoredDir = tempDataDir();
    cleanup.push(() => rmSync(restoredDir, { recursive: true, force: true }));
    copyFileSync(file, join(restoredDir, DB_FILE));
    const restored = await server({ dataDir: restoredDir });
    assert.equal(restored.store.db.sqlite.pragma('integrity_check', { simple: true }), 'ok');

    const ids = new Set(restored.store.db.sqlite.prepare('select id from links').pluck().all() as string[]);
    const missing = acknowledged.filter((l) => l.phase !== 'after' && !ids.has(l.id));
    assert.deepEqual(missing, [], 'every link acknowledged before the backup ended is in it');
    const known = new Set(acknowledged.map((l) => l.id));
    assert.ok([...ids].every((id) => known.has(id)), 'and nothing else');
    assert.equal(restored.store.db.sqlite.prepare('select count(*) from clicks').pluck().get(), 120_000);

    // The restored server works: the key, the API and redirects.
    for (const link of [acknowledged[0]!, during[during.length - 1]!]) {
      const res = await restored.request('GET', `/api/v1/links/${link.id}`, { key });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.url, link.url);
      const redirect = await restored.request('GET', `/${link.slug}`);
      assert.equal(redirect.status, 302);
      assert.equal(redirect.headers.get('location'), link.url);
    }
  });

  test('keeps the newest LINKQR_BACKUP_KEEP backups and nothing it did not make is touched', async () => {
    const clock = fakeClock(T0);
    const t = await server({ clock, env: { LINKQR_BACKUP_KEEP: '3' } });
    const backups = join(t.dataDir, 'backups');
    mkdirSync(backups);
    const others = ['pre-migrate-0001-20291231-000000.db', 'before-upgrade.db', 'README.txt'];
    for (const name of others) writeFileSync(join(backups, name), 'kept by hand');

    const pruned: unknown[] = [];
    for (let day = 0; day < 5; day++) {
      const outcome = await t.server.scheduler.run('backup');
      assert.equal(outcome.status, 'ok');
      if (outcome.status === 'ok') pruned.push(outcome.result.pruned);
      clock.advance(DAY);
    }

    assert.deepEqual(pruned, [[], [], [], ['linkqr-20300101-030000.db'], ['linkqr-20300102-030000.db']]);
    assert.deepEqual(
      readdirSync(backups).sort(),
      [...others, 'linkqr-20300103-030000.db', 'linkqr-20300104-030000.db', 'linkqr-20300105-030000.db'].sort(),
    );
    const lines = t.logs.map((l) => JSON.parse(l)).filter((l) => l.job === 'backup' && l.msg === 'job finished');
    assert.equal(lines.length, 5);
    assert.deepEqual(lines[4].pruned, ['linkqr-20300102-030000.db']);
    assert.ok(lines[4].bytes > 0 && typeof lines[4].durationMs === 'number');
  });

  test('a failing backup is logged, the server keeps serving, and the next run succeeds', async () => {
    const t: TestServer = await server({ clock: fakeClock(T0) });
    const key = await t.key();
    const backups = join(t.dataDir, 'backups');
    writeFileSync(backups, 'a file where the backups folder should be');

    const failed = await t.server.scheduler.run('backup');
    assert.equal(failed.status, 'failed');
    const line = t.logs.map((l) => JSON.parse(l)).find((l) => l.job === 'backup' && l.msg === 'job failed');
    assert.ok(line, 'the failure is logged');
    assert.equal(line.level, 50);
    assert.match(line.err.message, /backups/);

    assert.equal((await t.request('GET', '/healthz')).status, 200);
    assert.equal((await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/' } })).status, 201);

    rmSync(backups);
    assert.equal((await t.server.scheduler.run('backup')).status, 'ok');
    assert.deepEqual(readdirSync(backups), ['linkqr-20300101-030000.db']);
    const copy = openDb(join(backups, 'linkqr-20300101-030000.db'));
    assert.equal(copy.sqlite.prepare('select count(*) from links').pluck().get(), 1);
    await copy.close();
  });
});
