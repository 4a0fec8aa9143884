import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { openStore } from '../store.js';
import { DB_FILE } from '../db/files.js';
import { loadConfig } from '../config.js';
import { openDb } from '../db/db.js';
import { createKey } from '../keys/keys.service.js';
import { diskAssets } from '../lib/assets.js';
import { createLogger } from '../lib/logger.js';
import { AdminClient } from '../testing/admin-client.js';
import { ALL_SCOPES, type CliResult, runCli, sqliteOnly, startTestServer, TEST_BACKEND, TEST_OPERATOR, tempDataDir, type TestServer } from '../testing/harness.js';
import {
  addressNeedles,
  encodingsOf,
  findHashedAddress,
  findLeaks,
  type Needle,
  textKeysIn,
  webhookSecretNeedles,
} from '../testing/leak-scan.js';
import { type ReceivedWebhook, startReceiver } from '../testing/receiver.js';
import { createUser } from '../users/users.service.js';
import { createWorkspace } from '../workspaces/workspaces.service.js';

/**
 * Issue 12, item 3: secrets that protect data do not live in the data. Whoever holds the
 * database file, its WAL or any backup reads no webhook secret, API key, password or session,
 * no visitor address, and no key that turns a visitor hash back into an address. What unlocks
 * the sealed secrets (LINKQR_SECRET, or <data dir>/linkqr.key) is never in those files.
 *
 * These tests run the built bundle for the CLI steps: `npm run build` first.
 *
 * Most read SQLite's files (the database, its WAL, its backups), restart servers on the same data
 * dir, use the key file (PostgreSQL requires LINKQR_SECRET) and SQLite's migrations: SQLite only.
 * On PostgreSQL, the last one scans a dump of every table.
 */

