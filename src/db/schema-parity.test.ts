import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import type pg from 'pg';
import { shippedAssets } from '../lib/assets.js';
import { tempDataDir } from '../testing/harness.js';
import { createTestDatabase, skipWithoutPostgres, type TestDatabase } from '../testing/postgres.js';
import { postgresShape, sqliteShape } from '../testing/schema-shape.js';
import { type Db, openDb } from './db.js';
import { migrate } from './migrate.js';
import { migratePostgres } from './migrate-postgres.js';
import { loadMigrations } from './migrations.js';
import { applyRollups } from '../clicks/clicks.repo.js';
import { RollupSums } from '../clicks/pending-rollups.js';

// Keeps the two dialects' migrations honest: whoever adds migrations/sqlite/0009_x.sql must add
// migrations/postgres/0009_x.sql making the same schema, or these fail and say where they differ.

const T0 = Date.UTC(2030, 0, 1);

/** Runs a statement written with `?` placeholders on both databases (PostgreSQL's as $1, $2, …). */
async function onBoth(sqlite: Db, pool: pg.Pool, sql: string, ...values: unknown[]): Promise<void> {
  sqlite.sqlite.prepare(sql).run(...values);
  let n = 0;
  await pool.query(sql.replace(/\?/g, () => `$${++n}`), values);
}

/** A query's rows, the same on both databases. */
async function assertBothRead(sqlite: Db, pool: pg.Pool, sql: string, expected: unknown[]): Promise<void> {
  assert.deepEqual(sqlite.sqlite.prepare(sql).all(), expected);
  assert.deepEqual((await pool.query(sql)).rows, expected);
}

const sqliteMigrations = () => loadMigrations(shippedAssets(), 'sqlite');
const postgresMigrations = () => loadMigrations(shippedAssets(), 'postgres');

test('both dialects ship the same migrations: numbers and names', () => {
  const names = (ms: { version: number; name: string }[]) => ms.map((m) => `${m.version}_${m.name}`);
  assert.ok(sqliteMigrations().length >= 8);
  assert.deepEqual(names(postgresMigrations()), names(sqliteMigrations()));
});

