import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { createTestDatabase, skipWithoutPostgres, type TestDatabase } from '../testing/postgres.js';
import { type Db, openDb } from './db.js';
import { postgresQueries } from './postgres-db.js';

// The guarantees transactions gave when they were synchronous functions, kept now that they are
// asynchronous: nothing interleaves with an open transaction, a failure undoes all of it, a query
// that bypasses the transaction's handle is caught instead of hanging or escaping it.

describe('transactions on SQLite', () => {
  let dir: string;
  let db: Db;
  const values = () => db.sqlite.prepare('select v from t order by v').pluck().all() as string[];
  /** A turn of the event loop: whatever was queued behind the transaction gets its chance. */
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'linkqr-tx-'));
    db = openDb(join(dir, 'test.db'));
    db.sqlite.exec('create table t (v text primary key)');
  });
  afterEach(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a statement from outside waits for the open transaction: it neither joins it nor reads what it has not committed', async () => {
    let begun!: () => void;
    const inside = new Promise<void>((resolve) => (begun = resolve));
    let proceed!: () => void;
    const resume = new Promise<void>((resolve) => (proceed = resolve));
    const tx = db.tx(async (t) => {
      await t.exec("insert into t values ('in tx')");
      begun();
      await resume; // (a test only: a real transaction awaits nothing but its queries)
      await t.exec("insert into t values ('in tx, later')");
      throw new Error('changed my mind');
    });
    await inside;
    // Meanwhile another request reads and writes, through the database.
    const seen: string[][] = [];
    const read = db.rows<{ v: string }>('select v from t').then((rows) => seen.push(rows.map((r) => r.v)));
    const write = db.exec("insert into t values ('outside')");
    await turn();
    assert.equal(seen.length, 0, 'the read waits for the transaction');
    proceed();
    await assert.rejects(tx, /changed my mind/);
    await Promise.all([read, write]);
    assert.deepEqual(seen, [[]], 'the read ran after the rollback and saw none of the transaction');
    assert.deepEqual(values(), ['outside'], 'the outside write is its own, not rolled back with the transaction');
  });

  test('two transactions run one after the other, in the order they were started', async () => {
    const order: string[] = [];
    const first = db.tx(async (t) => {
      order.push('first begins');
      await t.exec("insert into t values ('a')");
      await turn();
      order.push('first ends');
    });
    const second = db.tx(async (t) => {
      order.push('second begins');
      await t.exec("insert into t values ('b')");
      order.push('second ends');
    });
    await Promise.all([first, second]);
    assert.deepEqual(order, ['first begins', 'first ends', 'second begins', 'second ends']);
    assert.deepEqual(values(), ['a', 'b']);
  });

  test('querying the database from inside a transaction is refused, and the transaction rolls back', async () => {
    await assert.rejects(
      db.tx(async (t) => {
        await t.exec("insert into t values ('a')");
        await db.exec("insert into t values ('b')");
      }),
      /must go through the transaction/,
    );
    await assert.rejects(db.tx(async () => db.tx(async () => undefined)), /must start from its handle/);
    // A group-commit write would wait for the lock this transaction holds: refused too, not a hang.
    await assert.rejects(db.tx(async () => db.write(async () => undefined)), /must go through its handle/);
    assert.deepEqual(values(), []);
  });

  test('work scheduled inside a transaction that runs after it may use the database', async () => {
    let later: Promise<unknown> | undefined;
    await db.tx(async (t) => {
      await t.exec("insert into t values ('a')");
      later = new Promise((resolve) => setTimeout(resolve, 5)).then(() => db.exec("insert into t values ('b')"));
    });
    await later;
    assert.deepEqual(values(), ['a', 'b']);
  });

  test('a savepoint that fails undoes only itself', async () => {
    await db.tx(async (t) => {
      await t.exec("insert into t values ('kept')");
      await assert.rejects(
        t.tx(async (s) => {
          await s.exec("insert into t values ('undone')");
          throw new Error('inner');
        }),
        /inner/,
      );
      await t.exec("insert into t values ('kept too')");
    });
    assert.deepEqual(values(), ['kept', 'kept too']);
  });

  test('write(): writes of one turn share a commit; one that fails is undone alone', async () => {
    const results = await Promise.allSettled([
      db.write(async (t) => (await t.exec("insert into t values ('a')")).changes),
      db.write(async (t) => {
        await t.exec("insert into t values ('b')");
        throw new Error('b fails');
      }),
      db.write(async (t) => (await t.exec("insert into t values ('c')")).changes),
    ]);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
      [1, 'b fails', 1],
    );
    assert.deepEqual(values(), ['a', 'c']);
  });

  test('a failed statement outside a transaction rejects its promise and leaves the connection usable', async () => {
    await db.exec("insert into t values ('a')");
    await assert.rejects(db.exec("insert into t values ('a')"), /UNIQUE/);
    await assert.rejects(db.tx(async (t) => t.exec("insert into t values ('a')")), /UNIQUE/);
    assert.equal(db.sqlite.inTransaction, false);
    assert.deepEqual(await db.rows('select v from t'), [{ v: 'a' }]);
  });
});

