import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { formatKey, generateKeyParts, parseKey } from '../../keys/key-format.js';
import { findKeyById } from '../../keys/keys.repo.js';
import { listKeys, revokeKey, setKeyEnabled } from '../../keys/keys.service.js';
import type { Scope } from '../../keys/scopes.js';
import { ALL_SCOPES, eventually, fakeClock, type HttpResult, runCli, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';
import { findWorkspaceByName } from '../../workspaces/workspaces.repo.js';

function partsOf(key: string): { id: string; secret: string } {
  const parsed = parseKey(key);
  assert.ok(parsed.ok, `not a valid key: ${key}`);
  return { id: parsed.id, secret: parsed.secret };
}

/** A 401/403 problem+json with the given code, which never echoes the credential back. */
function assertProblem(res: HttpResult, status: number, code: string, credential?: string) {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(res.json.code, code);
  assert.equal(res.json.status, status);
  assert.equal(typeof res.json.type, 'string');
  assert.equal(typeof res.json.title, 'string');
  assert.equal(typeof res.json.detail, 'string');
  if (status === 401) assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer\b/i);
  if (credential) {
    assert.ok(!res.text.includes(credential), 'the response echoes the credential');
    for (const [, value] of res.headers) assert.ok(!value.includes(credential), 'a response header echoes the credential');
  }
}

