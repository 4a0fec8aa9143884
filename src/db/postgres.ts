import pg from 'pg';
import { OperatorError } from '../lib/errors.js';
import { describeServer } from './postgres-url.js';

// How LinkQR talks to PostgreSQL: one pool per process, with the type rules the schema relies on
// (migrations/postgres/0001_initial.sql).

const INT8_OID = 20;

/**
 * BIGINT (int8, oid 20) as a JS number, not pg's default string. Every integer column is BIGINT
 * (mirroring SQLite's 64-bit INTEGER), and what they hold fits in 2^53 by far: epoch milliseconds
 * reach 2^53 in the year 287396, counters and row ids would need 9 quadrillion rows. count(*) is
 * BIGINT too. A value beyond 2^53 would silently lose digits as a number: it fails loudly instead.
 * (sum() of BIGINT is NUMERIC, oid 1700, and still comes back as a string: cast it in the query.)
 */
export function parseBigint(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`a BIGINT value from PostgreSQL (${text}) is beyond 2^53 and cannot be read exactly as a number`);
  return n;
}

const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseBigint : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** A pool on `url` (postgres://…) that reads BIGINT as a number. The caller ends it. */
export function openPostgres(url: string, options: { max?: number } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    types,
    max: options.max ?? 4,
    application_name: 'linkqr',
    // Waiting for a free connection (all busy, or PostgreSQL unreachable) ends in an error that
    // answers 503, not a request that hangs; a connection left in a transaction is ended by the server.
    connectionTimeoutMillis: 10_000,
    idle_in_transaction_session_timeout: 60_000,
    keepAlive: true,
  });
  // An idle client whose server went away: the next query reports it; without a listener the
  // pool's 'error' event would crash the process.
  pool.on('error', () => {});
  // The same for a client checked out but between queries (a transaction awaiting its caller, a
  // scheduled job holding its advisory lock): the pool listens only to idle ones, and a client's
  // unheard 'error' would end the process when PostgreSQL restarts. Its next query fails instead.
  pool.on('connect', (connection) => connection.on('error', () => {}));
  return pool;
}

/** A single connection with the same type rules, for what a pool cannot do (LISTEN). The caller ends it. */
export function openPostgresClient(url: string): pg.Client {
  return new pg.Client({ connectionString: url, types, application_name: 'linkqr', connectionTimeoutMillis: 10_000, keepAlive: true });
}

/** libpq's and Node's codes for "cannot reach or enter the database", and what to say about each. */
const CONNECTION_PROBLEMS: Record<string, string> = {
  ECONNREFUSED: 'the connection was refused (is PostgreSQL running and listening there?)',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'the host is unreachable',
  ECONNRESET: 'the server closed the connection',
  '3D000': 'the database does not exist (create it first: createdb, or CREATE DATABASE)',
  '28P01': 'the password was refused',
  '28000': 'the server refused this user (pg_hba.conf)',
  '42501': 'the user may not do this (it needs the right to create tables in the schema)',
  '53300': 'the server has too many connections',
  '57P03': 'the server is starting up or shutting down',
};

/** node-postgres says these without a code. */
function connectionProblemOfMessage(message: string): string | undefined {
  if (/^Connection terminated due to connection timeout/.test(message)) return 'the server did not answer within 10 s (is it PostgreSQL, and reachable?)';
  if (/^Connection terminated unexpectedly/.test(message)) return 'the server closed the connection before answering (is it PostgreSQL, and does it accept this client?)';
  if (/^The server does not support SSL connections/.test(message)) return 'the URL asks for SSL (sslmode) and the server does not offer it';
  return undefined;
}

/**
 * A failure to connect, as one sentence for the operator naming host, port and database but never
 * the password; undefined for anything else.
 */
export function postgresConnectionProblem(err: unknown, url: string): OperatorError | undefined {
  const code = (err as { code?: string } | null)?.code;
  const why = code ? CONNECTION_PROBLEMS[code] : connectionProblemOfMessage((err as Error | null)?.message ?? '');
  if (!why) return undefined;
  return new OperatorError(`cannot use the PostgreSQL database at ${describeServer(url)}: ${why}`, { cause: err });
}
