import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { NeedsMigrationError } from './migrations.js';
import { openStore } from '../store.js';
import { DB_FILE } from './files.js';
import { loadConfig } from '../config.js';
import { diskAssets } from '../lib/assets.js';
import { createLogger } from '../lib/logger.js';
import { backupDatabase, pruneBackups, stamp, takeBackup } from './backup.js';
import { type Db, openDb } from './db.js';
import { sqliteOnly } from '../testing/harness.js';

const T0 = Date.UTC(2030, 0, 1, 3, 0, 0);
const DAY = 86_400_000;

let dir: string;
let db: Db;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'linkqr-backup-'));
  db = openDb(join(dir, 'source.db'));
  db.sqlite.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL); INSERT INTO notes (text) VALUES ('kept')");
});
afterEach(async () => {
  if (db.sqlite.open) await db.close();
  rmSync(dir, { recursive: true, force: true });
});

const notesIn = (file: string) => {
  const copy = openDb(file);
  try {
    return copy.sqlite.prepare('SELECT text FROM notes ORDER BY id').pluck().all();
  } finally {
    void copy.close(); // SQLite's close is done when it returns
  }
};

// Copies of the SQLite file (PostgreSQL's backups are pg_dump's): SQLite only.
describe('backup files', { skip: sqliteOnly }, () => {
  test('stamps are UTC YYYYMMDD-HHMMSS', () => {
    assert.equal(stamp(Date.UTC(2030, 0, 2, 3, 4, 5, 678)), '20300102-030405');
    assert.equal(stamp(Date.UTC(2031, 11, 31, 23, 59, 59)), '20311231-235959');
  });

  test('a scheduled backup is named after its time and never replaces an earlier one of the same second', async () => {
    const backups = join(dir, 'backups');
    const first = await takeBackup(db.sqlite, backups, T0);
    db.sqlite.exec("INSERT INTO notes (text) VALUES ('later')");
    const second = await takeBackup(db.sqlite, backups, T0 + 500);

    assert.equal(first.file, join(backups, 'linkqr-20300101-030000.db'));
    assert.equal(second.file, join(backups, 'linkqr-20300101-030000-2.db'));
    assert.deepEqual(notesIn(first.file), ['kept']);
    assert.deepEqual(notesIn(second.file), ['kept', 'later']);
    assert.deepEqual(readdirSync(backups).sort(), ['linkqr-20300101-030000-2.db', 'linkqr-20300101-030000.db'], 'no temporary file left');
  });

  test('a stopped backup leaves nothing behind and the target untouched', async () => {
    const target = join(dir, 'copy.db');
    writeFileSync(target, 'an older copy');
    const stop = new AbortController();
    stop.abort();
    await assert.rejects(backupDatabase(db.sqlite, target, { signal: stop.signal }), { name: 'AbortError' });
    assert.deepEqual(readdirSync(dir).filter((f) => !f.startsWith('source.db')), ['copy.db']);
  });
});

describe('pruning to the newest N', { skip: sqliteOnly }, () => {
  // Backups taken one a day (plus two in the same second) by the fake clock; other files beside them.
  const OTHERS = ['pre-migrate-0001-20291201-000000.db', 'notes.txt', 'linkqr-latest.db', 'linkqr-20290101-000000.db.bak', 'Linkqr-20290101-000000.db'];
  let backups: string;
  let names: string[];

  beforeEach(async () => {
    backups = join(dir, 'backups');
    mkdirSync(backups);
    for (const other of OTHERS) writeFileSync(join(backups, other), 'not a scheduled backup');
    mkdirSync(join(backups, 'linkqr-20200101-000000.db')); // a folder, however named, is not a backup
    names = [];
    // Out of order on purpose: the name says when, not the order of creation.
    for (const at of [T0 + 2 * DAY, T0, T0 + 4 * DAY, T0 + 1 * DAY, T0 + 3 * DAY, T0 + 3 * DAY]) {
      names.push((await takeBackup(db.sqlite, backups, at)).file.slice(backups.length + 1));
    }
    assert.deepEqual(names, [
      'linkqr-20300103-030000.db',
      'linkqr-20300101-030000.db',
      'linkqr-20300105-030000.db',
      'linkqr-20300102-030000.db',
      'linkqr-20300104-030000.db',
      'linkqr-20300104-030000-2.db',
    ]);
  });

  const cases: { keep: number; kept: string[] | 'all' }[] = [
    { keep: 1, kept: ['linkqr-20300105-030000.db'] },
    { keep: 3, kept: ['linkqr-20300105-030000.db', 'linkqr-20300104-030000-2.db', 'linkqr-20300104-030000.db'] },
    { keep: 5, kept: ['linkqr-20300105-030000.db', 'linkqr-20300104-030000-2.db', 'linkqr-20300104-030000.db', 'linkqr-20300103-030000.db', 'linkqr-20300102-030000.db'] },
    { keep: 6, kept: 'all' },
    { keep: 100, kept: 'all' },
  ];
  for (const { keep, kept } of cases) {
    test(`keep ${keep}: the newest stay, the oldest go, other files stay`, () => {
      const expectKept = kept === 'all' ? names : kept;
      const removed = pruneBackups(backups, keep);
      assert.deepEqual(removed.sort(), names.filter((n) => !expectKept.includes(n)).sort());
      assert.deepEqual(readdirSync(backups).sort(), [...expectKept, ...OTHERS, 'linkqr-20200101-000000.db'].sort());
      assert.deepEqual(pruneBackups(backups, keep), [], 'pruning again removes nothing');
    });
  }

  test('a missing backups folder is nothing to prune', () => {
    assert.deepEqual(pruneBackups(join(dir, 'nowhere'), 1), []);
  });
});

