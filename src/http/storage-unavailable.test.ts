import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { DB_FILE } from '../db/files.js';
import { createLink } from '../links/links.service.js';
import { AdminClient } from '../testing/admin-client.js';
import { mountTmpfs, type Tmpfs } from '../testing/disk.js';
import { eventually, http, runCli, spawnServer, sqliteOnly, startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { createUser } from '../users/users.service.js';
import { findWorkspaceByName } from '../workspaces/workspaces.repo.js';

/**
 * While the database cannot be written, the server says so (503, Retry-After, /readyz 503)
 * instead of answering 500s while claiming to be ready, keeps answering what needs no write,
 * and comes back by itself.
 *
 * In-process, the disk conditions are real SQLite states of the server's own connection:
 * `query_only` refuses every write with SQLITE_READONLY (a read-only file or mount), and
 * `max_page_count` at the current size refuses growing writes with SQLITE_FULL (a full disk).
 * They work for any user on any file system. The last suite uses a real full tmpfs (root only).
 * All of them are states of SQLite (its file, lock and PRAGMAs): skipped on PostgreSQL.
 */

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const PASSWORD = 'correct horse battery';
const visit = (base: string, slug: string) => http(base, 'GET', `/${slug}`, { headers: { 'user-agent': CHROME } });
const sample = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);