describe('the schema after all migrations is the same on SQLite and PostgreSQL', { skip: skipWithoutPostgres }, () => {
  let dir: string;
  let sqlite: Db;
  let db: TestDatabase;
  let pool: pg.Pool;
  before(async () => {
    dir = tempDataDir();
    sqlite = openDb(join(dir, 'parity.db'));
    migrate(sqlite, sqliteMigrations(), T0);
    db = await createTestDatabase();
    pool = db.pool();
    await migratePostgres(pool, postgresMigrations(), () => T0);
  });
  after(async () => {
    await sqlite?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the same tables', async () => {
    assert.deepEqual(Object.keys(await postgresShape(pool)), Object.keys(sqliteShape(sqlite.sqlite)));
  });

  test('each table: its columns in order (kind, nullability, default), primary key, indexes, unique keys and foreign keys', async () => {
    const lite = sqliteShape(sqlite.sqlite);
    const postgres = await postgresShape(pool);
    // The one difference on purpose: PostgreSQL's clicks have no primary key (its 0021 says why);
    // SQLite's id is the rowid. Everything else about the table is the same.
    assert.deepEqual(postgres.clicks?.primaryKey, []);
    assert.deepEqual(lite.clicks?.primaryKey, ['id']);
    postgres.clicks!.primaryKey = ['id'];
    for (const table of Object.keys(lite)) {
      // One table at a time: a difference names its table.
      assert.deepEqual(postgres[table], lite[table], `table ${table} differs between migrations/postgres and migrations/sqlite`);
    }
  });

  test('the comparison sees what matters: flags, case-insensitive names, partial indexes, ON DELETE, defaults', async () => {
    // Guards the comparison itself: were the shapes empty or blind, the test above would pass.
    const postgres = await postgresShape(pool);
    assert.deepEqual(postgres.users?.uniqueKeys, [{ columns: ['email'], caseInsensitive: true }]);
    assert.deepEqual(postgres.domains?.uniqueKeys, [{ columns: ['hostname'], caseInsensitive: false }]);
    assert.deepEqual(postgres.links?.uniqueKeys, [], '0012: slugs are unique per domain (an index), no longer alone');
    assert.deepEqual(postgres.links?.indexes.find((i) => i.name === 'links_by_domain_slug'), { name: 'links_by_domain_slug', columns: ['domain', 'slug'], unique: true, partial: false });
    assert.deepEqual(postgres.webhook_deliveries?.indexes.find((i) => i.name === 'webhook_deliveries_due'), {
      name: 'webhook_deliveries_due',
      columns: ['next_attempt_at'],
      unique: false,
      partial: true,
    });
    assert.deepEqual(postgres.memberships?.primaryKey, ['workspace_id', 'user_id']);
    assert.ok(postgres.api_keys?.foreignKeys.some((f) => f.columns[0] === 'created_by_user_id' && f.onDelete === 'SET NULL'));
    assert.ok(postgres.clicks?.columns.some((c) => c.name === 'referrer_host' && c.kind === 'text' && !c.notNull), '0006 added it');
    assert.equal(postgres.links?.columns.find((c) => c.name === 'status')?.default, "'active'");
    assert.equal(postgres.clicks?.columns.find((c) => c.name === 'id')?.default, null, 'an identity column has no DEFAULT, as a rowid has none');
  });

  test('0/1 flags refuse other values on PostgreSQL, as a boolean would', async () => {
    await assert.rejects(
      pool.query(`INSERT INTO clicks (link_id, workspace_id, clicked_at, bot, qr) VALUES ('l', 'w', 0, 2, 0)`),
      /clicks_bot_check/,
    );
  });

  test('names unique whatever their case, as COLLATE NOCASE does in SQLite', async () => {
    await pool.query(`INSERT INTO workspaces (id, name, plan_id, created_at, updated_at) VALUES ('ws_1', 'Acme', 'pln_default', 0, 0)`);
    await assert.rejects(
      pool.query(`INSERT INTO workspaces (id, name, plan_id, created_at, updated_at) VALUES ('ws_2', 'ACME', 'pln_default', 0, 0)`),
      /workspaces_name_lower/,
    );
  });
});

