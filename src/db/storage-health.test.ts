import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { eventually, sqliteOnly, tempDataDir } from '../testing/harness.js';
import { type Db, openDb } from './db.js';
import type { StorageState } from './storage-health.js';

/**
 * The disk conditions are real SQLite states of the connection, not mocks: `query_only` makes
 * every write fail with SQLITE_READONLY (what a read-only file or mount gives), and
 * `max_page_count` at the current size makes a growing write fail with SQLITE_FULL (a full
 * disk). Both are per connection, so they work for any user on any file system; the real
 * read-only mount and full tmpfs are exercised by src/cli/startup.test.ts and
 * src/http/storage-unavailable.test.ts.
 */

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function tempDb(storageProbeMs = 60_000): { db: Db; changes: StorageState[] } {
  const dir = tempDataDir();
  const db = openDb(join(dir, 'test.db'), { storageProbeMs });
  db.sqlite.exec('create table notes (id integer primary key, body blob)');
  cleanups.push(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const changes: StorageState[] = [];
  db.storage.onChange((s) => changes.push(s));
  return { db, changes };
}

const insert = (db: Db, body: string | Buffer = 'x') => db.tx((t) => t.exec('insert into notes (body) values (?)', body));
const count = (db: Db) => (db.sqlite.prepare('select count(*) as n from notes').get() as { n: number }).n;
const fillDisk = (db: Db) => db.sqlite.pragma(`max_page_count = ${db.sqlite.pragma('page_count', { simple: true })}`);

// States of a SQLite connection (query_only, max_page_count, SQLite's error codes): SQLite only.
describe('storage health', { skip: sqliteOnly }, () => {
  test('a write refused by the disk makes storage unavailable once; other failures do not', async () => {
    const { db, changes } = tempDb();
    await assert.rejects(db.tx((t) => t.exec('insert into nowhere values (1)')), /no such table/);
    assert.equal(db.storage.available, true, 'a bad statement is not a disk problem');

    db.sqlite.pragma('query_only = 1');
    await assert.rejects(insert(db), { code: 'SQLITE_READONLY' });
    await assert.rejects(insert(db), { code: 'SQLITE_READONLY' });
    assert.equal(db.storage.available, false);
    assert.deepEqual(
      changes.map((c) => [c.available, c.problem]),
      [[false, 'read_only']],
      'said once, not per failing write',
    );
  });

  test('the probe brings it back by itself once the disk accepts writes again', async () => {
    const { db, changes } = tempDb(20);
    db.sqlite.pragma('query_only = 1');
    await assert.rejects(insert(db));
    assert.equal(db.storage.available, false);
    await assert.rejects(db.storage.probe(), { code: 'SQLITE_READONLY' }, 'the probe is a real write');

    db.sqlite.pragma('query_only = 0');
    await eventually(() => db.storage.available);
    assert.deepEqual(changes.map((c) => c.available), [false, true]);
  });

  test('only a transaction that changed rows proves the disk is back, not a read-only one', async () => {
    const { db } = tempDb();
    fillDisk(db);
    await assert.rejects(insert(db, Buffer.alloc(100_000)), { code: 'SQLITE_FULL' });
    assert.equal(db.storage.available, false);

    await db.tx((t) => t.row('select count(*) from notes'));
    assert.equal(db.storage.available, false, 'a transaction that wrote nothing commits on a full disk too');

    db.sqlite.pragma('max_page_count = 1000000');
    await insert(db);
    assert.equal(db.storage.available, true, 'the next write that commits');
  });

  test('group commit: when the disk fills mid-batch, SQLite rolls the whole batch back, so every write of it fails', async () => {
    const { db } = tempDb();
    await insert(db);
    fillDisk(db);
    const add = (body: string | Buffer) => db.write((t) => t.exec('insert into notes (body) values (?)', body));
    // One event-loop turn, one transaction: the second write needs a new page the "disk" does not have.
    const outcomes = await Promise.allSettled([add('before'), add(Buffer.alloc(100_000)), add('after')]);

    assert.deepEqual(
      outcomes.map((o) => (o.status === 'rejected' ? (o.reason as { code?: string }).code : 'fulfilled')),
      ['SQLITE_FULL', 'SQLITE_FULL', 'SQLITE_FULL'],
      'no write may be reported as done (nor fail as a 500) when the transaction it was in is gone',
    );
    assert.equal(count(db), 1, 'and none of them is in the database');
    assert.equal(db.storage.available, false);
  });
});
