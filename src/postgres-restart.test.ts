import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { eventually, http, runCli, type ServerProcess, spawnServer, tempDataDir } from './testing/harness.js';
import { createTestDatabase, skipWithoutPostgres, TEST_POSTGRES_URL, type TestDatabase } from './testing/postgres.js';
import { startTcpProxy } from './testing/tcp-proxy.js';

// PostgreSQL goes away under a running instance and comes back (a restart, a failover, the network):
// the instance reconnects by itself, keeps redirecting and buffering clicks meanwhile, answers API
// writes with 503 and Retry-After, writes the buffered clicks once it can, and reloads its caches,
// since it missed whatever other instances changed meanwhile. The database is reached through a
// proxy that the test takes down, so the PostgreSQL server the other test files share stays up.

const BROWSER = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' };

describe('a PostgreSQL restart under a running instance', { skip: skipWithoutPostgres }, () => {
  let database: TestDatabase;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let server: ServerProcess;
  let key: string;
  const dataDirs: string[] = [];

  before(async () => {
    database = await createTestDatabase();
    const direct = new URL(TEST_POSTGRES_URL!);
    proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    const proxied = new URL(database.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    const env = { LINKQR_DATABASE_URL: proxied.href, LINKQR_SECRET: 'a restart test secret of at least 32 characters' };
    const cli = async (...args: string[]) => {
      const dataDir = tempDataDir();
      dataDirs.push(dataDir);
      const r = await runCli(args, { dataDir, env });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    await cli('migrate');
    await cli('workspace', 'create', 'Acme');
    key = await cli('key', 'create', '--workspace', 'Acme', '--name', 'restart', '--scopes', 'links:read,links:write');
    const dataDir = tempDataDir();
    dataDirs.push(dataDir);
    server = await spawnServer(dataDir, env);
  });
  after(async () => {
    await server?.stop();
    await proxy?.close();
    await database?.drop();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  test('redirects go on, API writes answer 503 with Retry-After, and once it is back the clicks are written and the caches reloaded', async () => {
    const created = await http(server.url, 'POST', '/api/v1/links', { key, body: { url: 'https://example.com/before', slug: 'through' } });
    assert.equal(created.status, 201, created.text);
    let visits = 0;
    const visit = () => {
      visits++;
      return fetch(`${server.url}/through`, { redirect: 'manual', headers: BROWSER });
    };
    assert.equal((await visit()).status, 302); // cached from here on

    proxy.down();
    // What PostgreSQL does to its clients when it shuts down, for connections not through the proxy.
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [database.name]);

      // The redirect path does not wait for the database.
      const during = await Promise.all(Array.from({ length: 5 }, () => visit()));
      assert.deepEqual(during.map((r) => r.status), [302, 302, 302, 302, 302]);

      const write = await http(server.url, 'POST', '/api/v1/links', { key, body: { url: 'https://example.com/during' } });
      assert.equal(write.status, 503, write.text);
      assert.ok(Number(write.headers.get('retry-after')) > 0, 'Retry-After');
      const ready = await http(server.url, 'GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.equal(ready.json.reason, 'database_unreachable');
      // The scrape still answers: the counts read from the database keep their last value.
      const metrics = await http(server.url, 'GET', '/metrics');
      assert.equal(metrics.status, 200, metrics.text.slice(0, 500));
      assert.match(metrics.text, /^linkqr_storage_available 0$/m);
      assert.match(metrics.text, /^linkqr_outbox_pending_deliveries \d+$/m);
      assert.match(metrics.text, /^linkqr_process_cpu_seconds_total /m);

      // Another instance changes the link while this one cannot hear of it.
      await admin.query(`update links set url = 'https://example.com/after' where slug = 'through'`);
    } finally {
      await admin.end();
      proxy.up();
    }

    // Back: writes work again, without a restart of the instance.
    await eventually(async () => (await http(server.url, 'GET', '/readyz')).status === 200, 15_000);
    // The change feed, which reconnects every second while PostgreSQL is away, says so once and
    // once more when it is back (src/lib/repeated-failure.test.ts: the count over a long outage).
    await eventually(async () => /"msg":"the change feed's connection to PostgreSQL [^"]* works again/.test((await server.peek()).output), 15_000);
    const { output } = await server.peek();
    const count = (message: RegExp) => output.split('\n').filter((line) => message.test(line)).length;
    assert.equal(count(/"msg":"the change feed's connection to PostgreSQL [^"]* failed"/), 1, output);
    assert.equal(count(/"msg":"the change feed's connection to PostgreSQL [^"]* works again, after \d+ failures?"/), 1, output);
    await eventually(async () => (await http(server.url, 'POST', '/api/v1/links', { key, body: { url: 'https://example.com/after-restart' } })).status === 201, 15_000);
    // The change it missed: its cache was reloaded.
    await eventually(async () => (await visit()).headers.get('location') === 'https://example.com/after', 15_000);
    // Every visit is a click written: the 5 buffered during the outage too.
    await eventually(async () => {
      const link = await http(server.url, 'GET', `/api/v1/links/${created.json.id}`, { key });
      return link.status === 200 && link.json.clicks === visits;
    }, 40_000);
  });
});