describe('data migrations do the same on both', { skip: skipWithoutPostgres }, () => {
  // 0006 classifies the clicks recorded before it and builds the rollups from them: the same
  // clicks before it must give the same rows after it.
  let dir: string;
  let sqlite: Db;
  let db: TestDatabase;
  beforeEach(async () => {
    dir = tempDataDir();
    sqlite = openDb(join(dir, 'data.db'));
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await sqlite.close();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('0012_domains: every link and column is kept, on the base host; a slug may then repeat on another domain', async () => {
    const pool = db.pool();
    migrate(sqlite, sqliteMigrations().slice(0, 11), T0);
    await migratePostgres(pool, postgresMigrations().slice(0, 11), () => T0);
    const setup = [
      `INSERT INTO workspaces (id, name, plan_id, created_at, updated_at) VALUES ('ws_1', 'Acme', 'pln_default', 0, 0)`,
      `INSERT INTO links (id, workspace_id, slug, url, title, tags, status, expires_at, max_clicks, redirect_code, clicks, total_clicks, last_clicked_at, created_at, updated_at, qr_generated_at, forward_query)
       VALUES ('lnk_a', 'ws_1', 'spring', 'https://example.com/a', 'A', '["x"]', 'disabled', 5, 9, 308, 3, 4, 7, 1, 2, 6, 1)`,
      `INSERT INTO links (id, workspace_id, slug, url, created_at, updated_at) VALUES ('lnk_b', 'ws_1', 'summer', 'https://example.com/b', 1, 2)`,
    ];
    for (const statement of setup) {
      sqlite.sqlite.exec(statement);
      await pool.query(statement);
    }
    migrate(sqlite, sqliteMigrations(), T0);
    await migratePostgres(pool, postgresMigrations(), () => T0);

    const read = 'SELECT id, workspace_id, slug, url, title, tags, status, expires_at, max_clicks, redirect_code, clicks, total_clicks, last_clicked_at, created_at, updated_at, qr_generated_at, forward_query, domain FROM links ORDER BY id';
    const expected = [
      { id: 'lnk_a', workspace_id: 'ws_1', slug: 'spring', url: 'https://example.com/a', title: 'A', tags: '["x"]', status: 'disabled', expires_at: 5, max_clicks: 9, redirect_code: 308, clicks: 3, total_clicks: 4, last_clicked_at: 7, created_at: 1, updated_at: 2, qr_generated_at: 6, forward_query: 1, domain: '' },
      { id: 'lnk_b', workspace_id: 'ws_1', slug: 'summer', url: 'https://example.com/b', title: null, tags: '[]', status: 'active', expires_at: null, max_clicks: null, redirect_code: 302, clicks: 0, total_clicks: 0, last_clicked_at: null, created_at: 1, updated_at: 2, qr_generated_at: null, forward_query: 0, domain: '' },
    ];
    assert.deepEqual(sqlite.sqlite.prepare(read).all(), expected);
    const numbers = (row: Record<string, unknown>) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v]));
    assert.deepEqual((await pool.query(read)).rows.map(numbers), expected);

    const again = (domain: string) => `INSERT INTO links (id, workspace_id, slug, url, created_at, updated_at, domain) VALUES ('lnk_${domain || 'base'}', 'ws_1', 'spring', 'https://example.com/c', 1, 2, '${domain}')`;
    sqlite.sqlite.exec(again('go.acme.test'));
    await pool.query(again('go.acme.test'));
    assert.throws(() => sqlite.sqlite.exec(again('')), /UNIQUE/);
    await assert.rejects(pool.query(again('')), /links_by_domain_slug/);
  });

  test('0006_analytics: classification and rollups of older clicks', async () => {
    const pool = db.pool();
    migrate(sqlite, sqliteMigrations().slice(0, 5), T0);
    await migratePostgres(pool, postgresMigrations().slice(0, 5), () => T0);
    const day = Date.UTC(2030, 0, 1);
    const clicks = [
      ['lnk_a', 'ws_1', day + 5 * 3_600_000 + 1, 0, 1],
      ['lnk_a', 'ws_1', day + 5 * 3_600_000 + 2, 1, 0],
      ['lnk_a', 'ws_1', day + 23 * 3_600_000, 0, 0],
      ['lnk_a', 'ws_1', day + 86_400_000 + 7, 0, 1],
      ['lnk_b', 'ws_2', day + 9 * 3_600_000, 1, 1],
    ] as const;
    for (const [link, ws, at, bot, qr] of clicks) {
      sqlite.sqlite.prepare('INSERT INTO clicks (link_id, workspace_id, clicked_at, bot, qr) VALUES (?, ?, ?, ?, ?)').run(link, ws, at, bot, qr);
      await pool.query('INSERT INTO clicks (link_id, workspace_id, clicked_at, bot, qr) VALUES ($1, $2, $3, $4, $5)', [link, ws, at, bot, qr]);
    }
    migrate(sqlite, sqliteMigrations(), T0);
    await migratePostgres(pool, postgresMigrations(), () => T0);

    const rollups = 'SELECT link_id, facet, day, value, total, human, qr FROM click_rollups ORDER BY link_id, facet, day, value';
    const hours = 'SELECT workspace_id, hour, total, human, qr FROM workspace_click_hours ORDER BY workspace_id, hour';
    const classified = 'SELECT id, device, browser, os, referrer_host FROM clicks ORDER BY id';
    const fromSqlite = (sql: string) => sqlite.sqlite.prepare(sql).all();
    const fromPostgres = async (sql: string) => (await pool.query(sql)).rows;
    const expectedRollups = fromSqlite(rollups);
    // 3 link-days × (referrer, browser, os) + 4 (link-day, device) + 4 (link-day, hour); the day
    // totals (all) moved to workspace_link_days in 0023, whose parity its own test checks.
    assert.equal(expectedRollups.length, 17);
    assert.deepEqual(await fromPostgres(rollups), expectedRollups);
    assert.deepEqual(await fromPostgres(hours), fromSqlite(hours));
    assert.deepEqual(await fromPostgres(classified), fromSqlite(classified));
  });

  test('0022_workspace_click_countries: the countries of the clicks so far, by workspace and hour and by day, unknown ones (and clicks gone) as ""', async () => {
    const pool = db.pool();
    migrate(sqlite, sqliteMigrations().slice(0, 21), T0);
    await migratePostgres(pool, postgresMigrations().slice(0, 21), () => T0);
    const hour = Date.UTC(2030, 0, 1, 5);
    const clicks = [
      ['lnk_a', 'ws_1', hour + 1, 0, 1, 'DE'],
      ['lnk_a', 'ws_1', hour + 2, 1, 0, 'DE'],
      ['lnk_b', 'ws_1', hour + 3, 0, 0, 'DE'],
      ['lnk_a', 'ws_1', hour + 4, 0, 0, null],
      ['lnk_a', 'ws_1', hour + 3_600_000, 0, 0, 'DE'],
      ['lnk_c', 'ws_2', hour + 5, 0, 1, 'JP'],
    ] as const;
    for (const c of clicks) await onBoth(sqlite, pool, 'INSERT INTO clicks (link_id, workspace_id, clicked_at, bot, qr, country) VALUES (?, ?, ?, ?, ?, ?)', ...c);
    // The hours applied so far also count clicks that are gone (a deleted link's, removed by the
    // retention job): one at 05:00 in ws_1, three at 07:00 in ws_2. The 06:00 batch is still pending.
    for (const h of [['ws_1', hour, 5, 4, 1], ['ws_2', hour, 1, 1, 1], ['ws_2', hour + 7_200_000, 3, 2, 0]] as const) {
      await onBoth(sqlite, pool, 'INSERT INTO workspace_click_hours (workspace_id, hour, total, human, qr) VALUES (?, ?, ?, ?, ?)', ...h);
    }
    // The last batch's rollups still pending (in the form before 0022), and a row that is not JSON.
    const pending = [
      JSON.stringify({ links: [['lnk_a', hour - (hour % 86_400_000), 'country', 'DE', 1, 1, 0]], workspaces: [['ws_1', hour + 3_600_000, 1, 1, 0]] }),
      'not json',
    ];
    for (const rollups of pending) await onBoth(sqlite, pool, 'INSERT INTO pending_rollups (created_at, rollups) VALUES (?, ?)', hour, rollups);
    migrate(sqlite, sqliteMigrations(), T0);
    await migratePostgres(pool, postgresMigrations(), () => T0);
    const read = 'SELECT workspace_id, hour, country, total, human, qr FROM workspace_click_country_hours ORDER BY workspace_id, hour, country';
    // Clicks that are gone count as unknown countries, so that an hour's countries add up to its total.
    const expected = [
      { workspace_id: 'ws_1', hour, country: '', total: 2, human: 2, qr: 0 },
      { workspace_id: 'ws_1', hour, country: 'DE', total: 3, human: 2, qr: 1 },
      { workspace_id: 'ws_1', hour: hour + 3_600_000, country: 'DE', total: 1, human: 1, qr: 0 },
      { workspace_id: 'ws_2', hour, country: 'JP', total: 1, human: 1, qr: 1 },
      { workspace_id: 'ws_2', hour: hour + 7_200_000, country: '', total: 3, human: 2, qr: 0 },
    ];
    await assertBothRead(sqlite, pool, read, expected);
    const readDays = 'SELECT workspace_id, day, country, total, human, qr FROM workspace_click_country_days ORDER BY workspace_id, day, country';
    const day = hour - (hour % 86_400_000);
    const expectedDays = [
      { workspace_id: 'ws_1', day, country: '', total: 2, human: 2, qr: 0 },
      { workspace_id: 'ws_1', day, country: 'DE', total: 4, human: 3, qr: 1 },
      { workspace_id: 'ws_2', day, country: '', total: 3, human: 2, qr: 0 },
      { workspace_id: 'ws_2', day, country: 'JP', total: 1, human: 1, qr: 1 },
    ];
    await assertBothRead(sqlite, pool, readDays, expectedDays);
    // The pending batch's clicks are counted above: its row takes this version's form, without countries.
    const rewritten = { links: [['lnk_a', hour - (hour % 86_400_000), 'country', 'DE', 1, 1, 0]], hours: [['ws_1', hour + 3_600_000, 1, 1, 0]], countries: [] };
    const rows = 'SELECT rollups FROM pending_rollups ORDER BY id';
    for (const got of [sqlite.sqlite.prepare(rows).all() as { rollups: string }[], (await pool.query<{ rollups: string }>(rows)).rows]) {
      assert.deepEqual(JSON.parse(got[0]!.rollups), rewritten);
      assert.equal(got[1]!.rollups, 'not json');
    }
  });

  test("0023_workspace_link_days: each existing link's day totals move from click_rollups to rows by workspace and day; a deleted link's go", async () => {
    const pool = db.pool();
    migrate(sqlite, sqliteMigrations().slice(0, 22), T0);
    await migratePostgres(pool, postgresMigrations().slice(0, 22), () => T0);
    const day = Date.UTC(2030, 0, 1);
    const both = (sql: string, ...values: unknown[]) => onBoth(sqlite, pool, sql, ...values);
    for (const [ws, name] of [['ws_1', 'Acme'], ['ws_2', 'Globex']]) {
      await both("INSERT INTO workspaces (id, name, plan_id, created_at, updated_at) VALUES (?, ?, 'pln_default', 0, 0)", ws, name);
    }
    for (const [id, ws, slug] of [['lnk_a', 'ws_1', 'a'], ['lnk_b', 'ws_1', 'b'], ['lnk_c', 'ws_2', 'c']]) {
      await both("INSERT INTO links (id, workspace_id, slug, url, created_at, updated_at, domain) VALUES (?, ?, ?, 'https://example.com/', 1, 1, '')", id, ws, slug);
    }
    const rollups: [string, string, number, string, number, number, number][] = [
      ['lnk_a', 'all', day, '', 5, 4, 1],
      ['lnk_a', 'country', day, 'DE', 5, 4, 1],
      ['lnk_a', 'all', day + 86_400_000, '', 2, 2, 0],
      ['lnk_b', 'all', day, '', 3, 1, 3],
      ['lnk_c', 'all', day, '', 7, 6, 0],
      ['lnk_gone', 'all', day, '', 9, 9, 9],
    ];
    for (const r of rollups) await both('INSERT INTO click_rollups (link_id, facet, day, value, total, human, qr) VALUES (?, ?, ?, ?, ?, ?, ?)', ...r);
    // A batch's rollups pending across the migration, as the version before wrote them.
    const pending = { links: [['lnk_b', day, 'all', '', 4, 4, 0, 'device', 'desktop', 4, 4, 0]], hours: [['ws_1', day, 4, 4, 0]], countries: [['ws_1', day, '', 4, 4, 0]] };
    await both('INSERT INTO pending_rollups (created_at, rollups) VALUES (?, ?)', day, JSON.stringify(pending));
    migrate(sqlite, sqliteMigrations(), T0);
    await migratePostgres(pool, postgresMigrations(), () => T0);
    const read = 'SELECT workspace_id, day, link_id, total, human, qr FROM workspace_link_days ORDER BY workspace_id, day, link_id';
    const expected = [
      { workspace_id: 'ws_1', day, link_id: 'lnk_a', total: 5, human: 4, qr: 1 },
      { workspace_id: 'ws_1', day, link_id: 'lnk_b', total: 3, human: 1, qr: 3 },
      { workspace_id: 'ws_1', day: day + 86_400_000, link_id: 'lnk_a', total: 2, human: 2, qr: 0 },
      { workspace_id: 'ws_2', day, link_id: 'lnk_c', total: 7, human: 6, qr: 0 },
    ];
    await assertBothRead(sqlite, pool, read, expected);
    const left = 'SELECT link_id, facet, day, value FROM click_rollups ORDER BY link_id, facet, day, value';
    const expectedLeft = [{ link_id: 'lnk_a', facet: 'country', day, value: 'DE' }];
    await assertBothRead(sqlite, pool, left, expectedLeft);
    // The pending batch, applied by this version (the same code on both dialects): its day totals
    // add to the moved row, its other rows go to click_rollups.
    const sums = new RollupSums();
    const ids = (sqlite.sqlite.prepare('SELECT id, rollups FROM pending_rollups').all() as { id: number; rollups: string }[]).map((p) => (sums.add(p.rollups), p.id));
    await sqlite.tx((t) => applyRollups(t, ids, { links: sums.linkRows, workspaces: sums.workspaceRows, countries: sums.countryRows }));
    assert.deepEqual(sqlite.sqlite.prepare("SELECT total, human FROM workspace_link_days WHERE link_id = 'lnk_b'").all(), [{ total: 7, human: 5 }]);
    assert.deepEqual(sqlite.sqlite.prepare(left).all(), [...expectedLeft, { link_id: 'lnk_b', facet: 'device', day, value: 'desktop' }]);
  });

  test('0011_forward_query: links made before it keep redirecting as stored (0); 0 and 1 only', async () => {
    const pool = db.pool();
    migrate(sqlite, sqliteMigrations().slice(0, 10), T0);
    await migratePostgres(pool, postgresMigrations().slice(0, 10), () => T0);
    const insert = `INSERT INTO links (id, workspace_id, slug, url, tags, status, redirect_code, clicks, total_clicks, created_at, updated_at)
      VALUES ('lnk_old', 'ws_default', 'old', 'https://example.com/signed?sig=abc', '[]', 'active', 302, 0, 0, 1, 1)`;
    sqlite.sqlite.prepare("INSERT INTO workspaces (id, name, plan_id, created_at, updated_at) VALUES ('ws_default', 'W', (SELECT id FROM plans LIMIT 1), 1, 1)").run();
    await pool.query("INSERT INTO workspaces (id, name, plan_id, created_at, updated_at) VALUES ('ws_default', 'W', (SELECT id FROM plans LIMIT 1), 1, 1)");
    sqlite.sqlite.prepare(insert).run();
    await pool.query(insert);
    migrate(sqlite, sqliteMigrations(), T0);
    await migratePostgres(pool, postgresMigrations(), () => T0);
    const flag = "SELECT forward_query FROM links WHERE id = 'lnk_old'";
    assert.deepEqual(sqlite.sqlite.prepare(flag).get(), { forward_query: 0 });
    assert.deepEqual((await pool.query(flag)).rows, [{ forward_query: 0 }]);
    assert.throws(() => sqlite.sqlite.prepare("UPDATE links SET forward_query = 2 WHERE id = 'lnk_old'").run(), /CHECK/);
    await assert.rejects(pool.query("UPDATE links SET forward_query = 2 WHERE id = 'lnk_old'"), /check constraint/);
  });

  test('0001_initial: the default plan', async () => {
    const pool = db.pool();
    migrate(sqlite, sqliteMigrations(), T0);
    await migratePostgres(pool, postgresMigrations(), () => T0);
    const plans = 'SELECT id, name, features, limits FROM plans ORDER BY id';
    assert.deepEqual((await pool.query(plans)).rows, sqlite.sqlite.prepare(plans).all());
  });
});
