import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { openStore, type Store } from '../store.js';
import { loadConfig } from '../config.js';
import type { Db } from '../db/db.js';
import { AppError } from '../lib/errors.js';
import type { Clock } from '../lib/clock.js';
import { fakeClock, TEST_BACKEND, tempDataDir, TEST_OPERATOR } from '../testing/harness.js';
import { createTestDatabase, type TestDatabase } from '../testing/postgres.js';
import { createWorkspace } from '../workspaces/workspaces.service.js';
import { formatKey, generateKeyParts, parseKey } from './key-format.js';
import { KeyUsageRecorder } from './key-usage.js';
import { findKeyById } from './keys.repo.js';
import { authenticateKey, createKey, type KeyDeps, listKeys, revokeKey, rotateKey, setKeyEnabled } from './keys.service.js';
import type { Scope } from './scopes.js';
import { VerificationCache } from './verification-cache.js';

const HOUR = 3_600_000;
const IP = '203.0.113.7';

/** An object on which touching anything throws: proof that a code path never reached it. */
function untouchable<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get: (_t, prop) => {
      throw new Error(`${what}.${String(prop)} was touched`);
    },
    has: () => {
      throw new Error(`${what} was inspected`);
    },
  });
}

/** Runs fn and returns the AppError code it threw (fails if it threw anything else or nothing). */
async function rejectionCode(fn: () => Promise<unknown>): Promise<string> {
  return (await rejection(fn)).code;
}

