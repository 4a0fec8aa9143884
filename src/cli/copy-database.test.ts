import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { AdminClient } from '../testing/admin-client.js';
import { eventually, http, runCli, type ServerProcess, spawnServer, tempDataDir } from '../testing/harness.js';
import { createTestDatabase, skipWithoutPostgres, type TestDatabase } from '../testing/postgres.js';
import { startReceiver } from '../testing/receiver.js';

// `linkqr copy-database`: a team moves from SQLite to PostgreSQL and back, with everything that
// makes their instance theirs: keys that still authenticate, passwords that still sign in, links
// with their clicks, webhook endpoints whose secrets still sign (sealed again for the target's key),
// and row ids that go on after the copied ones.

const SECRET = 'the secret every PostgreSQL instance of this team shares';
const BROWSER = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' };

describe('copy-database between SQLite and PostgreSQL', { skip: skipWithoutPostgres }, () => {
  let database: TestDatabase;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const dirs: string[] = [];
  const dir = () => {
    const d = tempDataDir();
    dirs.push(d);
    return d;
  };
  const sqliteDir = dir();
  let key: string;
  let linkId: string;
  let hook: { id: string; secret: string };

  /** Runs a server on `env`, hands it to `check`, and stops it. */
  const withServer = async (dataDir: string, env: Record<string, string>, check: (s: ServerProcess) => Promise<void>) => {
    const server = await spawnServer(dataDir, env);
    try {
      await check(server);
    } finally {
      await server.stop();
    }
  };

  /** What the team had still works on this server, and it takes new rows after the copied ones. */
  const stillTheirs = async (server: ServerProcess, clicksBefore: number) => {
    const link = await http(server.url, 'GET', `/api/v1/links/${linkId}`, { key });
    assert.equal(link.status, 200, link.text);
    assert.equal(link.json.clicks, clicksBefore);
    assert.equal((await fetch(`${server.url}/moving`, { redirect: 'manual', headers: BROWSER })).status, 302);
    await eventually(async () => (await http(server.url, 'GET', `/api/v1/links/${linkId}`, { key })).json.clicks === clicksBefore + 1, 5_000);
    await new AdminClient(server.url).signIn('owner@example.com', 'the owner password is long');
    const created = await http(server.url, 'POST', '/api/v1/links', { key, body: { url: 'https://example.com/after-the-move' } });
    assert.equal(created.status, 201, created.text);
    // The endpoint's secret, sealed again for this database's key, still signs what the receiver checks.
    const before = receiver.received.length;
    assert.equal((await http(server.url, 'POST', `/api/v1/webhooks/${hook.id}/test`, { key })).status, 202);
    await receiver.waitFor(before + 1);
    const sent = receiver.received.at(-1)!;
    assert.doesNotThrow(() => new Webhook(hook.secret).verify(sent.body, sent.headers as Record<string, string>));
  };

  before(async () => {
    database = await createTestDatabase();
    receiver = await startReceiver();
    const cli = async (stdin: string | undefined, ...args: string[]) => {
      const r = await runCli(args, { dataDir: sqliteDir, stdin, env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' } });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    await cli(undefined, 'migrate');
    await cli('the owner password is long\n', 'user', 'create', '--email', 'owner@example.com', '--password-stdin', '--workspace', 'Acme');
    key = await cli(undefined, 'key', 'create', '--workspace', 'Acme', '--name', 'crm', '--scopes', 'links:read,links:write,webhooks:read,webhooks:write');
    // No LINKQR_SECRET on SQLite: its secrets are sealed with the key file in its data dir.
    await withServer(sqliteDir, { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' }, async (s) => {
      const link = await http(s.url, 'POST', '/api/v1/links', { key, body: { url: 'https://example.com/moving', slug: 'moving' } });
      assert.equal(link.status, 201, link.text);
      linkId = link.json.id;
      for (let i = 0; i < 3; i++) await fetch(`${s.url}/moving`, { redirect: 'manual', headers: BROWSER });
      const endpoint = await http(s.url, 'POST', '/api/v1/webhooks', { key, body: { url: `${receiver.url}/moved`, events: ['link.created'] } });
      assert.equal(endpoint.status, 201, endpoint.text);
      hook = { id: endpoint.json.id, secret: endpoint.json.secret };
    });
  });
  after(async () => {
    await receiver?.close();
    await database?.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('SQLite to PostgreSQL and back: every table counted, and the instance works on each copy', async () => {
    const toPostgres = await runCli(['copy-database', '--to', database.url], { dataDir: sqliteDir, env: { LINKQR_SECRET: SECRET } });
    assert.equal(toPostgres.code, 0, toPostgres.stderr);
    assert.match(toPostgres.stdout, /^TABLE\s+SOURCE\s+COPIED\s+CHECK$/m);
    assert.match(toPostgres.stdout, /^links\s+1\s+1\s+ok$/m);
    assert.match(toPostgres.stdout, /^clicks\s+3\s+3\s+ok$/m);
    assert.doesNotMatch(toPostgres.stdout, /DIFFERS/);
    assert.match(toPostgres.stderr, /clicks: 3 rows/);

    const onPostgres = { LINKQR_DATABASE_URL: database.url, LINKQR_SECRET: SECRET, LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' };
    await withServer(dir(), onPostgres, (s) => stillTheirs(s, 3));

    // And back, into a new data dir: what was added on PostgreSQL comes too.
    const backDir = dir();
    const toSqlite = await runCli(['copy-database', '--to', backDir], { dataDir: dir(), env: { LINKQR_DATABASE_URL: database.url, LINKQR_SECRET: SECRET } });
    assert.equal(toSqlite.code, 0, toSqlite.stderr);
    assert.match(toSqlite.stdout, /^links\s+2\s+2\s+ok$/m);
    assert.match(toSqlite.stdout, /^clicks\s+4\s+4\s+ok$/m);
    await withServer(backDir, { LINKQR_SECRET: SECRET, LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' }, (s) => stillTheirs(s, 4));
  });

  test('refuses a target that holds data, a copy to the same kind, and a data dir a server is using', async () => {
    const other = await createTestDatabase();
    try {
      assert.equal((await runCli(['copy-database', '--to', other.url], { dataDir: sqliteDir, env: { LINKQR_SECRET: SECRET } })).code, 0);
      const again = await runCli(['copy-database', '--to', other.url], { dataDir: sqliteDir, env: { LINKQR_SECRET: SECRET } });
      assert.equal(again.code, 1);
      assert.match(again.stderr, /already holds data: workspaces \(1\)/);
    } finally {
      await other.drop();
    }

    const sameKind = await runCli(['copy-database', '--to', dir()], { dataDir: sqliteDir });
    assert.equal(sameKind.code, 2);
    assert.match(sameKind.stderr, /copies between SQLite and PostgreSQL/);

    const empty = await createTestDatabase();
    try {
      await withServer(sqliteDir, {}, async () => {
        const busy = await runCli(['copy-database', '--to', empty.url], { dataDir: sqliteDir, env: { LINKQR_SECRET: SECRET } });
        assert.equal(busy.code, 1);
        assert.match(busy.stderr, /in use|running|pid/i);
      });
    } finally {
      await empty.drop();
    }

    const noSecret = await runCli(['copy-database', '--to', database.url], { dataDir: sqliteDir });
    assert.equal(noSecret.code, 1);
    assert.match(noSecret.stderr, /LINKQR_SECRET/);
    const fromPostgresWithoutSecret = await runCli(['copy-database', '--to', dir()], { dataDir: dir(), env: { LINKQR_DATABASE_URL: database.url } });
    assert.equal(fromPostgresWithoutSecret.code, 1);
    assert.match(fromPostgresWithoutSecret.stderr, /set LINKQR_SECRET to the one your PostgreSQL instances use/);
  });

  test('a source whose key is missing: the copy says which secrets it cannot open and leaves the target empty', async () => {
    // The database without the linkqr.key that sealed its webhook secret.
    const keyless = dir();
    for (const file of readdirSync(sqliteDir).filter((f) => f.startsWith('linkqr.db'))) copyFileSync(join(sqliteDir, file), join(keyless, file));
    const target = await createTestDatabase();
    try {
      const copied = await runCli(['copy-database', '--to', target.url], { dataDir: keyless, env: { LINKQR_SECRET: SECRET } });
      assert.equal(copied.code, 1);
      assert.match(copied.stderr, /1 webhook signing secrets cannot be opened .*; the target was emptied again/);
      // Emptied: with the key back, the same copy goes through.
      copyFileSync(join(sqliteDir, 'linkqr.key'), join(keyless, 'linkqr.key'));
      const again = await runCli(['copy-database', '--to', target.url], { dataDir: keyless, env: { LINKQR_SECRET: SECRET } });
      assert.equal(again.code, 0, again.stderr);
    } finally {
      await target.drop();
    }
  });
});
