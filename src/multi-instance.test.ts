import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { eventually, http, runCli, type ServerProcess, spawnServer, tempDataDir } from './testing/harness.js';
import { createTestDatabase, skipWithoutPostgres, type TestDatabase } from './testing/postgres.js';
import { startReceiver } from './testing/receiver.js';

// Three `linkqr serve` processes on one PostgreSQL database, as behind a load balancer: what one
// instance promises holds across them.

describe('three instances on one PostgreSQL database', { skip: skipWithoutPostgres }, () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  const dataDirs: string[] = [];
  let servers: ServerProcess[] = [];
  let key: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  const cli = async (...args: string[]) => {
    const dataDir = tempDataDir();
    dataDirs.push(dataDir);
    const r = await runCli(args, { dataDir, env });
    assert.equal(r.code, 0, `linkqr ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const api = (i: number, method: string, path: string, body?: unknown) => http(servers[i]!.url, method, path, { key, body });

  before(async () => {
    database = await createTestDatabase();
    receiver = await startReceiver();
    env = {
      LINKQR_DATABASE_URL: database.url,
      LINKQR_SECRET: 'three-instances-share-this-secret',
      LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
    };
    await cli('migrate');
    await cli('workspace', 'create', 'Acme');
    key = await cli('key', 'create', '--workspace', 'Acme', '--name', 'lb', '--scopes', 'links:read,links:write,webhooks:read,webhooks:write');
    const started = await Promise.allSettled(
      [0, 1, 2].map(() => {
        const dataDir = tempDataDir();
        dataDirs.push(dataDir);
        return spawnServer(dataDir, env);
      }),
    );
    servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await receiver?.close();
    await database?.drop();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  /** Where each instance sends a visitor of `/slug` now (status and Location). */
  const redirectsOf = (slug: string) =>
    Promise.all(servers.map(async (s) => {
      const r = await fetch(`${s.url}/${slug}`, { redirect: 'manual' });
      return `${r.status} ${r.headers.get('location') ?? ''}`;
    }));

  test('a link created, changed, disabled and deleted through one instance redirects accordingly on every instance within 1 s', async () => {
    const created = await api(0, 'POST', '/api/v1/links', { url: 'https://example.com/first', slug: 'spread' });
    assert.equal(created.status, 201, created.text);
    // Every instance reads it (and caches it).
    assert.deepEqual(await redirectsOf('spread'), Array(3).fill('302 https://example.com/first'));

    const changed = await api(1, 'PATCH', `/api/v1/links/${created.json.id}`, { url: 'https://example.com/second' });
    assert.equal(changed.status, 200, changed.text);
    await eventually(async () => (await redirectsOf('spread')).every((r) => r === '302 https://example.com/second'), 1_000);

    assert.equal((await api(2, 'PATCH', `/api/v1/links/${created.json.id}`, { status: 'disabled' })).status, 200);
    await eventually(async () => (await redirectsOf('spread')).every((r) => !r.startsWith('302')), 1_000);

    assert.equal((await api(0, 'PATCH', `/api/v1/links/${created.json.id}`, { status: 'active' })).status, 200);
    await eventually(async () => (await redirectsOf('spread')).every((r) => r === '302 https://example.com/second'), 1_000);

    assert.equal((await api(1, 'DELETE', `/api/v1/links/${created.json.id}`)).status, 204);
    await eventually(async () => (await redirectsOf('spread')).every((r) => r.startsWith('404')), 1_000);
  });

  test('a plan limit is exact: 20 concurrent creates over three instances on a 2-link plan make exactly 2 links', async () => {
    await cli('plan', 'upsert', 'two-links', '--limit', 'links=2');
    await cli('workspace', 'create', 'Limited');
    await cli('workspace', 'set-plan', 'Limited', 'two-links');
    const limitedKey = await cli('key', 'create', '--workspace', 'Limited', '--name', 'race', '--scopes', 'links:write');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => http(servers[i % 3]!.url, 'POST', '/api/v1/links', { key: limitedKey, body: { url: `https://example.com/${i}` } })),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [...Array(2).fill(201), ...Array(18).fill(403)], results.map((r) => r.text).join('\n'));
  });

  test('with every instance dispatching, each event reaches the receiver once', async () => {
    const hook = await api(0, 'POST', '/api/v1/webhooks', { url: `${receiver.url}/spread`, events: ['link.created'] });
    assert.equal(hook.status, 201, hook.text);
    const created = await Promise.all(Array.from({ length: 30 }, (_, i) => api(i % 3, 'POST', '/api/v1/links', { url: `https://example.com/hook/${i}` })));
    assert.ok(created.every((r) => r.status === 201));
    await receiver.waitFor(30);
    // A little longer: a second delivery of any of them would arrive now.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const ids = receiver.received.filter((h) => h.path === '/spread').map((h) => h.headers['webhook-id']);
    assert.equal(ids.length, 30);
    assert.equal(new Set(ids).size, 30, 'no event was sent twice');
  });
});