describe('transactions on PostgreSQL', { skip: skipWithoutPostgres }, () => {
  let database: TestDatabase;
  let db: ReturnType<typeof postgresQueries>;
  const values = async () => (await db.rows<{ v: string }>('select v from t order by v')).map((r) => r.v);

  beforeEach(async () => {
    database = await createTestDatabase();
    db = postgresQueries(database.pool());
    await db.exec('create table t (v text primary key, n integer not null default 0)');
  });
  afterEach(() => database.drop());

  test('hand-written SQL with ? placeholders (never inside a string literal) runs; a failed transaction leaves nothing', async () => {
    await db.exec('insert into t (v, n) values (?, ?)', "it's", 1);
    assert.deepEqual(await db.rows('select v, n from t where v = ? and n = ?', "it's", 1), [{ v: "it's", n: 1 }]);
    await assert.rejects(
      db.tx(async (t) => {
        await t.exec('insert into t (v) values (?)', 'b');
        await t.exec('insert into t (v) values (?)', 'b');
      }),
      /duplicate key/,
    );
    assert.deepEqual(await values(), ["it's"]);
  });

  test('querying the pool from inside a transaction is refused; a failed savepoint undoes only itself', async () => {
    await assert.rejects(
      db.tx(async () => {
        await db.exec("insert into t (v) values ('x')");
      }),
      /must go through the transaction/,
    );
    await db.tx(async (t) => {
      await t.exec("insert into t (v) values ('kept')");
      await assert.rejects(
        t.tx(async (s) => {
          await s.exec("insert into t (v) values ('undone')");
          throw new Error('inner');
        }),
        /inner/,
      );
    });
    assert.deepEqual(await values(), ['kept']);
  });

  test('a transaction whose failed statement was caught does not report a commit it did not make', async () => {
    await assert.rejects(
      db.tx(async (t) => {
        await t.exec("insert into t (v) values ('lost')");
        await t.exec('select * from no_such_table').catch(() => undefined);
      }),
      /rolled back by PostgreSQL/,
    );
    assert.deepEqual(await values(), []);
  });

  test('transactions run concurrently; one aborted by a deadlock is run again and both commit', async () => {
    await db.exec("insert into t (v) values ('a'), ('b')");
    // Each locks one row, then waits for the other's: PostgreSQL aborts one (40P01), which runs again.
    let runs = 0;
    const both = (first: string, second: string) =>
      db.tx(async (t) => {
        runs++;
        await t.exec('update t set n = n + 1 where v = ?', first);
        await t.row('select pg_sleep(0.2)');
        await t.exec('update t set n = n + 1 where v = ?', second);
      });
    await Promise.all([both('a', 'b'), both('b', 'a')]);
    assert.equal(runs, 3, 'two transactions, one of them twice');
    assert.deepEqual(await db.rows('select v, n from t order by v'), [
      { v: 'a', n: 2 },
      { v: 'b', n: 2 },
    ]);
  });
});
