import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { eventually } from '../testing/harness.js';
import { createTestDatabase, skipWithoutPostgres, type TestDatabase } from '../testing/postgres.js';
import type { Db } from './db.js';
import { openPostgresDb } from './postgres-db.js';

// Scheduled jobs run under db.exclusively (src/jobs/schedule.ts): on one instance at a time, and on
// another once the instance holding a job dies. Two Db handles stand for two instances here; an
// instance's death is what PostgreSQL sees of it, its connections ended.

describe('exclusively across instances on PostgreSQL', { skip: skipWithoutPostgres }, () => {
  let database: TestDatabase;
  let first: Db;
  let second: Db;
  const log = pino({ level: 'silent' });

  before(async () => {
    database = await createTestDatabase();
    first = openPostgresDb(database.url, { log, max: 2 });
    second = openPostgresDb(database.url, { log, max: 2 });
  });
  after(async () => {
    await first?.close();
    await second?.close();
    await database?.drop();
  });

  test('a job runs on one instance at a time, and on another once the one running it dies', async () => {
    let release!: () => void;
    const holding = new Promise<void>((resolve) => (release = resolve));
    let running = false;
    const onFirst = first.exclusively('job:retention', async () => {
      running = true;
      await holding;
      return 'first';
    });
    await eventually(() => running);
    assert.equal(await second.exclusively('job:retention', async () => 'second'), undefined, 'skipped while the first runs it');
    assert.equal(await second.exclusively('job:optimize', async () => 'another job'), 'another job');

    // The first instance dies: PostgreSQL ends its connections, and its advisory lock with them.
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      const ended = await admin.query(`select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = $1)`, [database.name]);
      assert.equal(ended.rowCount, 1);
    } finally {
      await admin.end();
    }
    assert.equal(await eventually(() => second.exclusively('job:retention', async () => 'second')), 'second');
    release();
    await onFirst.catch(() => {}); // its unlock fails with its connection: that is the death it stands for
  });
});