describe('another process holding the write lock', { skip: sqliteOnly }, () => {
  test('a write that waited out busy_timeout answers 503 storage_unavailable, not 500; it recovers once the lock is released', async () => {
    const t = await startTestServer({ storageProbeMs: 50 });
    try {
      const key = await t.key();
      // A sqlite3 shell left in a write transaction, say.
      const holder = new Database(join(t.dataDir, DB_FILE));
      holder.exec('begin immediate');
      try {
        const refused = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/locked' } });
        assert.equal(refused.status, 503, refused.text);
        assert.equal(refused.json.code, 'storage_unavailable');
        assert.equal(refused.headers.get('retry-after'), '5');
      } finally {
        holder.exec('rollback');
        holder.close();
      }
      await eventually(async () => (await t.request('GET', '/readyz')).status === 200);
      assert.equal((await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/unlocked' } })).status, 201);
    } finally {
      await t.close();
    }
  });
});

describe('a read-only database at run time', { skip: sqliteOnly }, () => {
  let t: TestServer;
  let key: string;
  let admin: AdminClient;
  let open: { id: string; slug: string };
  let limited: { id: string; slug: string };

  before(async () => {
    t = await startTestServer({ storageProbeMs: 50 });
    key = await t.key();
    await createUser(t.store, TEST_OPERATOR, { email: 'owner@example.com', password: PASSWORD, workspace: 'Acme' });
    const ws = (await findWorkspaceByName(t.store.db, 'Acme'))!;
    open = await createLink(t.server.deps, ws.id, TEST_OPERATOR, { url: 'https://example.com/open', slug: 'open' });
    limited = await createLink(t.server.deps, ws.id, TEST_OPERATOR, { url: 'https://example.com/limited', slug: 'limited', maxClicks: 5 });
    admin = await new AdminClient(t.url).signIn('owner@example.com', PASSWORD);
  });
  after(() => t.close());

  test('API writes answer 503 storage_unavailable with Retry-After, /readyz 503; reads and plain redirects go on; it recovers by itself', async () => {
    t.store.db.sqlite.pragma('query_only = 1');
    try {
      const refused = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/new' } });
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.json.code, 'storage_unavailable');
      assert.equal(refused.headers.get('retry-after'), '5');
      assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);

      const ready = await t.request('GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.deepEqual(ready.json, { status: 'not_ready', reason: 'storage_unavailable' });
      assert.equal((await t.request('GET', '/healthz')).status, 200, 'the process is up');
      assert.equal(sample((await t.request('GET', '/metrics')).text, 'linkqr_storage_available'), 0);

      assert.equal((await t.request('GET', `/api/v1/links/${open.id}`, { key })).status, 200, 'reads need no write');
      assert.equal((await visit(t.url, open.slug)).status, 302, 'a link without maxClicks redirects; its click waits in memory');

      // A limited link cannot prove its click is recorded, so it does not answer it (nor count it).
      const unavailable = await visit(t.url, limited.slug);
      assert.equal(unavailable.status, 503);
      assert.equal(unavailable.headers.get('retry-after'), '5');
      assert.match(unavailable.text, /Temporarily unavailable/);
    } finally {
      t.store.db.sqlite.pragma('query_only = 0');
    }

    // No client has to try: the probe notices, and the waiting click is written.
    await eventually(async () => (await t.request('GET', '/readyz')).status === 200);
    await eventually(async () => (await t.request('GET', `/api/v1/links/${open.id}`, { key })).json.clicks === 1);
    assert.equal(sample((await t.request('GET', '/metrics')).text, 'linkqr_storage_available'), 1);
    assert.equal((await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/new' } })).status, 201);
    assert.equal((await visit(t.url, limited.slug)).status, 302);
    assert.equal((await t.request('GET', `/api/v1/links/${limited.id}`, { key })).json.clicks, 1, 'the refused visit did not count');

    const said = t.logs.filter((l) => /the database (cannot be written|can be written again)/.test(l));
    assert.equal(said.length, 2, `said once each way, not per request:\n${said.join('\n')}`);
  });

  test('admin forms answer a 503 page (htmx: swapped into the page) instead of a 500', async () => {
    t.store.db.sqlite.pragma('query_only = 1');
    try {
      const plain = await admin.post('/admin/links', { url: 'https://example.com/from-admin' });
      assert.equal(plain.status, 503, plain.text.slice(0, 300));
      assert.match(plain.text, /Temporarily unavailable/);
      assert.match(plain.text, /cannot write to its database right now/);

      const htmx = await admin.htmx('/admin/links', { url: 'https://example.com/from-admin' });
      assert.equal(htmx.status, 503);
      assert.equal(htmx.headers.get('hx-retarget'), 'body', 'htmx drops a 5xx answer unless told where it goes');
    } finally {
      t.store.db.sqlite.pragma('query_only = 0');
    }
  });
});

describe('storage that comes back with the next write that commits (no probe)', { skip: sqliteOnly }, () => {
  let t: TestServer;
  let key: string;
  before(async () => {
    // The probe rewrites a page in place, which a page limit does not stop: leave it out, so
    // only a write that commits can bring storage back.
    t = await startTestServer({ storageProbeMs: 3_600_000 });
    key = await t.key();
  });
  after(() => t.close());

  test('503 while full, and the next write that commits brings it back', async () => {
    const sqlite = t.store.db.sqlite;
    sqlite.pragma(`max_page_count = ${sqlite.pragma('page_count', { simple: true })}`);
    // Links fill the last free page; the one that needs a new page is refused.
    let refused;
    for (let i = 0; i < 500 && !refused; i++) {
      const res = await t.request('POST', '/api/v1/links', { key, body: { url: `https://example.com/${'x'.repeat(500)}/${i}` } });
      if (res.status !== 201) refused = res;
    }
    assert.ok(refused, 'the disk filled up');
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.json.code, 'storage_unavailable');
    assert.equal((await t.request('GET', '/readyz')).json.reason, 'storage_unavailable');

    sqlite.pragma('max_page_count = 1073741823');
    assert.equal((await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/after' } })).status, 201);
    assert.equal((await t.request('GET', '/readyz')).status, 200, 'back with the write that committed');
  });

  test('clicks that waited for the disk are written as soon as it is back, not at the end of their back-off', async () => {
    const open = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/waiting' } });
    const sqlite = t.store.db.sqlite;
    sqlite.pragma('query_only = 1');
    assert.equal((await visit(t.url, open.json.slug)).status, 302);
    await eventually(() => t.server.deps.clicks.lastError !== undefined);
    assert.equal(t.server.deps.clicks.depth, 1, 'the click waits for its retry (1 s back-off)');

    sqlite.pragma('query_only = 0');
    assert.equal((await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/back' } })).status, 201);
    // The recovery queued the click write in this process before the answer left, so it has run
    // by the end of this setImmediate.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(t.server.deps.clicks.depth, 0);
    assert.equal((await t.request('GET', `/api/v1/links/${open.json.id}`, { key })).json.clicks, 1);
  });
});

describe('a real full disk under linkqr serve', { skip: sqliteOnly }, () => {
  let disk: Tmpfs | string;
  let dataDir: string;
  let key: string;
  before(async () => {
    disk = mountTmpfs(16 * 1024 * 1024);
    if (typeof disk === 'string') return;
    dataDir = join(disk.dir, 'data');
    mkdirSync(dataDir);
    assert.equal((await runCli(['workspace', 'create', 'Acme'], { dataDir })).code, 0);
    const made = await runCli(['key', 'create', '--workspace', 'Acme', '--name', 'disk', '--scopes', 'links:read,links:write'], { dataDir });
    assert.equal(made.code, 0, made.stderr);
    key = made.stdout.trim();
  });
  after(() => {
    if (typeof disk !== 'string') disk.unmount();
  });

  test('503 and not ready while the disk is full; ready again and the waiting clicks written once space returns', async (t) => {
    if (typeof disk === 'string') return t.skip(disk);
    const server = await spawnServer(dataDir);
    try {
      const link = await http(server.url, 'POST', '/api/v1/links', { key, body: { url: 'https://example.com/full' } });
      assert.equal(link.status, 201, link.text);
      disk.fill();

      const refused = await http(server.url, 'POST', '/api/v1/links', { key, body: { url: 'https://example.com/refused' } });
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.json.code, 'storage_unavailable');
      assert.equal((await http(server.url, 'GET', '/readyz')).status, 503);
      for (let i = 0; i < 10; i++) assert.equal((await visit(server.url, link.json.slug)).status, 302);

      disk.free();
      await eventually(async () => (await http(server.url, 'GET', '/readyz')).status === 200);
      await eventually(async () => (await http(server.url, 'GET', `/api/v1/links/${link.json.id}`, { key })).json.clicks === 10);
    } finally {
      const stopped = await server.stop('SIGTERM');
      assert.equal(stopped.code, 0, stopped.output.slice(-2000));
    }
  });

  test('SIGTERM while the disk stays full: exit 1, saying how many answered clicks are lost', async (t) => {
    if (typeof disk === 'string') return t.skip(disk);
    const server = await spawnServer(dataDir);
    let stopped;
    try {
      const link = await http(server.url, 'POST', '/api/v1/links', { key, body: { url: 'https://example.com/lost' } });
      assert.equal(link.status, 201, link.text);
      disk.fill();
      for (let i = 0; i < 7; i++) assert.equal((await visit(server.url, link.json.slug)).status, 302);
      stopped = await server.stop('SIGTERM');
    } finally {
      disk.free();
    }
    assert.equal(stopped.code, 1, stopped.output.slice(-2000));
    assert.match(stopped.output, /\nlinkqr: 7 answered clicks could not be written to the database \(the disk is full \(SQLITE_FULL\)\) and are lost\n/);
  });
});
