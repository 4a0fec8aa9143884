import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { NeedsMigrationError } from './migrations.js';
import { openStore } from '../store.js';
import { DB_FILE } from './files.js';
import { loadConfig } from '../config.js';
import { diskAssets } from '../lib/assets.js';
import { createLogger } from '../lib/logger.js';
import { type Db, openDb } from './db.js';
import { loadMigrations, migrate, MigrationError, migrationStatus } from './migrate.js';
import { sqliteOnly } from '../testing/harness.js';

const T0 = Date.UTC(2030, 0, 1);

const FILES = {
  '0001_create_things.sql': 'CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL) STRICT;\n',
  // Depends on 0001: fails unless applied after it.
  '0002_seed_things.sql': "INSERT INTO things (name) VALUES ('first');\nCREATE INDEX things_by_name ON things (name);\n",
  '0003_add_colour.sql': "ALTER TABLE things ADD COLUMN colour TEXT NOT NULL DEFAULT 'red';\n",
};

/** A throwaway project root (package.json + migrations/sqlite/) and a database beside it. */
class Project {
  readonly root = mkdtempSync(join(tmpdir(), 'linkqr-migrate-'));
  readonly dbFile = join(this.root, 'data', DB_FILE);
  private readonly open: Db[] = [];

  constructor() {
    writeFileSync(join(this.root, 'package.json'), '{"name":"migrate-test"}\n');
    mkdirSync(join(this.root, 'migrations', 'sqlite'), { recursive: true });
    mkdirSync(join(this.root, 'data'));
  }

  write(files: Record<string, string>) {
    for (const [name, sql] of Object.entries(files)) writeFileSync(join(this.root, 'migrations', 'sqlite', name), sql);
    return this;
  }

  remove(name: string) {
    unlinkSync(join(this.root, 'migrations', 'sqlite', name));
  }

  get assets() {
    return diskAssets(this.root);
  }

  migrations() {
    return loadMigrations(this.assets, 'sqlite');
  }

  db(): Db {
    const db = openDb(this.dbFile);
    this.open.push(db);
    return db;
  }

  recorded(db: Db) {
    return db.sqlite.prepare('SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version').all() as {
      version: number;
      name: string;
      checksum: string;
      applied_at: number;
    }[];
  }

