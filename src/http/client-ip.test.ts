import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startTestServer } from '../testing/harness.js';

/**
 * The address the server records for a request (here: in the key's request log, the same value
 * the audit log, rate limits and allowed networks use), for each LINKQR_TRUST_PROXY setting.
 * The test client connects from 127.0.0.1.
 */
async function seenAddresses(trust: string | undefined, headers: (string | undefined)[]): Promise<string[]> {
  const t = await startTestServer({ env: trust === undefined ? {} : { LINKQR_TRUST_PROXY: trust } });
  try {
    const key = await t.key();
    for (const xff of headers) {
      const res = await t.request('GET', '/api/v1/me', { key, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } });
      assert.equal(res.status, 200, res.text);
    }
    await t.server.deps.apiRequests.flush();
    return (await t.store.db.rows<{ ip: string }>('select ip from api_request_log order by id')).map((r) => r.ip);
  } finally {
    await t.close();
  }
}

describe('the client address', () => {
  test('without a trusted proxy, X-Forwarded-For is ignored', async () => {
    assert.deepEqual(await seenAddresses(undefined, ['203.0.113.7', undefined]), ['127.0.0.1', '127.0.0.1']);
  });

  test('entries that are not IP addresses are skipped, whatever the trust setting', async () => {
    const garbage = ['not-an-ip', '<script>alert(1)</script>', '203.0.113.7:4711', 'unknown', ''];
    // Trusting the loopback proxy: the nearest IP it reports.
    assert.deepEqual(await seenAddresses('loopback', [...garbage, `${garbage.join(', ')}, 203.0.113.7`, '203.0.113.7, not-an-ip']), [
      ...garbage.map(() => '127.0.0.1'),
      '203.0.113.7',
      '203.0.113.7',
    ]);
    // Trusting every hop: the farthest IP, never the text beside it.
    assert.deepEqual(await seenAddresses('on', ['evil, 198.51.100.1, 203.0.113.7', 'not-an-ip']), ['198.51.100.1', '127.0.0.1']);
    // One trusted hop: the address that hop saw.
    assert.deepEqual(await seenAddresses('1', ['198.51.100.1, 203.0.113.7', 'x, 2001:db8::5', 'x']), ['203.0.113.7', '2001:db8::5', '127.0.0.1']);
  });
});
