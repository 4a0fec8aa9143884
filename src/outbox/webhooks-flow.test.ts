import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { startReceiver } from '../testing/receiver.js';
import { eventually, startTestServer, type TestServer } from '../testing/harness.js';

describe('webhooks end to end', () => {
  let t: TestServer;
  let key: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    receiver = await startReceiver();
    t = await startTestServer({ env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32', LINKQR_WEBHOOK_RETRY_SCHEDULE: '1s,2s' } });
    key = await t.key();
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  test('a created link is delivered, signed, and verifies with the standardwebhooks package', async () => {
    const created = await t.request('POST', '/api/v1/webhooks', { key, body: { url: `${receiver.url}/hooks`, events: ['link.created', 'webhook.test'] } });
    assert.equal(created.status, 201, created.text);
    assert.match(created.json.secret, /^whsec_/);
    const link = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/w' } });
    await receiver.waitFor(1);
    const hook = receiver.received[0]!;
    const payload = new Webhook(created.json.secret).verify(hook.body, hook.headers as Record<string, string>) as { type: string; data: { id: string } };
    assert.equal(payload.type, 'link.created');
    assert.equal(payload.data.id, link.json.id);
    assert.match(String(hook.headers['user-agent']), /^LinkQR\//);

    // The outcome is recorded right after the receiver answers.
    const deliveries = await eventually(async () => {
      const res = await t.request('GET', `/api/v1/webhooks/${created.json.id}/deliveries`, { key });
      return res.json.data[0]?.status === 'succeeded' ? res : undefined;
    });
    assert.equal(deliveries.json.data[0].attempts.length, 1);
  });
});