describe('backup before migrating', { skip: sqliteOnly }, () => {
  const V1 = { '0001_create_things.sql': "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL) STRICT;\nINSERT INTO things (name) VALUES ('first');\n" };
  const V2 = { '0002_add_colour.sql': "ALTER TABLE things ADD COLUMN colour TEXT NOT NULL DEFAULT 'red';\n" };
  const V3 = { '0003_more_things.sql': "INSERT INTO things (name) VALUES ('second');\n" };
  let root: string;
  let dataDir: string;
  let logs: string[];

  beforeEach(() => {
    root = join(dir, 'project');
    dataDir = join(root, 'data');
    mkdirSync(join(root, 'migrations', 'sqlite'), { recursive: true });
    writeFileSync(join(root, 'package.json'), '{"name":"backup-test"}\n');
    logs = [];
  });

  const ship = (files: Record<string, string>) => {
    for (const [name, sql] of Object.entries(files)) writeFileSync(join(root, 'migrations', 'sqlite', name), sql);
  };
  const open = async (at: number, applyPending?: boolean) =>
    await openStore(loadConfig({ LINKQR_DATA_DIR: dataDir }), {
      assets: diskAssets(root),
      log: createLogger('info', { write: (line: string) => void logs.push(line) }),
      clock: { now: () => at },
      applyPending,
    });
  const backupsDir = () => join(dataDir, 'backups');
  const backupNames = () => {
    try {
      return readdirSync(backupsDir()).sort();
    } catch {
      return [];
    }
  };
  const rowsOf = (file: string) => {
    const copy = openDb(file);
    try {
      return {
        versions: copy.sqlite.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(),
        things: copy.sqlite.prepare('SELECT * FROM things ORDER BY id').all(),
      };
    } finally {
      void copy.close(); // SQLite's close is done when it returns
    }
  };

  test('a new database and an up-to-date one are not copied', async () => {
    ship(V1);
    await (await open(T0)).db.close();
    await (await open(T0 + DAY, true)).db.close();
    assert.deepEqual(backupNames(), []);
  });

  test('pending migrations on a database with data: a copy of the old one first, then the upgrade', async () => {
    ship(V1);
    await (await open(T0)).db.close();
    ship({ ...V2, ...V3 });

    const store = await open(T0 + DAY, true);
    await store.db.close();

    assert.deepEqual(backupNames(), ['pre-migrate-0001-20300102-030000.db']);
    const file = join(backupsDir(), 'pre-migrate-0001-20300102-030000.db');
    assert.deepEqual(rowsOf(file), { versions: [1], things: [{ id: 1, name: 'first' }] }, 'the copy is the database as it was');
    assert.deepEqual(rowsOf(join(dataDir, DB_FILE)).versions, [1, 2, 3], 'then it was migrated');
    const line = logs.map((l) => JSON.parse(l)).find((l) => l.msg === 'database backed up before migrating');
    assert.ok(line, logs.join('\n'));
    assert.equal(line.file, file);
    assert.equal(line.from, '0001');
    assert.equal(line.to, '0003');
    assert.ok(line.bytes > 0);
    const order = logs.map((l) => JSON.parse(l).msg);
    assert.ok(order.indexOf('database backed up before migrating') < order.lastIndexOf('migrations applied'), 'copied before migrating');

    // The copy restores: as the data dir's database, the old build's migrations see it up to date.
    rmSync(join(root, 'migrations', 'sqlite', '0002_add_colour.sql'));
    rmSync(join(root, 'migrations', 'sqlite', '0003_more_things.sql'));
    const restored = join(dir, 'restored');
    mkdirSync(restored);
    copyFileSync(file, join(restored, DB_FILE));
    const old = await openStore(loadConfig({ LINKQR_DATA_DIR: restored }), { assets: diskAssets(root), log: createLogger('silent') });
    assert.deepEqual(old.db.sqlite.prepare('SELECT name FROM things').pluck().all(), ['first']);
    await old.db.close();
  });

  test('each upgrade keeps its own copy, and pruning scheduled backups never removes them', async () => {
    ship(V1);
    await (await open(T0)).db.close();
    ship(V2);
    await (await open(T0 + DAY, true)).db.close();
    ship(V3);
    await (await open(T0 + 2 * DAY, true)).db.close();

    assert.deepEqual(backupNames(), ['pre-migrate-0001-20300102-030000.db', 'pre-migrate-0002-20300103-030000.db']);
    assert.deepEqual(rowsOf(join(backupsDir(), 'pre-migrate-0002-20300103-030000.db')).versions, [1, 2]);
    assert.deepEqual(pruneBackups(backupsDir(), 1), []);
    assert.equal(backupNames().length, 2);
  });

  test('a refused open (pending migrations without applyPending) takes no copy', async () => {
    ship(V1);
    await (await open(T0)).db.close();
    ship(V2);
    await assert.rejects(open(T0 + DAY), NeedsMigrationError);
    assert.deepEqual(backupNames(), []);
  });
});
