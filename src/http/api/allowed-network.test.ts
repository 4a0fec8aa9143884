import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listAudit } from '../../audit/audit.js';
import { createKey, setAllowedNetworks } from '../../keys/keys.service.js';
import { AppError } from '../../lib/errors.js';
import { ALL_SCOPES, fakeClock, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';
import { findWorkspaceByName } from '../../workspaces/workspaces.repo.js';

const keyIdOf = (key: string) => key.slice(4, 16);

describe('allowed networks of an API key', () => {
  const clock = fakeClock(Date.UTC(2030, 0, 1, 9));
  let t: TestServer;
  let key: string;
  let id: string;
  let workspaceId: string;
  /** GET /me as a client at `ip` (the loopback proxy's X-Forwarded-For is trusted). */
  const from = (ip: string, k = key) => t.request('GET', '/api/v1/me', { key: k, headers: { 'x-forwarded-for': ip } });

  before(async () => {
    t = await startTestServer({ clock, env: { LINKQR_TRUST_PROXY: 'loopback' } });
    key = await t.key({ workspace: 'Acme', name: 'CRM sync' });
    id = keyIdOf(key);
    workspaceId = (await findWorkspaceByName(t.store.db, 'Acme'))!.id;
  });
  after(() => t?.close());

  test('a key without a list works from any address', async () => {
    for (const ip of ['203.0.113.9', '10.1.2.3', '2001:db8::1', '::ffff:198.51.100.7']) assert.equal((await from(ip)).status, 200, ip);
  });

  describe('a key limited to 10.0.0.0/8, 192.0.2.0/24 and 2001:db8::/32', () => {
    before(async () => {
      await setAllowedNetworks(t.store, TEST_OPERATOR, id, ['10.0.0.0/8', '192.0.2.0/24', '2001:db8::/32']);
    });

    const cases: [string, string, boolean][] = [
      ['IPv4 inside', '10.200.3.4', true],
      ['IPv4 at the edge of a /24', '192.0.2.255', true],
      ['IPv4-mapped IPv6 inside', '::ffff:192.0.2.17', true],
      ['IPv4-mapped IPv6 in hex', '::ffff:a00:1', true],
      ['IPv6 inside', '2001:db8:ffff::1', true],
      ['IPv4 outside', '11.0.0.1', false],
      ['IPv4 next to the /24', '192.0.3.1', false],
      ['IPv4-mapped IPv6 outside', '::ffff:203.0.113.9', false],
      ['IPv6 outside', '2001:db9::1', false],
      ['loopback', '127.0.0.1', false],
    ];
    for (const [name, ip, allowed] of cases) {
      test(`${name} (${ip}) → ${allowed ? '200' : '403 ip_not_allowed'}`, async () => {
        const res = await from(ip);
        if (allowed) {
          assert.equal(res.status, 200, res.text);
          return;
        }
        assert.equal(res.status, 403, res.text);
        assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
        assert.equal(res.json.code, 'ip_not_allowed');
        assert.ok(res.json.detail.includes(`may not be used from ${ip}.`), res.json.detail);
        assert.match(res.json.detail, new RegExp(`admin UI.*linkqr key allow ${id}`), 'says how to change the list');
        for (const cidr of ['10.0.0.0', '192.0.2.0', '2001:db8::']) assert.ok(!res.text.includes(cidr), `the refusal gives away ${cidr}`);
      });
    }

    test('refusals are in the key log, with the address seen', async () => {
      await from('198.51.100.23');
      await t.server.deps.apiRequests.flush();
      const last = await t.store.db.row('select status, ip, path from api_request_log where key_id = ? order by id desc limit 1', id);
      assert.deepEqual(last, { status: 403, ip: '198.51.100.23', path: '/api/v1/me' });
    });

    test('every route is covered, not just /me', async () => {
      const res = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com' }, headers: { 'x-forwarded-for': '203.0.113.1' } });
      assert.equal(res.status, 403);
      assert.equal(res.json.code, 'ip_not_allowed');
      assert.equal((await t.store.db.row<{ n: number }>('select count(*) as n from links'))!.n, 0, 'nothing was created');
    });
  });

  test('a change applies to the very next request, and "any" (null) lifts the limit', async () => {
    await setAllowedNetworks(t.store, TEST_OPERATOR, id, ['198.51.100.0/24']);
    assert.equal((await from('198.51.100.5')).status, 200);
    assert.equal((await from('10.0.0.1')).status, 403);
    await setAllowedNetworks(t.store, TEST_OPERATOR, id, ['10.0.0.1']);
    assert.equal((await from('10.0.0.1')).status, 200, 'a bare address is a /32');
    assert.equal((await from('10.0.0.2')).status, 403);
    await setAllowedNetworks(t.store, TEST_OPERATOR, id, null);
    assert.equal((await from('203.0.113.99')).status, 200);
  });

  test('changes are audited with the list before and after; setting the same list again is not', async () => {
    const entries = async () => (await listAudit(t.store.db, workspaceId, 100)).filter((e) => e.action === 'key.set_networks' && e.target === `api_key:${id}`);
    const before = (await entries()).length;
    await setAllowedNetworks(t.store, { actor: { type: 'operator', id: 'cli:alice' }, ip: null }, id, [' 10.0.0.0/8 ', '10.0.0.0/8', '2001:db8::/48']);
    await setAllowedNetworks(t.store, TEST_OPERATOR, id, ['10.0.0.0/8', '2001:db8::/48']);
    const after = await entries();
    assert.equal(after.length, before + 1);
    assert.equal(after[0]!.actor, 'operator:cli:alice');
    assert.deepEqual(after[0]!.summary, { name: 'CRM sync', allowedCidrs: { from: null, to: ['10.0.0.0/8', '2001:db8::/48'] } });
  });

  test('a key can be created with its networks', async () => {
    const { key: limited, record } = await createKey(t.store, TEST_OPERATOR, {
      workspaceId,
      name: 'Office only',
      environment: 'production',
      scopes: ALL_SCOPES,
      expiresAt: null,
      createdByUserId: null,
      allowedCidrs: ['192.0.2.0/24'],
    });
    assert.deepEqual(record.allowedCidrs, ['192.0.2.0/24']);
    assert.equal((await from('192.0.2.8', limited)).status, 200);
    assert.equal((await from('192.0.3.8', limited)).status, 403);
    const created = (await listAudit(t.store.db, workspaceId, 100)).find((e) => e.action === 'key.create' && e.target === `api_key:${record.id}`);
    assert.deepEqual(created?.summary.allowedCidrs, ['192.0.2.0/24']);
  });

  describe('entries that are not networks are refused, naming the entry', () => {
    const bad = ['10.0.0.0/33', '10.0.0.300', 'example.com', '2001:db8::/129', '10.0.0.0/8/8', '10.0.0.0/-1', '10.0.0.0/08x', '*'];
    for (const entry of bad) {
      test(entry, async () => {
        const allowedCidrs = async () => (await t.store.db.row<{ allowed_cidrs: string | null }>('select allowed_cidrs from api_keys where id = ?', id))!.allowed_cidrs;
        const beforeRow = await allowedCidrs();
        const err = await setAllowedNetworks(t.store, TEST_OPERATOR, id, ['10.0.0.0/8', entry]).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(err instanceof AppError, 'refused');
        assert.equal(err.code, 'validation_failed');
        assert.equal(err.errors?.[0]?.field, 'allowedCidrs');
        assert.ok(err.errors?.[0]?.message.includes(`"${entry}" is not an IP address or network`), err.errors?.[0]?.message);
        assert.equal(await allowedCidrs(), beforeRow, 'unchanged');
      });
    }
  });
});