/** Runs fn and returns the AppError it rejected with (fails if it rejected with anything else or not at all). */
async function rejection(fn: () => Promise<unknown>): Promise<AppError> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof AppError, `expected an AppError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

/** The id and secret of a key text the test made itself. */
function partsOf(key: string): { id: string; secret: string } {
  const parsed = parseKey(key);
  assert.ok(parsed.ok, `not a valid key: ${key}`);
  return { id: parsed.id, secret: parsed.secret };
}

describe('keys service', () => {
  let store: Store;
  let clock: ReturnType<typeof fakeClock>;
  let workspaceId: string;
  let dataDir: string;
  /** On PostgreSQL (LINKQR_TEST_BACKEND=postgres), the store's database. */
  let database: TestDatabase | undefined;

  before(async () => {
    dataDir = tempDataDir();
    clock = fakeClock();
    database = TEST_BACKEND === 'postgres' ? await createTestDatabase() : undefined;
    const backend = database ? { LINKQR_DATABASE_URL: database.url, LINKQR_SECRET: 'linkqr-test-secret-not-for-production' } : {};
    store = await openStore(loadConfig({ LINKQR_DATA_DIR: dataDir, LINKQR_LOG_LEVEL: 'silent', ...backend }), { clock });
    workspaceId = (await createWorkspace(store, TEST_OPERATOR, 'Acme')).id;
    keyUsage = new KeyUsageRecorder({ db: store.db, log: store.log });
  });
  after(async () => {
    await keyUsage.flush();
    await store.db.close();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const newKey = (opts: { scopes?: Scope[]; expiresAt?: number | null; name?: string } = {}) =>
    createKey(store, TEST_OPERATOR, {
      workspaceId,
      name: opts.name ?? 'CRM sync',
      environment: 'staging',
      scopes: opts.scopes ?? ['links:read'],
      expiresAt: opts.expiresAt ?? null,
      createdByUserId: null,
    });
  let keyUsage: KeyUsageRecorder;
  const depsWith = (verifiedKeys = new VerificationCache()): KeyDeps => ({ db: store.db, clock: store.clock, verifiedKeys, keyUsage });
  /** The stored row, with usage recorded so far written out. */
  const storedRow = async (id: string) => {
    await keyUsage.flush();
    return (await findKeyById(store.db, id))!;
  };

  test('createKey returns the key text once and stores only an argon2id hash of the secret', async () => {
    const { key, record } = await newKey({ scopes: ['links:read', 'links:write'] });
    const parsed = partsOf(key);
    assert.equal(record.id, parsed.id);
    assert.equal(record.prefix, `lqr_${parsed.id}`);
    assert.deepEqual(record.scopes, ['links:read', 'links:write']);
    assert.equal(record.status, 'active');
    assert.equal(record.requestCount, 0);
    assert.equal(record.lastUsedAt, null);
    assert.ok(!JSON.stringify(record).includes(parsed.secret), 'the presented record shows the secret');
    assert.ok(!('secretHash' in record) && !('secret_hash' in record), 'the presented record shows the hash');

    const row = (await findKeyById(store.db, parsed.id))!;
    assert.match(row.secret_hash, /^\$argon2id\$/);
    // Nothing in the stored row holds the secret or the key text.
    for (const value of Object.values(row)) {
      assert.ok(!String(value).includes(parsed.secret));
    }
    assert.deepEqual((await listKeys(store, workspaceId)).find((k) => k.id === parsed.id), record);
  });

  test('a usage flush waits for the batch already being written', async () => {
    const { key, record } = await newKey();
    const recorder = new KeyUsageRecorder({ db: store.db, log: store.log }, 60_000);
    await authenticateKey({ ...depsWith(), keyUsage: recorder }, key, IP);
    // Another transaction holds the database: the first batch waits behind it. (PostgreSQL runs
    // transactions side by side: there the holder locks the table the batch writes.)
    let release!: () => void;
    let holding!: () => void;
    const holds = new Promise<void>((resolve) => (holding = resolve));
    const held = store.db.tx(async (t) => {
      if (t.dialect === 'postgres') await t.exec('lock table api_keys in exclusive mode');
      holding();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await holds;
    const first = recorder.flush();
    let secondDone = false;
    const second = recorder.flush().then(() => (secondDone = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(secondDone, false, 'a flush with nothing of its own to write still waits for the batch under way');
    release();
    await held;
    await second;
    assert.equal((await store.db.row<{ request_count: number }>('select request_count from api_keys where id = ?', record.id))!.request_count, 1);
    await first;
  });

  describe('garbage is refused before any database or argon2 work', () => {
    const { id, secret } = generateKeyParts();
    const good = formatKey({ id, secret });
    const cases: [string, string | undefined, string][] = [
      ['no key', undefined, 'missing_api_key'],
      ['empty key', '', 'missing_api_key'],
      ['not an lqr key', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'malformed_api_key'],
      ['truncated key', good.slice(0, -1), 'malformed_api_key'],
      ['key with a trailing newline', `${good}\n`, 'malformed_api_key'],
      ['one character of the secret changed', `${good.slice(0, 20)}${good[20] === 'a' ? 'b' : 'a'}${good.slice(21)}`, 'malformed_api_key'],
      ['made-up checksum', `${good.slice(0, -6)}${good.endsWith('000000') ? '000001' : '000000'}`, 'malformed_api_key'],
      ['invented key', `lqr_${'a'.repeat(12)}_${'b'.repeat(32)}_${'c'.repeat(6)}`, 'malformed_api_key'],
    ];
    for (const [name, token, code] of cases) {
      test(`${name} → ${code}`, async () => {
        const deps: KeyDeps = {
          db: untouchable<Db>('db'),
          clock: untouchable<Clock>('clock'),
          verifiedKeys: untouchable<VerificationCache>('verifiedKeys'),
          keyUsage: untouchable<KeyUsageRecorder>('keyUsage'),
        };
        const err = await authenticateKey(deps, token, IP).then(
          () => assert.fail('accepted'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
        assert.equal(err.status, 401);
        assert.equal(err.code, code);
      });
    }

    test('the untouchable database really does throw when a well-formed key reaches it', async () => {
      const deps: KeyDeps = { db: untouchable<Db>('db'), clock: store.clock, verifiedKeys: new VerificationCache(), keyUsage };
      await assert.rejects(authenticateKey(deps, good, IP), /db\.\w+ was touched/);
    });
  });

  test('a valid key authenticates into its principal and records the use', async () => {
    const { key, record } = await newKey({ scopes: ['links:read', 'analytics:read'], name: 'Dashboard' });
    clock.advance(1_000);
    const principal = await authenticateKey(depsWith(), key, IP);
    assert.deepEqual(principal, {
      keyId: record.id,
      workspaceId,
      name: 'Dashboard',
      environment: 'staging',
      scopes: ['links:read', 'analytics:read'],
      expiresAt: null,
      plan: { name: 'default', features: { api: true, webhooks: true, qr: true, analytics: true }, limits: {} },
    });
    const row = await storedRow(record.id);
    assert.equal(row.last_used_at, clock.now());
    assert.equal(row.last_used_ip, IP);
    assert.equal(row.request_count, 1);

    // Later uses from elsewhere add up; the last one wins for time and address.
    const deps = depsWith();
    clock.advance(60_000);
    await authenticateKey(deps, key, '198.51.100.1');
    clock.advance(60_000);
    await authenticateKey(deps, key, '2001:db8::1');
    const later = await storedRow(record.id);
    assert.equal(later.request_count, 3);
    assert.equal(later.last_used_at, clock.now());
    assert.equal(later.last_used_ip, '2001:db8::1');
  });

  test('unknown id and wrong secret are invalid_api_key, and a failure is not remembered', async () => {
    const { key } = await newKey();
    const { id, secret } = partsOf(key);
    const cache = new VerificationCache();
    const deps = depsWith(cache);
    const other = generateKeyParts();

    assert.equal(await rejectionCode(() => authenticateKey(deps, formatKey({ id: other.id, secret }), IP)), 'invalid_api_key');
    assert.equal(await rejectionCode(() => authenticateKey(deps, formatKey({ id, secret: other.secret }), IP)), 'invalid_api_key');
    const row = await storedRow(id);
    assert.equal(cache.has(id, row.secret_hash, other.secret), false);
    assert.equal(row.request_count, 0, 'failed attempts are not counted as uses');
    assert.equal(row.last_used_at, null);
  });

  test('verification is cached: the second call with the same key does not run argon2', async () => {
    const { key, record } = await newKey();
    const { secret } = partsOf(key);
    const cache = new VerificationCache();
    const deps = depsWith(cache);
    const hash = (await findKeyById(store.db, record.id))!.secret_hash;

    assert.equal(cache.has(record.id, hash, secret), false);
    await authenticateKey(deps, key, IP);
    assert.equal(cache.has(record.id, hash, secret), true, 'a successful verification is remembered');

    // Proof that a cache hit skips argon2: a secret argon2 would refuse is accepted when the
    // cache vouches for it under the row's current hash.
    const impostorSecret = generateKeyParts().secret;
    const impostor = formatKey({ id: record.id, secret: impostorSecret });
    assert.equal(await rejectionCode(() => authenticateKey(depsWith(), impostor, IP)), 'invalid_api_key', 'argon2 refuses it');
    cache.remember(record.id, hash, impostorSecret);
    const principal = await authenticateKey(deps, impostor, IP);
    assert.equal(principal.keyId, record.id, 'the cached verdict was used instead of argon2');
  });

  describe('rotation', () => {
    test('with a grace period the old secret works until the grace ends, then is refused', async () => {
      const { key: oldKey, record } = await newKey();
      const warm = depsWith();
      await authenticateKey(warm, oldKey, IP); // the old secret is now cached

      const { key: newKeyText } = await rotateKey(store, TEST_OPERATOR, record.id, HOUR);
      assert.equal(partsOf(newKeyText).id, record.id, 'same key record');
      assert.notEqual(newKeyText, oldKey);
      const graceEnd = clock.now() + HOUR;

      for (const [label, deps] of [['cached', warm], ['uncached', depsWith()]] as const) {
        assert.equal((await authenticateKey(deps, oldKey, IP)).keyId, record.id, `old key during grace (${label})`);
        assert.equal((await authenticateKey(deps, newKeyText, IP)).keyId, record.id, `new key (${label})`);
      }
      clock.set(graceEnd - 1);
      assert.equal((await authenticateKey(warm, oldKey, IP)).keyId, record.id, 'old key 1 ms before the grace ends');
      assert.equal((await authenticateKey(depsWith(), oldKey, IP)).keyId, record.id, 'old key 1 ms before the grace ends (uncached)');

      clock.set(graceEnd);
      assert.equal(await rejectionCode(() => authenticateKey(warm, oldKey, IP)), 'invalid_api_key', 'old key after the grace (cached)');
      assert.equal(await rejectionCode(() => authenticateKey(depsWith(), oldKey, IP)), 'invalid_api_key', 'old key after the grace (uncached)');
      assert.equal((await authenticateKey(warm, newKeyText, IP)).keyId, record.id, 'new key after the grace');
    });

    test('grace 0 refuses the old secret at once, even though it was just verified', async () => {
      const { key: oldKey, record } = await newKey();
      const warm = depsWith();
      await authenticateKey(warm, oldKey, IP);
      const { key: newKeyText } = await rotateKey(store, TEST_OPERATOR, record.id, 0);
      assert.equal(await rejectionCode(() => authenticateKey(warm, oldKey, IP)), 'invalid_api_key');
      assert.equal(await rejectionCode(() => authenticateKey(depsWith(), oldKey, IP)), 'invalid_api_key');
      assert.equal((await authenticateKey(warm, newKeyText, IP)).keyId, record.id);
    });

    test('rotating twice ends the grace of the first secret', async () => {
      const { key: first, record } = await newKey();
      const { key: second } = await rotateKey(store, TEST_OPERATOR, record.id, HOUR);
      const { key: third } = await rotateKey(store, TEST_OPERATOR, record.id, HOUR);
      assert.equal(await rejectionCode(() => authenticateKey(depsWith(), first, IP)), 'invalid_api_key');
      assert.equal((await authenticateKey(depsWith(), second, IP)).keyId, record.id);
      assert.equal((await authenticateKey(depsWith(), third, IP)).keyId, record.id);
    });

    test('the grace period is limited to 7 days', async () => {
      const { record } = await newKey();
      const err = await rotateKey(store, TEST_OPERATOR, record.id, 7 * 24 * HOUR + 1).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof AppError, 'a grace over 7 days was accepted');
      assert.equal(err.status, 400);
      const negative = await rotateKey(store, TEST_OPERATOR, record.id, -1).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(negative instanceof AppError, 'a negative grace was accepted');
    });

    test('an unknown key cannot be rotated', async () => {
      await assert.rejects(rotateKey(store, TEST_OPERATOR, generateKeyParts().id, 0), (e: unknown) => e instanceof AppError && e.status === 404);
    });
  });

  describe('disable, enable, revoke and expiry', () => {
    test('disable is reversible and applies to a cached key at once', async () => {
      const { key, record } = await newKey();
      const warm = depsWith();
      await authenticateKey(warm, key, IP);
      assert.equal((await setKeyEnabled(store, TEST_OPERATOR, record.id, false)).status, 'disabled');
      assert.equal(await rejectionCode(() => authenticateKey(warm, key, IP)), 'api_key_disabled');
      assert.equal((await setKeyEnabled(store, TEST_OPERATOR, record.id, true)).status, 'active');
      assert.equal((await authenticateKey(warm, key, IP)).keyId, record.id);
    });

    test('revoke is final: the key is refused at once and cannot be enabled or rotated', async () => {
      const { key, record } = await newKey();
      const warm = depsWith();
      await authenticateKey(warm, key, IP);
      const revoked = await revokeKey(store, TEST_OPERATOR, record.id);
      assert.equal(revoked.status, 'revoked');
      assert.equal(revoked.revokedAt, new Date(clock.now()).toISOString());

      assert.equal(await rejectionCode(() => authenticateKey(warm, key, IP)), 'api_key_revoked');
      assert.equal(await rejectionCode(() => authenticateKey(depsWith(), key, IP)), 'api_key_revoked');

      for (const enabled of [true, false]) {
        const err = await rejection(() => setKeyEnabled(store, TEST_OPERATOR, record.id, enabled));
        assert.equal(err.status, 409);
        assert.equal(err.code, 'api_key_revoked');
      }
      const rotateErr = await rotateKey(store, TEST_OPERATOR, record.id, 0).then(
        () => assert.fail('rotated a revoked key'),
        (e: unknown) => e,
      );
      assert.ok(rotateErr instanceof AppError);
      assert.equal(rotateErr.status, 409);

      // Revoking again changes nothing, not even the revocation time.
      clock.advance(5_000);
      assert.equal((await revokeKey(store, TEST_OPERATOR, record.id)).revokedAt, revoked.revokedAt);
      assert.equal((await findKeyById(store.db, record.id))!.status, 'revoked');
      assert.equal(await rejectionCode(() => authenticateKey(warm, key, IP)), 'api_key_revoked');
    });

    test('a revoked key with the wrong secret says invalid, not revoked (no status leak without the secret)', async () => {
      const { record } = await newKey();
      await revokeKey(store, TEST_OPERATOR, record.id);
      const guess = formatKey({ id: record.id, secret: generateKeyParts().secret });
      assert.equal(await rejectionCode(() => authenticateKey(depsWith(), guess, IP)), 'invalid_api_key');
    });

    test('an expired key is refused from its expiry instant on, cached or not', async () => {
      const expiresAt = clock.now() + HOUR;
      const { key, record } = await newKey({ expiresAt });
      const warm = depsWith();
      assert.equal((await authenticateKey(warm, key, IP)).expiresAt, expiresAt);
      clock.set(expiresAt - 1);
      assert.equal((await authenticateKey(warm, key, IP)).keyId, record.id);
      clock.set(expiresAt);
      assert.equal(await rejectionCode(() => authenticateKey(warm, key, IP)), 'api_key_expired');
      assert.equal(await rejectionCode(() => authenticateKey(depsWith(), key, IP)), 'api_key_expired');
    });

    test('unknown ids are 404 for revoke and enable/disable', async () => {
      const id = generateKeyParts().id;
      assert.equal((await rejection(() => revokeKey(store, TEST_OPERATOR, id))).status, 404);
      assert.equal((await rejection(() => setKeyEnabled(store, TEST_OPERATOR, id, false))).status, 404);
    });
  });
});
