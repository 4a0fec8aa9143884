// Shared pieces of the benchmarks: processes pinned to cores, autocannon runs, a LinkQR instance.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
// BENCH_BIN: another build of the bundle (e.g. the one before a change), to compare in one run.
export const BIN = process.env.BENCH_BIN ? resolve(process.env.BENCH_BIN) : join(ROOT, 'bin/linkqr.cjs');
export const SERVER_CORE = process.env.BENCH_SERVER_CORE ?? '0';
export const LOAD_CORE = process.env.BENCH_LOAD_CORE ?? '1';
export const DURATION = Number(process.env.BENCH_DURATION ?? 10);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
export const BROWSER_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

export async function freePort() {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitForHttp(url, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fetch(url, { redirect: 'manual' });
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(50);
    }
  }
}

/** Starts a process on the server core; resolves once `probeUrl` answers. */
export async function startPinned(args, env, probeUrl) {
  const child = spawn('taskset', ['-c', SERVER_CORE, process.execPath, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await waitForHttp(probeUrl);
  return {
    child,
    stop: () =>
      new Promise((r) => {
        child.once('exit', r);
        child.kill('SIGTERM');
      }),
  };
}

/** A bare node:http server answering every request with a 302: the baseline. */
export async function startBare302() {
  const port = await freePort();
  const code = `require('node:http').createServer((q, s) => { s.writeHead(302, { location: 'https://example.com/', 'cache-control': 'private, max-age=0', 'content-length': 0 }); s.end(); }).listen(${port}, '127.0.0.1')`;
  const proc = await startPinned(['-e', code], {}, `http://127.0.0.1:${port}/`);
  return { url: `http://127.0.0.1:${port}`, ...proc };
}

/**
 * A LinkQR server over a fresh data dir, with a workspace and a key made by the CLI; `extraEnv`
 * adds settings. `cli(...args)` runs the CLI on the same data dir (its stdout).
 */
/**
 * BENCH_POSTGRES_URL (a server where the user may create databases, e.g.
 * postgres://postgres@127.0.0.1:5432/postgres): LinkQR runs on a fresh PostgreSQL database, dropped
 * after, instead of SQLite in its data dir.
 */
export async function benchDatabase() {
  const server = process.env.BENCH_POSTGRES_URL;
  if (!server) return { url: undefined, env: {}, drop: async () => {} };
  const { default: pg } = await import('pg');
  const name = `linkqr_bench_${Math.random().toString(36).slice(2, 10)}`;
  const admin = async (sql) => {
    const c = new pg.Client({ connectionString: server });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`create database ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    env: { LINKQR_DATABASE_URL: url.href, LINKQR_SECRET: 'benchmark-secret-not-for-production' },
    drop: () => admin(`drop database if exists ${name} with (force)`),
  };
}

/**
 * SQL on the database a started LinkQR uses, SQLite or PostgreSQL, with `?` placeholders:
 * `all(sql, ...params)` (rows) and `run(sql, ...params)` (rows changed). Counts come back as numbers.
 */
export async function openBenchSql(l) {
  if (l.databaseUrl) {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: l.databaseUrl });
    await client.connect();
    let n = 0;
    const numbered = (sql) => ((n = 0), sql.replace(/\?/g, () => `$${++n}`));
    const numeric = (row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v]));
    return {
      all: async (sql, ...params) => (await client.query(numbered(sql), params)).rows.map(numeric),
      run: async (sql, ...params) => (await client.query(numbered(sql), params)).rowCount,
      close: () => client.end(),
    };
  }
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(l.dataDir, 'linkqr.db'));
  db.pragma('busy_timeout = 5000');
  return {
    all: async (sql, ...params) => db.prepare(sql).all(...params),
    run: async (sql, ...params) => db.prepare(sql).run(...params).changes,
    close: async () => db.close(),
  };
}

export async function startLinkqr(scopes = 'links:read,links:write', extraEnv = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'linkqr-bench-'));
  const database = await benchDatabase();
  // No API rate limit: the benchmarks measure the server, and one key sends thousands of requests a second.
  const env = { LINKQR_DATA_DIR: dataDir, LINKQR_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', LINKQR_API_RATE_LIMIT: '0', ...database.env, ...extraEnv };
  // BENCH_NODE_OPTIONS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"): given to the server process only, to profile it under the benchmark's load.
  const serverEnv = process.env.BENCH_NODE_OPTIONS ? { ...env, NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : env;
  const cli = (...args) =>
    execFileSync(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['pipe', 'pipe', 'ignore'] })
      .toString()
      .trim();
  cli('workspace', 'create', 'Bench');
  const key = cli('key', 'create', '--workspace', 'Bench', '--name', 'bench', '--scopes', scopes);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = await startPinned([BIN, 'serve', '--port', String(port)], serverEnv, `${url}/healthz`);
  return {
    url,
    key,
    dataDir,
    databaseUrl: database.url,
    cli,
    ...proc,
    async stop() {
      // A benchmark may have stopped the server itself, to read what it wrote.
      if (proc.child.exitCode === null && proc.child.signalCode === null) await proc.stop();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs autocannon on the load core; returns its JSON result. */
export function autocannon(url, { method = 'GET', headers = {}, body, duration = DURATION, connections = CONNECTIONS } = {}) {
  const args = ['-c', LOAD_CORE, process.execPath, join(ROOT, 'node_modules/autocannon/autocannon.js'), '-j', '-c', String(connections), '-d', String(duration), '-m', method];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  if (body !== undefined) args.push('-b', body);
  args.push(url);
  const out = execFileSync('taskset', args, { maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
  return JSON.parse(out.toString());
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const fmt = (n) => Math.round(n).toLocaleString('en-US');