describe('API authentication', () => {
  const clock = fakeClock();
  let t: TestServer;
  let key: string;
  let workspaceId: string;
  /** Every key text this suite handled, to check at the end that none reached the logs. */
  const handled: string[] = [];
  const newKey = async (opts: Parameters<TestServer['key']>[0] = {}) => {
    const k = await t.key(opts);
    handled.push(k);
    return k;
  };
  const rowOf = async (k: string) => (await findKeyById(t.store.db, partsOf(k).id))!;

  before(async () => {
    t = await startTestServer({ clock });
    key = await newKey();
    workspaceId = (await findWorkspaceByName(t.store.db, 'Acme'))!.id;
  });
  after(() => t.close());

  describe('refused credentials answer 401 problem+json with WWW-Authenticate', () => {
    const { id: unknownId, secret: unknownSecret } = generateKeyParts();
    const cases: [string, () => Record<string, string>, string][] = [
      ['no Authorization header', () => ({}), 'missing_api_key'],
      ['Basic scheme', () => ({ authorization: `Basic ${Buffer.from(`user:${key}`).toString('base64')}` }), 'malformed_api_key'],
      ['Token scheme with a valid key', () => ({ authorization: `Token ${key}` }), 'malformed_api_key'],
      ['the key without a scheme', () => ({ authorization: key }), 'malformed_api_key'],
      ['"Bearer" and nothing else', () => ({ authorization: 'Bearer' }), 'malformed_api_key'],
      ['Bearer with a non-lqr token', () => ({ authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc' }), 'malformed_api_key'],
      ['Bearer with a truncated key', () => ({ authorization: `Bearer ${key.slice(0, -1)}` }), 'malformed_api_key'],
      ['Bearer with one secret character changed (bad checksum)', () => ({ authorization: `Bearer ${mutate(key, 30)}` }), 'malformed_api_key'],
      [
        'well-formed key with an unknown id',
        () => ({ authorization: `Bearer ${formatKey({ id: unknownId, secret: unknownSecret })}` }),
        'invalid_api_key',
      ],
      [
        'right id, wrong secret',
        () => ({ authorization: `Bearer ${formatKey({ id: partsOf(key).id, secret: unknownSecret })}` }),
        'invalid_api_key',
      ],
    ];
    for (const [name, headers, code] of cases) {
      test(`${name} → ${code}`, async () => {
        const h = headers();
        const credential = h.authorization?.replace(/^\S+ /, '');
        for (const [method, path] of [['GET', '/api/v1/me'], ['GET', '/api/v1/links'], ['POST', '/api/v1/links'], ['GET', '/api/v1/no-such-route']] as const) {
          const res = await t.request(method, path, { headers: h, body: method === 'POST' ? { url: 'https://example.com/' } : undefined });
          assertProblem(res, 401, code, credential && credential.length > 8 ? credential : undefined);
        }
      });
    }
  });

  test('the Bearer scheme name is case-insensitive (RFC 9110 §11.1)', async () => {
    for (const scheme of ['bearer', 'BEARER']) {
      const res = await t.request('GET', '/api/v1/me', { headers: { authorization: `${scheme} ${key}` } });
      assert.equal(res.status, 200, `${scheme}: ${res.text}`);
    }
  });

  test('extra spaces around the key are tolerated', async () => {
    const res = await t.request('GET', '/api/v1/me', { headers: { authorization: `Bearer   ${key}  ` } });
    assert.equal(res.status, 200, res.text);
  });

  describe('key lifecycle over HTTP', () => {
    test('revoked → api_key_revoked, from the very next request', async () => {
      const k = await newKey();
      assert.equal((await t.request('GET', '/api/v1/me', { key: k })).status, 200);
      await revokeKey(t.store, TEST_OPERATOR, partsOf(k).id);
      assertProblem(await t.request('GET', '/api/v1/me', { key: k }), 401, 'api_key_revoked', k);
    });

    test('revoked by the CLI while the server runs → the very next request is 401', async () => {
      // A key made by the CLI, as an operator would.
      const created = await runCli(['key', 'create', '--workspace', 'Acme', '--name', 'CRM sync', '--scopes', 'links:read', '--env', 'production'], {
        dataDir: t.dataDir,
      });
      assert.equal(created.code, 0, created.stderr);
      const k = created.stdout.trim();
      handled.push(k);
      assert.equal(created.stdout, `${k}\n`, 'only the key on stdout');
      assert.ok(!created.stderr.includes(k) && !created.stderr.includes(partsOf(k).secret), 'the key reached stderr');
      const { id, secret } = partsOf(k);

      const me = await t.request('GET', '/api/v1/me', { key: k });
      assert.equal(me.status, 200, me.text);
      assert.equal(me.json.environment, 'production');
      assert.equal((await t.request('GET', '/api/v1/links', { key: k })).status, 200);
      // The verification is cached now: only the status read on each request can stop it.
      assert.equal(t.server.deps.verifiedKeys.has(id, (await rowOf(k)).secret_hash, secret), true);

      const revoked = await runCli(['key', 'revoke', id], { dataDir: t.dataDir });
      assert.equal(revoked.code, 0, revoked.stderr);
      assertProblem(await t.request('GET', '/api/v1/links', { key: k }), 401, 'api_key_revoked', k);
      assertProblem(await t.request('GET', '/api/v1/me', { key: k }), 401, 'api_key_revoked', k);
    });

    test('disabled by the CLI → api_key_disabled; enabled again → works', async () => {
      const k = await newKey();
      const { id } = partsOf(k);
      assert.equal((await t.request('GET', '/api/v1/me', { key: k })).status, 200);

      const disabled = await runCli(['key', 'disable', id], { dataDir: t.dataDir });
      assert.equal(disabled.code, 0, disabled.stderr);
      assertProblem(await t.request('GET', '/api/v1/me', { key: k }), 401, 'api_key_disabled', k);

      const enabled = await runCli(['key', 'enable', id], { dataDir: t.dataDir });
      assert.equal(enabled.code, 0, enabled.stderr);
      assert.equal((await t.request('GET', '/api/v1/me', { key: k })).status, 200);
    });

    test('disabled in-process → api_key_disabled; enabled → works; revoked → cannot be enabled', async () => {
      const k = await newKey();
      const { id } = partsOf(k);
      assert.equal((await t.request('GET', '/api/v1/links', { key: k })).status, 200);
      await setKeyEnabled(t.store, TEST_OPERATOR, id, false);
      assertProblem(await t.request('GET', '/api/v1/links', { key: k }), 401, 'api_key_disabled', k);
      await setKeyEnabled(t.store, TEST_OPERATOR, id, true);
      assert.equal((await t.request('GET', '/api/v1/links', { key: k })).status, 200);

      await revokeKey(t.store, TEST_OPERATOR, id);
      const enable = await runCli(['key', 'enable', id], { dataDir: t.dataDir });
      assert.notEqual(enable.code, 0, 'enabling a revoked key must fail');
      assertProblem(await t.request('GET', '/api/v1/links', { key: k }), 401, 'api_key_revoked', k);
    });

    test('expired → api_key_expired once the clock passes expiresAt', async () => {
      const expiresAt = clock.now() + 60_000;
      const k = await newKey({ expiresAt });
      const me = await t.request('GET', '/api/v1/me', { key: k });
      assert.equal(me.status, 200);
      assert.equal(me.json.expiresAt, new Date(expiresAt).toISOString());
      clock.advance(59_999);
      assert.equal((await t.request('GET', '/api/v1/me', { key: k })).status, 200);
      clock.advance(1);
      assertProblem(await t.request('GET', '/api/v1/me', { key: k }), 401, 'api_key_expired', k);
      assertProblem(await t.request('GET', '/api/v1/links', { key: k }), 401, 'api_key_expired', k);
      // Other keys are unaffected.
      assert.equal((await t.request('GET', '/api/v1/me', { key })).status, 200);
    });
  });

  describe('scopes', () => {
    const createLink = async () => {
      const res = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/scoped', title: 'original' } });
      assert.equal(res.status, 201, res.text);
      return res.json.id as string;
    };
    const linkCount = async () => (await t.request('GET', '/api/v1/links?limit=100', { key })).json.data.length as number;

    interface Route {
      name: string;
      scope: Scope;
      call(k: string): Promise<HttpResult>;
      okStatus: number;
      /** Checks that a refused call changed nothing. */
      unchanged(): Promise<void>;
    }
    let linkId: string;
    let deletable: string;
    const routes: Route[] = [
      {
        name: 'GET /links',
        scope: 'links:read',
        call: (k) => t.request('GET', '/api/v1/links', { key: k }),
        okStatus: 200,
        unchanged: async () => {},
      },
      {
        name: 'POST /links',
        scope: 'links:write',
        call: (k) => t.request('POST', '/api/v1/links', { key: k, body: { url: 'https://example.com/new' } }),
        okStatus: 201,
        unchanged: async () => {},
      },
      {
        name: 'GET /links/:id',
        scope: 'links:read',
        call: (k) => t.request('GET', `/api/v1/links/${linkId}`, { key: k }),
        okStatus: 200,
        unchanged: async () => {},
      },
      {
        name: 'PATCH /links/:id',
        scope: 'links:write',
        call: (k) => t.request('PATCH', `/api/v1/links/${linkId}`, { key: k, body: { title: 'changed' } }),
        okStatus: 200,
        unchanged: async () => {
          assert.equal((await t.request('GET', `/api/v1/links/${linkId}`, { key })).json.title, 'original');
        },
      },
      {
        name: 'DELETE /links/:id',
        scope: 'links:write',
        call: (k) => t.request('DELETE', `/api/v1/links/${deletable}`, { key: k }),
        okStatus: 204,
        unchanged: async () => {
          assert.equal((await t.request('GET', `/api/v1/links/${deletable}`, { key })).status, 200);
        },
      },
    ];

    for (const route of routes) {
      test(`${route.name} needs ${route.scope}`, async () => {
        linkId = await createLink();
        deletable = await createLink();
        const withoutScope = await newKey({ scopes: ALL_SCOPES.filter((s) => s !== route.scope), name: `no ${route.scope}` });
        const onlyScope = await newKey({ scopes: [route.scope], name: `only ${route.scope}` });

        const countBefore = await linkCount();
        const refused = await route.call(withoutScope);
        assertProblem(refused, 403, 'insufficient_scope', withoutScope);
        assert.match(refused.json.detail, new RegExp(route.scope));
        await route.unchanged();
        assert.equal(await linkCount(), countBefore, 'a refused call changed the number of links');

        const allowed = await route.call(onlyScope);
        assert.equal(allowed.status, route.okStatus, allowed.text);
      });
    }

    test('a links:read key can read but not write; a links:write key can write but not read', async () => {
      const id = await createLink();
      const reader = await newKey({ scopes: ['links:read'] });
      const writer = await newKey({ scopes: ['links:write'] });

      assert.equal((await t.request('GET', '/api/v1/links', { key: reader })).status, 200);
      assert.equal((await t.request('GET', `/api/v1/links/${id}`, { key: reader })).status, 200);
      assertProblem(await t.request('POST', '/api/v1/links', { key: reader, body: { url: 'https://example.com/r' } }), 403, 'insufficient_scope');
      assertProblem(await t.request('PATCH', `/api/v1/links/${id}`, { key: reader, body: { title: 'x' } }), 403, 'insufficient_scope');
      assertProblem(await t.request('DELETE', `/api/v1/links/${id}`, { key: reader }), 403, 'insufficient_scope');

      assertProblem(await t.request('GET', '/api/v1/links', { key: writer }), 403, 'insufficient_scope');
      assertProblem(await t.request('GET', `/api/v1/links/${id}`, { key: writer }), 403, 'insufficient_scope');
      assert.equal((await t.request('PATCH', `/api/v1/links/${id}`, { key: writer, body: { title: 'x' } })).status, 200);
      assert.equal((await t.request('DELETE', `/api/v1/links/${id}`, { key: writer })).status, 204);
    });

    test('keys with only analytics or webhooks scopes cannot touch links', async () => {
      const k = await newKey({ scopes: ['analytics:read', 'webhooks:read', 'webhooks:write'] });
      assertProblem(await t.request('GET', '/api/v1/links', { key: k }), 403, 'insufficient_scope');
      assertProblem(await t.request('POST', '/api/v1/links', { key: k, body: { url: 'https://example.com/' } }), 403, 'insufficient_scope');
    });
  });


  describe('GET /api/v1/me', () => {
    test('works with any valid key and describes it and its workspace', async () => {
      for (const scope of ALL_SCOPES) {
        const k = await newKey({ scopes: [scope], name: `only ${scope}` });
        const res = await t.request('GET', '/api/v1/me', { key: k });
        assert.equal(res.status, 200, res.text);
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
        const { usage, ...workspace } = res.json.workspace;
        assert.deepEqual({ ...res.json, workspace }, {
          id: partsOf(k).id,
          name: `only ${scope}`,
          environment: 'test',
          scopes: [scope],
          expiresAt: null,
          workspace: { id: workspaceId, name: 'Acme', plan: 'default' },
        });
        assert.equal(usage.plan, 'default');
        assert.deepEqual(Object.keys(usage.limits).sort(), ['analyticsRetentionDays', 'apiKeys', 'clicksPerMonth', 'domains', 'links', 'members', 'qrCodes', 'webhookEndpoints']);
        assert.ok(!res.text.includes(partsOf(k).secret));
        assert.ok(!res.text.includes((await rowOf(k)).secret_hash));
      }
    });

    test('a key sees its own workspace', async () => {
      const other = await newKey({ workspace: 'Globex', scopes: ['links:read'] });
      const res = await t.request('GET', '/api/v1/me', { key: other });
      assert.equal(res.status, 200);
      assert.equal(res.json.workspace.name, 'Globex');
      assert.notEqual(res.json.workspace.id, workspaceId);
    });
  });

  test('last_used_at, last_used_ip and request_count update on use (refused attempts do not count)', async () => {
    const k = await newKey({ name: 'usage' });
    const { id } = partsOf(k);
    const shown = async () => (await listKeys(t.store, workspaceId)).find((r) => r.id === id)!;
    assert.equal((await shown()).requestCount, 0);
    assert.equal((await shown()).lastUsedAt, null);
    assert.equal((await shown()).lastUsedIp, null);

    assertProblem(await t.request('GET', '/api/v1/me', { key: formatKey({ id, secret: generateKeyParts().secret }) }), 401, 'invalid_api_key');
    const first = clock.now() + 3_600_000;
    clock.set(first);
    assert.equal((await t.request('GET', '/api/v1/me', { key: k })).status, 200);
    // Usage may be written behind; it must show up shortly, counting the one accepted request only.
    await eventually(async () => (await shown()).requestCount > 0);
    assert.equal((await shown()).requestCount, 1);
    assert.equal((await shown()).lastUsedAt, new Date(first).toISOString());
    assert.equal((await shown()).lastUsedIp, '127.0.0.1');

    clock.advance(90_000);
    assert.equal((await t.request('GET', '/api/v1/links', { key: k })).status, 200);
    assert.equal((await t.request('POST', '/api/v1/links', { key: k, body: { url: 'https://example.com/usage' } })).status, 201);
    await eventually(async () => (await shown()).requestCount >= 3);
    assert.equal((await shown()).requestCount, 3);
    assert.equal((await shown()).lastUsedAt, new Date(first + 90_000).toISOString());
  });

  test('logs never contain a key; request lines carry the key id', async () => {
    const k = await newKey({ name: 'logged' });
    const { id } = partsOf(k);
    const requestId = `auth-log-${Date.now()}`;
    assert.equal((await t.request('GET', '/api/v1/me', { key: k, headers: { 'x-request-id': requestId } })).status, 200);
    // Keys sent where they do not belong must not be logged either.
    await t.request('GET', `/api/v1/me?api_key=${k}`);
    await t.request('GET', '/api/v1/me', { headers: { authorization: `Token ${k}` } });
    await t.request('POST', '/api/v1/links', { key: k, rawBody: '{"url": "not json', headers: { 'content-type': 'application/json' } });

    const lines = t.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    const requestLines = lines.filter((l) => l.msg === 'request');
    const line = requestLines.find((l) => l.reqId === requestId);
    assert.ok(line, 'no request log line for the request');
    assert.equal(line.keyId, id);
    assert.equal(line.status, 200);
    assert.equal(line.path, '/api/v1/me');

    // Every successful API request this suite made names its key id.
    const succeeded = requestLines.filter((l) => typeof l.path === 'string' && l.path.startsWith('/api/v1/') && (l.status as number) < 400);
    assert.ok(succeeded.length > 20);
    for (const l of succeeded) assert.match(String(l.keyId), /^[0-9A-Za-z]{12}$/, JSON.stringify(l));

    const everything = t.logs.join('\n');
    assert.ok(handled.length > 20);
    for (const text of handled) {
      assert.ok(!everything.includes(text), `key ${partsOf(text).id} appears in the logs`);
      assert.ok(!everything.includes(partsOf(text).secret), `the secret of key ${partsOf(text).id} appears in the logs`);
    }
  });
});

/** The key with the character at `index` replaced by another base62 character. */
function mutate(key: string, index: number): string {
  const c = key[index] === 'a' ? 'b' : 'a';
  return key.slice(0, index) + c + key.slice(index + 1);
}