const VISITOR_V4 = '203.0.113.77';
const VISITOR_V6 = '2001:db8:4c::77';
const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
/** Behind a proxy on loopback, so a test picks the visitor's address with X-Forwarded-For. */
const ENV = { LINKQR_TRUST_PROXY: 'loopback', LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' };
const SECRET_ENV = { ...ENV, LINKQR_SECRET: 'a shared instance secret of at least 32 characters' };
const KEY_FILE = 'linkqr.key';

const liveFiles = (dataDir: string) => [join(dataDir, DB_FILE), join(dataDir, `${DB_FILE}-wal`)];

function succeeded(r: CliResult, what: string) {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stderr}`);
}

function verify(secret: string, hook: ReceivedWebhook) {
  return new Webhook(secret).verify(hook.body, hook.headers as Record<string, string>) as { type: string };
}

/** An API key's text and the 32-character secret inside it. */
const apiKeyNeedles = (name: string, key: string) => [...encodingsOf(name, key), ...encodingsOf(`${name} secret`, key.split('_')[2]!)];

async function receiver(ctx: TestContext) {
  const r = await startReceiver();
  ctx.after(() => r.close());
  return r;
}

function tempDir(ctx: TestContext) {
  const dir = tempDataDir();
  ctx.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A server over `dataDir` that is closed when the test ends (if the test did not close it). */
async function server(ctx: TestContext, dataDir: string, env: Record<string, string> = ENV): Promise<TestServer> {
  const t = await startTestServer({ dataDir, env });
  ctx.after(() => t.close());
  return t;
}

/**
 * Puts every kind of secret the server keeps into its database through `t` (whose CLI steps run on
 * `dataDir`): API keys, a password and its session, rotated webhook secrets, stored answers that
 * hold them, clicks from two known addresses. Returns what must not be readable there.
 */
async function storeEverySecret(ctx: TestContext, t: TestServer, dataDir: string): Promise<Needle[]> {
  const [receiverA, receiverB] = [await receiver(ctx), await receiver(ctx)];
  const needles: Needle[] = [];

  // API keys, made by the service and by the CLI; a user with a password, signed in.
  const key = await t.key();
  const cliKey = await runCli(['key', 'create', '--workspace', 'Acme', '--name', 'cli', '--scopes', 'links:read'], { dataDir });
  succeeded(cliKey, 'key create');
  needles.push(...apiKeyNeedles('API key', key), ...apiKeyNeedles('CLI API key', cliKey.stdout.trim()));
  const password = 'correct horse battery staple';
  succeeded(await runCli(['user', 'create', '--email', 'owner@example.com', '--password-stdin', '--workspace', 'Acme'], { dataDir, stdin: password }), 'user create');
  const admin = await new AdminClient(t.url).signIn('owner@example.com', password);
  needles.push(...encodingsOf('password', password), ...encodingsOf('session cookie', admin.cookies.get('linkqr_session')!));

  // Endpoint A, rotated with a grace period (so it has a previous secret); endpoint B created
  // with an Idempotency-Key, and A's rotation too: both answers are stored to be replayed.
  const a = await t.request('POST', '/api/v1/webhooks', { key, body: { url: `${receiverA.url}/a`, events: ['link.created'] } });
  assert.equal(a.status, 201, a.text);
  const bBody = { url: `${receiverB.url}/b`, events: ['link.created'] };
  const b = await t.request('POST', '/api/v1/webhooks', { key, body: bBody, headers: { 'idempotency-key': 'create-b' } });
  assert.equal(b.status, 201, b.text);
  const rotate = () =>
    t.request('POST', `/api/v1/webhooks/${a.json.id}/rotate-secret`, { key, body: { graceSeconds: 3600 }, headers: { 'idempotency-key': 'rotate-a' } });
  const rotated = await rotate();
  assert.equal(rotated.status, 200, rotated.text);
  for (const [replay, first] of [
    [await t.request('POST', '/api/v1/webhooks', { key, body: bBody, headers: { 'idempotency-key': 'create-b' } }), b],
    [await rotate(), rotated],
  ] as const) {
    assert.equal(replay.headers.get('idempotent-replayed'), 'true', 'the answer is stored, secret and all');
    assert.equal(replay.json.secret, first.json.secret);
  }
  needles.push(
    ...webhookSecretNeedles('webhook A secret before rotation', a.json.secret),
    ...webhookSecretNeedles('webhook A secret', rotated.json.secret),
    ...webhookSecretNeedles('webhook B secret', b.json.secret),
  );

  // A link clicked from two known addresses; its link.created event reaches both endpoints, signed.
  const link = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/private' } });
  assert.equal(link.status, 201, link.text);
  for (const ip of [VISITOR_V4, VISITOR_V6]) {
    const res = await t.request('GET', `/${link.json.slug}`, { headers: { 'x-forwarded-for': ip, 'user-agent': BROWSER } });
    assert.equal(res.status, 302);
  }
  await t.flushClicks();
  const hashes = (await t.store.db.rows<{ ip_hash: string | null }>('select ip_hash from clicks')).map((r) => r.ip_hash);
  assert.equal(new Set(hashes.filter(Boolean)).size, 2, 'two visitors, two hashes');
  await receiverA.waitFor(1);
  await receiverB.waitFor(1);
  assert.equal(verify(rotated.json.secret, receiverA.received[0]!).type, 'link.created');
  assert.equal(verify(a.json.secret, receiverA.received[0]!).type, 'link.created', 'the previous secret signs too, during its grace period');
  assert.equal(verify(b.json.secret, receiverB.received[0]!).type, 'link.created');
  return needles;
}

describe('secrets at rest', { skip: sqliteOnly }, () => {
  test('the backup job, `linkqr backup` and the live database files hold no secret, no visitor address and no key that re-identifies a visitor', async (ctx) => {
    const dataDir = tempDir(ctx);
    const out = tempDir(ctx);
    const t = await server(ctx, dataDir);
    const needles = await storeEverySecret(ctx, t, dataDir);

    // The key that unlocks the sealed secrets is not in the data either.
    const keyFile = join(dataDir, KEY_FILE);
    if (existsSync(keyFile)) {
      const keyText = readFileSync(keyFile, 'utf8').trim();
      needles.push(...encodingsOf('at-rest key file', keyText), ...encodingsOf('at-rest key', Buffer.from(keyText, 'base64')));
    }

    const job = await t.server.scheduler.run('backup');
    assert.ok(job.status === 'ok', `the backup job: ${job.status}`);
    const jobCopy = job.result.file as string;
    const cliCopy = join(out, 'copy.db');
    succeeded(await runCli(['backup', cliCopy], { dataDir }), 'linkqr backup');
    for (const copy of [jobCopy, cliCopy]) {
      const db = openDb(copy);
      try {
        const count = (table: string) => db.sqlite.prepare(`select count(*) from ${table}`).pluck().get();
        assert.deepEqual([count('webhook_endpoints'), count('idempotency_records'), count('clicks'), count('api_keys')], [2, 2, 2, 2], `${copy} holds the data`);
      } finally {
        await db.close();
      }
    }

    const files = [jobCopy, cliCopy, ...liveFiles(dataDir)];
    const keysInFiles = textKeysIn(files);
    const leaks = [
      ...findLeaks(files, [...needles, ...addressNeedles('visitor address', VISITOR_V4), ...addressNeedles('IPv6 visitor address', VISITOR_V6)]),
      ...findHashedAddress(files, 'visitor address', VISITOR_V4, keysInFiles),
      ...findHashedAddress(files, 'IPv6 visitor address', VISITOR_V6, keysInFiles),
    ];
    assert.deepEqual(leaks, [], 'what someone holding these files can read');
  });

  test('signing secrets and stored answers survive restarts, and a move from the key file to LINKQR_SECRET; deliveries verify with standardwebhooks', async (ctx) => {
    const dataDir = tempDir(ctx);
    const r = await receiver(ctx);
    let t = await server(ctx, dataDir);
    const key = await t.key();
    const body = { url: `${r.url}/hook`, events: ['webhook.test'] };
    const created = await t.request('POST', '/api/v1/webhooks', { key, body, headers: { 'idempotency-key': 'create' } });
    assert.equal(created.status, 201, created.text);
    const { id, secret } = created.json as { id: string; secret: string };
    await t.close();
    assert.deepEqual(findLeaks(liveFiles(dataDir), webhookSecretNeedles('webhook secret', secret)), []);

    let delivered = 0;
    for (const { step, env, dropKeyFile } of [
      { step: 'restarted with the key file', env: ENV, dropKeyFile: false },
      // Values sealed under the key file are sealed again under the key LINKQR_SECRET gives...
      { step: 'restarted with LINKQR_SECRET set', env: SECRET_ENV, dropKeyFile: false },
      // ...so the key file is no longer needed.
      { step: 'restarted with LINKQR_SECRET, the key file gone', env: SECRET_ENV, dropKeyFile: true },
    ]) {
      if (dropKeyFile) rmSync(join(dataDir, KEY_FILE));
      t = await server(ctx, dataDir, env);
      const replay = await t.request('POST', '/api/v1/webhooks', { key, body, headers: { 'idempotency-key': 'create' } });
      assert.equal(replay.headers.get('idempotent-replayed'), 'true', step);
      assert.equal(replay.json.secret, secret, step);
      assert.equal((await t.request('GET', `/api/v1/webhooks/${id}`, { key })).json.needsSecretRotation, false, step);
      assert.equal((await t.request('POST', `/api/v1/webhooks/${id}/test`, { key })).status, 202, step);
      await r.waitFor(++delivered);
      assert.equal(verify(secret, r.received[delivered - 1]!).type, 'webhook.test', step);
      await t.close();
      assert.deepEqual(findLeaks(liveFiles(dataDir), webhookSecretNeedles('webhook secret', secret)), [], step);
    }
  });

  test('a lost key: the server starts, names the endpoints to rotate, holds their deliveries and refuses to replay what it cannot read; rotating repairs', async (ctx) => {
    const dataDir = tempDir(ctx);
    const [lostReceiver, otherReceiver] = [await receiver(ctx), await receiver(ctx)];
    const first = await server(ctx, dataDir);
    const key = await first.key();
    const body = { url: `${lostReceiver.url}/hook`, events: ['link.created'] };
    const created = await first.request('POST', '/api/v1/webhooks', { key, body, headers: { 'idempotency-key': 'lost' } });
    assert.equal(created.status, 201, created.text);
    const { id, secret } = created.json as { id: string; secret: string };
    await first.close();

    rmSync(join(dataDir, KEY_FILE), { force: true });
    const t = await server(ctx, dataDir);
    const warning = t.logs.map((l) => JSON.parse(l) as { msg: string; endpoints?: unknown }).find((l) => JSON.stringify(l.endpoints ?? '').includes(id));
    assert.match(warning?.msg ?? '(no start-up line names the endpoint)', /rotate/i);
    assert.ok(!t.logs.join('\n').includes(secret.slice('whsec_'.length)), 'no secret in the logs');
    assert.equal((await t.request('GET', `/api/v1/webhooks/${id}`, { key })).json.needsSecretRotation, true);
    await createUser(t.store, TEST_OPERATOR, { email: 'owner@example.com', password: 'a long enough password', workspace: 'Acme' });
    const admin = await new AdminClient(t.url).signIn('owner@example.com', 'a long enough password', '/admin/api');
    assert.match((await admin.get('/admin/api')).text, /cannot be read with this server's key[^<]*Deliveries wait until you rotate the secret/);

    const replay = await t.request('POST', '/api/v1/webhooks', { key, body, headers: { 'idempotency-key': 'lost' } });
    assert.equal(replay.status, 409, replay.text);
    assert.equal(replay.json.code, 'idempotency_record_unreadable');

    // A healthy endpoint on the same event: once it has its delivery, the dispatcher has passed over the held one.
    const other = await t.request('POST', '/api/v1/webhooks', { key, body: { url: `${otherReceiver.url}/hook`, events: ['link.created'] } });
    assert.equal(other.status, 201, other.text);
    assert.equal((await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/held' } })).status, 201);
    await otherReceiver.waitFor(1);
    assert.equal(verify(other.json.secret, otherReceiver.received[0]!).type, 'link.created');
    const held = (await t.request('GET', `/api/v1/webhooks/${id}/deliveries`, { key })).json.data;
    assert.deepEqual(held.map((d: { status: string; attemptCount: number }) => [d.status, d.attemptCount]), [['pending', 0]], 'held, not dropped');
    assert.equal(lostReceiver.received.length, 0);

    const rotated = await t.request('POST', `/api/v1/webhooks/${id}/rotate-secret`, { key, body: { graceSeconds: 3600 } });
    assert.equal(rotated.status, 200, rotated.text);
    assert.equal(rotated.json.needsSecretRotation, false);
    assert.equal(rotated.json.previousSecretExpiresAt, null, 'a secret nobody can read signs nothing');
    await lostReceiver.waitFor(1);
    assert.equal(verify(rotated.json.secret, lostReceiver.received[0]!).type, 'link.created', 'the held delivery goes out, signed with the new secret');
  });

  test('an instance upgraded from plaintext: its secrets are sealed at start-up, the IP hash key deleted, and no trace stays in the database files', async (ctx) => {
    const dataDir = tempDir(ctx);
    const r = await receiver(ctx);
    const now = Date.now();
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const previous = `whsec_${randomBytes(32).toString('base64')}`;
    const ipHashKey = randomBytes(32);
    const body = { url: `${r.url}/hook`, events: ['webhook.test'] };
    let key: string;
    let endpointId: string;

    // The database as the release before this one left it: migrations up to 0007, secrets in clear.
    {
      const shipped = diskAssets();
      const assets = { ...shipped, list: (dir: string) => shipped.list(dir).filter((p) => !/^migrations\/sqlite\/(?!000[1-7]_)/.test(p)) };
      const config = loadConfig({ LINKQR_DATA_DIR: dataDir });
      const old = await openStore(config, { assets, log: createLogger('silent'), applyPending: true });
      try {
        const ws = await createWorkspace(old, TEST_OPERATOR, 'Acme');
        const made = await createKey(old, TEST_OPERATOR, { workspaceId: ws.id, name: 'k', environment: 'test', scopes: ALL_SCOPES, expiresAt: null, createdByUserId: null });
        key = made.key;
        endpointId = 'whk_0000000000upgraded00';
        const sql = old.db.sqlite;
        sql
          .prepare(
            `insert into webhook_endpoints (id, workspace_id, url, description, events, enabled, secret, previous_secret, previous_secret_expires_at, created_at, updated_at)
             values (?, ?, ?, '', ?, 1, ?, ?, ?, ?, ?)`,
          )
          .run(endpointId, ws.id, body.url, JSON.stringify(body.events), secret, previous, now + 3_600_000, now, now);
        // The stored answer of the POST that created it (how the middleware fingerprints a request).
        const requestHash = createHash('sha256').update('POST\n/api/v1/webhooks\n').update(JSON.stringify({ events: body.events, url: body.url })).digest('hex');
        const answer = JSON.stringify({ id: endpointId, url: body.url, secret });
        sql
          .prepare(`insert into idempotency_records values (?, 'upgrade', ?, 201, '{"content-type":"application/json"}', ?, ?)`)
          .run(made.record.id, requestHash, answer, now);
        sql.prepare(`insert into settings (key, value) values ('ip_hash_key', ?)`).run(ipHashKey.toString('base64'));
        const oldHash = createHmac('sha256', ipHashKey).update(VISITOR_V4).digest('base64url').slice(0, 22);
        sql.prepare(`insert into clicks (link_id, workspace_id, clicked_at, bot, qr, ip_hash) values ('lnk_x', ?, ?, 0, 0, ?)`).run(ws.id, now, oldHash);
      } finally {
        await old.db.close();
      }
    }

    const t = await server(ctx, dataDir);
    const needles = [
      ...webhookSecretNeedles('webhook secret', secret),
      ...webhookSecretNeedles('previous webhook secret', previous),
      ...encodingsOf('old IP hash key', ipHashKey),
    ];
    const files = liveFiles(dataDir);
    assert.deepEqual([...findLeaks(files, needles), ...findHashedAddress(files, 'visitor address', VISITOR_V4, textKeysIn(files))], []);

    const replay = await t.request('POST', '/api/v1/webhooks', { key: key!, body, headers: { 'idempotency-key': 'upgrade' }, contract: false });
    assert.equal(replay.status, 201, replay.text);
    assert.equal(replay.json.secret, secret, 'the stored answer still replays');
    assert.equal((await t.request('POST', `/api/v1/webhooks/${endpointId!}/test`, { key: key! })).status, 202);
    await r.waitFor(1);
    for (const s of [secret, previous]) assert.equal(verify(s, r.received[0]!).type, 'webhook.test', 'both secrets still sign');
  });
});

describe('secrets at rest on PostgreSQL', { skip: TEST_BACKEND === 'postgres' ? false : 'PostgreSQL only (the suite’s PostgreSQL pass)' }, () => {
  test('a dump of every table holds no secret, no visitor address and no key that re-identifies a visitor', async (ctx) => {
    const dataDir = tempDir(ctx);
    const t = await server(ctx, dataDir, SECRET_ENV);
    const needles = await storeEverySecret(ctx, t, dataDir);
    // Failed sign-ins and rate limits are counted there too: their rows must not name the address or the email.
    const failed = new AdminClient(t.url);
    await failed.get('/admin/login');
    assert.equal((await failed.request('POST', '/admin/login', { form: { email: 'guessed@example.com', password: 'wrong', _csrf: failed.csrf! }, headers: { 'x-forwarded-for': VISITOR_V4 } })).status, 400);
    needles.push(...encodingsOf('a guessed email', 'guessed@example.com'), ...encodingsOf('LINKQR_SECRET', SECRET_ENV.LINKQR_SECRET));

    // What someone holding the database reads: every row of every table, as text.
    const dump = join(tempDir(ctx), 'dump.jsonl');
    const tables = (await t.store.db.rows<{ name: string }>(`select table_name as name from information_schema.tables where table_schema = current_schema()`)).map((r) => r.name);
    const lines: string[] = [];
    for (const table of tables) for (const row of await t.store.db.rows(`select * from "${table}"`)) lines.push(JSON.stringify({ table, row }));
    writeFileSync(dump, `${lines.join('\n')}\n`);
    assert.ok(lines.some((l) => l.includes('"table":"sign_in_failures"')), 'the failed sign-in is in the dump');

    const keysInDump = textKeysIn([dump]);
    const leaks = [
      ...findLeaks([dump], [...needles, ...addressNeedles('visitor address', VISITOR_V4), ...addressNeedles('IPv6 visitor address', VISITOR_V6)]),
      ...findHashedAddress([dump], 'visitor address', VISITOR_V4, keysInDump),
      ...findHashedAddress([dump], 'IPv6 visitor address', VISITOR_V6, keysInDump),
    ];
    assert.deepEqual(leaks, [], 'what someone holding the database can read');
  });
});
