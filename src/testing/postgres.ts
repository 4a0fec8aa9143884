import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgres } from '../db/postgres.js';

// Tests against a real PostgreSQL. They run when LINKQR_TEST_POSTGRES_URL names a server where the
// user may create databases (CI: postgres://postgres@127.0.0.1:5432/postgres), and are skipped
// otherwise (scripts/run-tests.mjs then says how to include them). Each test gets a database of
// its own, made from scratch and dropped after, so test files run in parallel without sharing
// state and a failed run leaves nothing that changes the next one.

export const TEST_POSTGRES_URL = process.env.LINKQR_TEST_POSTGRES_URL || undefined;

/** For `describe(…, { skip: skipWithoutPostgres })`: false when the tests can run, else why not. */
export const skipWithoutPostgres: string | false = TEST_POSTGRES_URL ? false : 'LINKQR_TEST_POSTGRES_URL is not set';

export interface TestDatabase {
  /** The URL of the new database (the server's URL with another database name). */
  url: string;
  name: string;
  /** A pool on it, as LinkQR opens one (BIGINT as numbers); ended by drop(). */
  pool(): pg.Pool;
  /** Ends the pools and drops the database, even with connections still open to it. */
  drop(): Promise<void>;
}

function serverUrl(): string {
  if (!TEST_POSTGRES_URL) throw new Error('LINKQR_TEST_POSTGRES_URL is not set: guard the test with skipWithoutPostgres');
  return TEST_POSTGRES_URL;
}

async function onServer<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database with a random name. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `linkqr_test_${randomBytes(6).toString('hex')}`;
  await onServer((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  const pools: pg.Pool[] = [];
  return {
    url: url.href,
    name,
    pool() {
      const pool = openPostgres(url.href);
      pools.push(pool);
      return pool;
    },
    async drop() {
      await Promise.all(pools.map((p) => p.end()));
      // WITH (FORCE) (PostgreSQL 13+): a test that failed half-way may have left a child process
      // or a client connected.
      await onServer((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
