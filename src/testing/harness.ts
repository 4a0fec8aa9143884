/**
 * Test helpers: a real server on port 0 over a temp data dir, the real CLI as a child process,
 * and plain HTTP. No mocks: tests talk to what ships.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer, type Server, type ServerOptions } from '../app.js';
import { openStore, type Store } from '../store.js';
import type { ChangeContext } from '../audit/audit.js';
import type { ClickRecorderOptions } from '../clicks/click-recorder.js';
import { loadConfig } from '../config.js';
import { apiContract } from './contract.js';
import { createKey } from '../keys/keys.service.js';
import type { Scope } from '../keys/scopes.js';
import { createLogger } from '../lib/logger.js';
import type { Clock } from '../lib/clock.js';
import { createWorkspace, requireWorkspace } from '../workspaces/workspaces.service.js';
import { findWorkspaceByName } from '../workspaces/workspaces.repo.js';
import { createTestDatabase, TEST_POSTGRES_URL } from './postgres.js';

export const ROOT = resolve(__dirname, '../..');
export const BIN = join(ROOT, 'bin/linkqr.cjs');
/** The audit context of changes a test makes directly through services. */
export const TEST_OPERATOR: ChangeContext = { actor: { type: 'operator', id: 'cli:test' }, ip: null };
export const ALL_SCOPES: Scope[] = ['links:read', 'links:write', 'analytics:read', 'webhooks:read', 'webhooks:write'];

/**
 * The database the suite runs on: SQLite in each test server's data dir, or, with
 * LINKQR_TEST_BACKEND=postgres (and LINKQR_TEST_POSTGRES_URL), a PostgreSQL database made for
 * each test server and dropped with it. scripts/run-tests.mjs runs the suite once per backend.
 */
export const TEST_BACKEND: 'sqlite' | 'postgres' = process.env.LINKQR_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';
if (TEST_BACKEND === 'postgres' && !TEST_POSTGRES_URL) throw new Error('LINKQR_TEST_BACKEND=postgres needs LINKQR_TEST_POSTGRES_URL');

/** For `describe(…, { skip: sqliteOnly })`: tests of what only SQLite has (its file, PRAGMAs, the backup). */
export const sqliteOnly: string | false = TEST_BACKEND === 'postgres' ? 'SQLite only' : false;

/** The one at-rest secret of every test server on PostgreSQL (it is required there). */
const TEST_SECRET = 'linkqr-test-secret-not-for-production';

/**
 * The database settings of each test server, by its data dir: the CLI run against a test
 * server's data dir (runCli, spawnServer) uses the server's database, whichever backend it is on.
 */
const backendOf = new Map<string, Record<string, string>>();

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'linkqr-test-'));
}

/** A clock tests can move. */
export function fakeClock(start = Date.UTC(2030, 0, 1)): Clock & { set(ms: number): void; advance(ms: number): void } {
  let now = start;
  return { now: () => now, set: (ms) => void (now = ms), advance: (ms) => void (now += ms) };
}

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint: tests read arbitrary JSON
  json: any;
}

export async function http(
  base: string,
  method: string,
  path: string,
  opts: {
    key?: string;
    body?: unknown;
    rawBody?: string;
    headers?: Record<string, string>;
    /** false: skip the contract check (a test about what happens outside the contract). */
    contract?: boolean;
  } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + path, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  // Every API answer a test sees must keep the published contract (src/testing/contract.ts).
  if (path.startsWith('/api/v1/') && opts.contract !== false) {
    const contentType = res.headers.get('content-type');
    const problems = apiContract().check(method, path, res.status, contentType, contentType?.includes('json') ? json : text);
    if (problems.length > 0) throw new Error(`response breaks the OpenAPI contract:\n  ${problems.join('\n  ')}\nbody: ${text.slice(0, 500)}`);
  }
  return { status: res.status, headers: res.headers, text, json };
}

export interface RawResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A request with exactly these headers, answered with the bytes as sent: fetch adds a user agent
 * and Accept-Encoding and decodes what comes back, which tests of headers and encodings must not.
 */
