import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Compilable, type Db, openDb } from '../db/db.js';
import { migrate } from '../db/migrate.js';
import { loadMigrations } from '../db/migrations.js';
import { shippedAssets } from '../lib/assets.js';
import { tempDataDir } from '../testing/harness.js';
import { readAuditPage } from './audit-log.service.js';
import { type AuditRowFilter, distinctAuditActors, distinctAuditValues, type RowCursor, selectAuditRows } from './audit.repo.js';

// The Audit log stays fast at volume because every page is one index range: no table scan, no sort
// of a workspace's entries. SQLite's query plans say so (PostgreSQL's were measured with 400,000
// entries: each page under a millisecond, by the same indexes). Checked on a database without
// statistics (a new one) and with them (after the optimize job).

describe('the audit log at volume: index ranges, and names in bulk', () => {
  const dir = tempDataDir();
  let db: Db;
  const plans: string[][] = [];
  /** The database, with each query's plan written down before it runs. */
  let explaining: Db;

  before(() => {
    db = openDb(join(dir, 'audit.db'));
    migrate(db, loadMigrations(shippedAssets(), 'sqlite'), Date.UTC(2030, 0, 1));
    const insert = db.sqlite.prepare(
      `insert into audit_log (workspace_id, actor_type, actor_id, action, target_type, target_id, summary, ip, created_at) values (?, ?, ?, ?, ?, ?, '{}', null, ?)`,
    );
    db.sqlite.transaction(() => {
      for (let i = 0; i < 5_000; i++) {
        insert.run(i % 4 === 0 ? 'wsp_b' : 'wsp_a', ['user', 'key', 'operator'][i % 3], `actor${i % 11}`, `link.a${i % 17}`, `type${i % 7}`, `id${i % 501}`, Date.UTC(2030, 0, 1) + i * 60_000);
      }
    })();
    const explain = (sql: string, params: readonly unknown[]) =>
      plans.push((db.sqlite.prepare(`explain query plan ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail));
    explaining = new Proxy(db, {
      get(target, prop, receiver) {
        if (prop === 'all') {
          return <R>(b: Compilable<R>) => {
            const c = b.compile();
            explain(c.sql, c.parameters);
            return target.all(b);
          };
        }
        if (prop === 'rows') {
          return (sql: string, ...params: unknown[]) => {
            explain(sql, params);
            return target.rows(sql, ...params);
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
  });
  after(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const ws = 'wsp_a';
  const cursors: (RowCursor | undefined)[] = [undefined, { towards: 'older', at: Date.UTC(2030, 0, 2), id: 2000 }, { towards: 'newer', at: Date.UTC(2030, 0, 2), id: 2000 }];
  const shapes: [string, AuditRowFilter, string][] = [
    ['no filter', { workspaceId: ws }, 'audit_log_by_workspace_time'],
    ['dates', { workspaceId: ws, from: Date.UTC(2030, 0, 1, 12), to: Date.UTC(2030, 0, 3) }, 'audit_log_by_workspace_time'],
    ['action', { workspaceId: ws, action: 'link.a3' }, 'audit_log_by_workspace_time'],
    ['action and dates', { workspaceId: ws, action: 'link.a3', from: Date.UTC(2030, 0, 1, 12) }, 'audit_log_by_workspace_time'],
    ['an actor', { workspaceId: ws, actorType: 'user', actorIds: ['actor3'] }, 'audit_log_by_workspace_time'],
    ['a kind of target', { workspaceId: ws, targetType: 'type4' }, 'audit_log_by_workspace_time'],
    ['a target', { workspaceId: ws, targetIds: ['id7'] }, 'audit_log_by_target'],
  ];

  for (const withStatistics of [false, true]) {
    for (const [name, filter, index] of shapes) {
      test(`${name}${withStatistics ? `, with statistics: ${index}` : ''}: an index range, no sort`, async () => {
        if (withStatistics) db.sqlite.exec('pragma optimize=0x10002');
        for (const cursor of cursors) {
          plans.length = 0;
          const rows = await selectAuditRows(explaining, filter, cursor, 51);
          assert.ok(rows.length > 0, 'the query finds entries');
          const plan = plans.flat().join('\n');
          // Without statistics SQLite may take another of them (a range of the workspace's entries by
          // time, bounded by the dates and the cursor); with them, the one made for the filter.
          const used = withStatistics ? index : 'audit_log_by_\\w+';
          assert.match(plan, new RegExp(`SEARCH audit_log USING (COVERING )?INDEX ${used} \\(workspace_id=\\?`), `${name}, ${cursor?.towards ?? 'first page'}:\n${plan}`);
          assert.doesNotMatch(plan, /TEMP B-TREE|SCAN audit_log/, `${name}, ${cursor?.towards ?? 'first page'}:\n${plan}`);
        }
      });
    }
  }

  test('a page names its actors and targets with one query per kind, however many entries', async () => {
    const insert = db.sqlite.prepare(
      `insert into audit_log (workspace_id, actor_type, actor_id, action, target_type, target_id, summary, ip, created_at) values ('wsp_names', ?, ?, 'link.update', ?, ?, '{}', null, ?)`,
    );
    for (let i = 0; i < 60; i++) insert.run(i % 2 ? 'key' : 'user', `actor${i}`, ['link', 'api_key', 'webhook_endpoint'][i % 3], `target${i}`, i);
    plans.length = 0;
    const page = await readAuditPage({ db: explaining, baseUrl: () => 'https://s.test' }, 'wsp_names', {}, undefined, 50);
    assert.equal(page.entries.length, 50);
    // The page itself, then users, keys (actors and targets alike), links and webhooks: one each.
    assert.equal(plans.length, 5, plans.map((p) => p.join(' / ')).join('\n'));
  });

  test('the choices of the filters: read from the time index, never the rows', async () => {
    plans.length = 0;
    assert.equal((await distinctAuditValues(explaining, ws, 'action')).length, 17);
    assert.equal((await distinctAuditValues(explaining, ws, 'target_type')).length, 7);
    assert.equal((await distinctAuditActors(explaining, ws, 'key')).length, 11);
    const plan = plans.flat().join('\n');
    assert.doesNotMatch(plan, /SCAN audit_log(?! USING COVERING INDEX)/, plan);
    assert.equal(plan.match(/SEARCH audit_log USING COVERING INDEX audit_log_by_workspace_time \(workspace_id=\?\)/g)?.length, 3, plan);
  });
});