  tables(db: Db): string[] {
    return (db.sqlite.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  }

  async cleanup() {
    for (const db of this.open) if (db.sqlite.open) await db.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

// Migrations of the SQLite file (PostgreSQL's runner: migrate-postgres.test.ts): SQLite only.
describe('migration runner', { skip: sqliteOnly }, () => {
  let p: Project;
  beforeEach(() => {
    p = new Project();
  });
  afterEach(() => p.cleanup());

  test('applies the migrations in order and records version, name, checksum and time', () => {
    p.write(FILES);
    const db = p.db();
    const applied = migrate(db, p.migrations(), T0);

    assert.deepEqual(applied.map((m) => [m.version, m.name]), [[1, 'create_things'], [2, 'seed_things'], [3, 'add_colour']]);
    assert.deepEqual(p.recorded(db), [
      { version: 1, name: 'create_things', checksum: sha256(FILES['0001_create_things.sql']), applied_at: T0 },
      { version: 2, name: 'seed_things', checksum: sha256(FILES['0002_seed_things.sql']), applied_at: T0 },
      { version: 3, name: 'add_colour', checksum: sha256(FILES['0003_add_colour.sql']), applied_at: T0 },
    ]);
    assert.deepEqual(db.sqlite.prepare('SELECT name, colour FROM things').all(), [{ name: 'first', colour: 'red' }]);
    assert.deepEqual(
      migrationStatus(db, p.migrations()).map((s) => [s.version, s.appliedAt]),
      [[1, T0], [2, T0], [3, T0]],
    );
  });

  test('a new database lists every migration as pending', () => {
    p.write(FILES);
    const status = migrationStatus(p.db(), p.migrations());
    assert.deepEqual(status, [
      { version: 1, name: 'create_things', appliedAt: null },
      { version: 2, name: 'seed_things', appliedAt: null },
      { version: 3, name: 'add_colour', appliedAt: null },
    ]);
  });

  test('running again applies nothing and changes nothing', () => {
    p.write(FILES);
    const db = p.db();
    migrate(db, p.migrations(), T0);
    const before = p.recorded(db);

    assert.deepEqual(migrate(db, p.migrations(), T0 + 1_000), []);
    assert.deepEqual(p.recorded(db), before);
    assert.equal((db.sqlite.prepare('SELECT count(*) AS n FROM things').get() as { n: number }).n, 1, 'the seed ran once');
  });

  test('a later build applies only the new migrations', () => {
    p.write({ '0001_create_things.sql': FILES['0001_create_things.sql'] });
    const db = p.db();
    migrate(db, p.migrations(), T0);
    p.write({ '0002_seed_things.sql': FILES['0002_seed_things.sql'] });

    const applied = migrate(db, p.migrations(), T0 + 5_000);
    assert.deepEqual(applied.map((m) => m.version), [2]);
    assert.deepEqual(p.recorded(db).map((r) => [r.version, r.applied_at]), [[1, T0], [2, T0 + 5_000]]);
  });

  test('an applied migration whose file was edited is refused (checksum), and nothing more runs', () => {
    p.write({ '0001_create_things.sql': FILES['0001_create_things.sql'] });
    const db = p.db();
    migrate(db, p.migrations(), T0);
    p.write({
      '0001_create_things.sql': `${FILES['0001_create_things.sql']}-- a harmless-looking comment\n`,
      '0002_seed_things.sql': FILES['0002_seed_things.sql'],
    });

    assert.throws(() => migrationStatus(db, p.migrations()), (e) => e instanceof MigrationError && /0001_create_things/.test(e.message) && /checksum/.test(e.message));
    assert.throws(() => migrate(db, p.migrations(), T0 + 1), (e) => e instanceof MigrationError && /checksum/.test(e.message));
    assert.deepEqual(p.recorded(db).map((r) => r.version), [1], '0002 must not run past an edited 0001');
    assert.equal((db.sqlite.prepare('SELECT count(*) AS n FROM things').get() as { n: number }).n, 0);
  });

  test('a database with a migration this build does not know is refused', () => {
    p.write(FILES);
    const db = p.db();
    migrate(db, p.migrations(), T0);
    p.remove('0003_add_colour.sql'); // an older build opening a newer database

    assert.throws(
      () => migrationStatus(db, p.migrations()),
      (e) => e instanceof MigrationError && /\b3\b/.test(e.message) && /add_colour/.test(e.message) && /newer/.test(e.message),
    );
    assert.throws(() => migrate(db, p.migrations(), T0 + 1), MigrationError);
  });

  test('a failing migration rolls back entirely; those before it stay applied', () => {
    p.write({
      '0001_create_things.sql': FILES['0001_create_things.sql'],
      '0002_half_done.sql': [
        'CREATE TABLE halves (id INTEGER PRIMARY KEY) STRICT;',
        "INSERT INTO things (name) VALUES ('from 0002');",
        'INSERT INTO no_such_table VALUES (1);',
        'CREATE TABLE never (id INTEGER) STRICT;',
      ].join('\n'),
      '0003_add_colour.sql': FILES['0003_add_colour.sql'],
    });
    const db = p.db();

    assert.throws(() => migrate(db, p.migrations(), T0), /no_such_table/);
    assert.deepEqual(p.recorded(db).map((r) => r.version), [1], 'only 0001 is recorded');
    assert.deepEqual(p.tables(db), ['schema_migrations', 'things'], 'nothing of 0002 (or 0003) is left behind');
    assert.equal((db.sqlite.prepare('SELECT count(*) AS n FROM things').get() as { n: number }).n, 0);
    assert.equal(db.sqlite.inTransaction, false, 'no transaction left open');

    // Fix the file and run again: 0002 and 0003 apply.
    p.write({ '0002_half_done.sql': "INSERT INTO things (name) VALUES ('from 0002');\n" });
    assert.deepEqual(migrate(db, p.migrations(), T0 + 1).map((m) => m.version), [2, 3]);
    assert.deepEqual(db.sqlite.prepare('SELECT name, colour FROM things').all(), [{ name: 'from 0002', colour: 'red' }]);
  });

  describe('migration files', () => {
    const badNames = ['1_init.sql', '001_init.sql', '0001-init.sql', '0001_Init.sql', '0001_init.txt', '0001_init.SQL', '0001_.sql', 'init.sql'];
    for (const name of badNames) {
      test(`a file named ${name} is refused`, () => {
        p.write({ [name]: 'SELECT 1;' });
        assert.throws(() => p.migrations(), (e) => e instanceof MigrationError && e.message.includes(name) && /NNNN_name\.sql/.test(e.message));
      });
    }

    const numbering: [string, string[]][] = [
      ['a gap (0001, 0003)', ['0001_a.sql', '0003_c.sql']],
      ['not starting at 0001', ['0002_b.sql']],
      ['a duplicate number', ['0001_a.sql', '0001_b.sql']],
    ];
    for (const [what, names] of numbering) {
      test(`${what} is refused`, () => {
        p.write(Object.fromEntries(names.map((n) => [n, 'SELECT 1;'])));
        assert.throws(() => p.migrations(), (e) => e instanceof MigrationError && /without gaps/.test(e.message));
      });
    }

    test('files are read in name order regardless of how they were written', () => {
      p.write({ '0003_add_colour.sql': FILES['0003_add_colour.sql'] });
      p.write({ '0001_create_things.sql': FILES['0001_create_things.sql'] });
      p.write({ '0002_seed_things.sql': FILES['0002_seed_things.sql'] });
      assert.deepEqual(p.migrations().map((m) => `${m.version}:${m.name}`), ['1:create_things', '2:seed_things', '3:add_colour']);
    });
  });

  test(
    'two processes migrating a new database at once: the second skips what the first applied',
    () => {
      p.write(FILES);
      const first = p.db();
      const second = p.db();
      // `second` reads the status, then — before its transaction starts — another process applies
      // everything. This is the window two `linkqr` processes hit on a brand-new data dir
      // (reproduced with three concurrent `linkqr migrate`: "table settings already exists").
      let raced = false;
      const transaction: typeof second.sqlite.transaction = (fn) => {
        if (!raced) {
          raced = true;
          migrate(first, p.migrations(), T0);
        }
        return second.sqlite.transaction(fn);
      };
      const racing: Db = {
        ...second,
        sqlite: new Proxy(second.sqlite, {
          get: (target, key) => {
            if (key === 'transaction') return transaction;
            const value: unknown = Reflect.get(target, key, target);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        }),
      };
      assert.doesNotThrow(() => migrate(racing, p.migrations(), T0 + 1));
      assert.deepEqual(p.recorded(second).map((r) => [r.version, r.applied_at]), [[1, T0], [2, T0], [3, T0]]);
    },
  );
});

describe('openStore and pending migrations', { skip: sqliteOnly }, () => {
  let p: Project;
  let logs: string[];
  beforeEach(() => {
    p = new Project();
    logs = [];
  });
  afterEach(() => p.cleanup());

  const open = async (applyPending?: boolean) =>
    await openStore(loadConfig({ LINKQR_DATA_DIR: join(p.root, 'data') }), {
      assets: p.assets,
      log: createLogger('info', { write: (line: string) => void logs.push(line) }),
      clock: { now: () => T0 },
      applyPending,
    });

  test('a new database gets every migration without asking', async () => {
    p.write(FILES);
    const store = await open();
    assert.deepEqual(p.recorded(store.db).map((r) => r.version), [1, 2, 3]);
    await store.db.close();
    assert.ok(logs.some((l) => /"msg":"migrations applied"/.test(l) && l.includes('0003_add_colour')));
  });

  test('an existing database with a pending migration is refused unless applyPending is set', async () => {
    p.write({ '0001_create_things.sql': FILES['0001_create_things.sql'] });
    await (await open()).db.close();
    p.write({ '0002_seed_things.sql': FILES['0002_seed_things.sql'], '0003_add_colour.sql': FILES['0003_add_colour.sql'] });

    await assert.rejects(
      open(),
      (e) => e instanceof NeedsMigrationError && /0002, 0003/.test(e.message) && /linkqr migrate/.test(e.message),
    );
    const check = p.db();
    assert.deepEqual(p.recorded(check).map((r) => r.version), [1], 'a refused open changes nothing');
    await check.close();

    const store = await open(true);
    assert.deepEqual(p.recorded(store.db).map((r) => r.version), [1, 2, 3]);
    await store.db.close();
    // Up to date now: a plain open works.
    await (await open()).db.close();
  });

  test('an edited migration stops openStore too, even with applyPending', async () => {
    p.write({ '0001_create_things.sql': FILES['0001_create_things.sql'] });
    await (await open()).db.close();
    p.write({
      '0001_create_things.sql': 'CREATE TABLE things (id INTEGER PRIMARY KEY) STRICT;\n',
      '0002_seed_things.sql': FILES['0002_seed_things.sql'],
    });
    await assert.rejects(open(true), (e) => e instanceof MigrationError && /checksum/.test(e.message));
    const check = p.db();
    assert.deepEqual(p.recorded(check).map((r) => r.version), [1]);
  });
});