export function rawHttp(base: string, method: string, path: string, headers: Record<string, string> = {}): Promise<RawResult> {
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest(base + path, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolvePromise({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export interface TestServer {
  url: string;
  dataDir: string;
  /** Every JSON log line the server wrote. */
  logs: string[];
  store: Store;
  server: Server;
  /** Creates (if needed) a workspace and a key in it; returns the key text. */
  key(opts?: { workspace?: string; scopes?: Scope[]; expiresAt?: number | null; name?: string }): Promise<string>;
  request(method: string, path: string, opts?: Parameters<typeof http>[3]): Promise<HttpResult>;
  /** Writes buffered clicks now, instead of waiting for the batch timer. */
  flushClicks(): Promise<number>;
  /** The DNS TXT records the server finds (name → values): what domain verification reads. No name resolves otherwise. */
  txt: Map<string, string[]>;
  /** Adds the domain's TXT record and verifies it through the API, as its owner would. */
  verifyDomain(key: string, domainId: string): Promise<HttpResult>;
  close(): Promise<void>;
}

export async function startTestServer(
  opts: {
    env?: Record<string, string>;
    clock?: Clock;
    clicks?: ClickRecorderOptions;
    apiRequests?: ServerOptions['apiRequests'];
    dataDir?: string;
    /** Shorter webhook attempt timeouts, for tests about receivers that never answer. */
    webhookTimeouts?: ServerOptions['webhookTimeouts'];
    /** Dispatcher settings, e.g. a poll too slow to matter, for tests of what wakes it. */
    dispatcher?: ServerOptions['dispatcher'];
    storageProbeMs?: number;
  } = {},
): Promise<TestServer> {
  const dataDir = opts.dataDir ?? tempDataDir();
  const database = TEST_BACKEND === 'postgres' ? await createTestDatabase() : undefined;
  const backend: Record<string, string> = database ? { LINKQR_DATABASE_URL: database.url, LINKQR_SECRET: TEST_SECRET } : {};
  backendOf.set(dataDir, backend);
  const config = loadConfig({ LINKQR_DATA_DIR: dataDir, LINKQR_PORT: '0', LINKQR_LOG_LEVEL: 'info', ...backend, ...opts.env });
  const logs: string[] = [];
  const log = createLogger(config.logLevel, { write: (line: string) => void logs.push(line) });
  const store = await openStore(config, { clock: opts.clock, log, applyPending: true, storageProbeMs: opts.storageProbeMs });
  const txt = new Map<string, string[]>();
  const resolveTxt = async (name: string) => {
    const values = txt.get(name);
    if (!values) throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return values.map((v) => [v]);
  };
  const server = await createServer(store, { clicks: opts.clicks, apiRequests: opts.apiRequests, jobs: false, webhookTimeouts: opts.webhookTimeouts, dispatcher: opts.dispatcher, resolveTxt });
  const url = await server.listen();
  let closed = false;
  return {
    url,
    dataDir,
    logs,
    store,
    server,
    async key(k = {}) {
      const name = k.workspace ?? 'Acme';
      const ws = (await findWorkspaceByName(store.db, name)) ?? (await createWorkspace(store, TEST_OPERATOR, name));
      const { key } = await createKey(store, TEST_OPERATOR, {
        workspaceId: (await requireWorkspace(store, ws.name)).id,
        name: k.name ?? 'test key',
        environment: 'test',
        scopes: k.scopes ?? ALL_SCOPES,
        expiresAt: k.expiresAt ?? null,
        createdByUserId: null,
      });
      return key;
    },
    request: (method, path, o) => http(url, method, path, o),
    flushClicks: () => server.deps.clicks.flush(),
    txt,
    async verifyDomain(key, domainId) {
      const domain = (await http(url, 'GET', `/api/v1/domains/${domainId}`, { key })).json as { verification: { name: string; value: string } };
      txt.set(domain.verification.name, [...(txt.get(domain.verification.name) ?? []), domain.verification.value]);
      return http(url, 'POST', `/api/v1/domains/${domainId}/verify`, { key });
    },
    async close() {
      if (closed) return;
      closed = true;
      await server.close(1_000);
      await database?.drop();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (bin/linkqr.cjs) against a data dir. */
export function runCli(args: string[], opts: { dataDir?: string; stdin?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', LINKQR_LOG_LEVEL: 'warn', ...backendOf.get(opts.dataDir ?? ''), ...opts.env };
    if (opts.dataDir) env.LINKQR_DATA_DIR = opts.dataDir;
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    // A command that fails before it reads its input (a usage error) closes the pipe: EPIPE here is
    // no failure of the test, the exit code and output say what happened.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin ?? '');
  });
}

export interface ServerProcess {
  url: string;
  pid: number;
  /** Everything the process has printed so far (stdout and stderr). */
  peek(): Promise<{ output: string }>;
  /** Sends a signal and resolves with the exit code and everything logged. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; output: string }>;
}

/** Starts `linkqr serve --port 0` (or the command line `args`) as a child process and waits for its "listening" line. */
export function spawnServer(dataDir: string, env: Record<string, string> = {}, args = ['serve', '--port', '0']): Promise<ServerProcess> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', LINKQR_DATA_DIR: dataDir, LINKQR_LOG_LEVEL: 'info', ...backendOf.get(dataDir), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // A server that does not start in time is killed: left running, it would keep the test file's process alive.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start:\n${output}`));
    }, 60_000);
    const onData = (d: Buffer) => {
      output += d;
      const m = /"msg":"listening"/.test(output) ? /"url":"(http:\/\/[^"]+)"/.exec(output) : null;
      if (m) {
        clearTimeout(timer);
        resolvePromise({
          url: m[1]!,
          pid: child.pid!,
          peek: async () => ({ output }),
          async stop(signal = 'SIGTERM') {
            child.kill(signal);
            const code = await exited;
            return { code, output };
          },
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    // `exited` never rejects; once the server is up, this late reject is a no-op.
    void exited.then((code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
}

/**
 * Runs `linkqr serve` expecting it not to start: resolves with its exit code and output once it
 * exits, or with `listened: true` (after killing it) if it opened its port instead.
 */
export function serveExpectingFailure(
  dataDir: string,
  args: string[] = ['--port', '0'],
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string; stderr: string; listened: boolean }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [BIN, 'serve', ...args], {
      env: { PATH: process.env.PATH ?? '', LINKQR_DATA_DIR: dataDir, LINKQR_LOG_LEVEL: 'info', ...backendOf.get(dataDir), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let stderr = '';
    let listened = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const onData = (d: Buffer) => {
      output += d;
      if (!listened && /"msg":"listening"/.test(output)) {
        listened = true;
        child.kill('SIGKILL');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      onData(d);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, output, stderr, listened });
    });
  });
}

type Falsy = false | 0 | '' | null | undefined;

/**
 * Polls until fn returns a truthy value (for effects that happen asynchronously, like click
 * batches). The timeout only bounds a test that fails: a passing one returns as soon as the
 * condition holds, so it is generous for machines busy with other work.
 */
export async function eventually<T>(fn: () => T | Falsy | Promise<T | Falsy>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value as T;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
