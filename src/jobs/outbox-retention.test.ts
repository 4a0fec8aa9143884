import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, fakeClock, startTestServer, type TestServer } from '../testing/harness.js';
import { startReceiver } from '../testing/receiver.js';
import { OUTBOX_RETENTION_MS } from './retention.job.js';

const DAY = 86_400_000;

describe('retention job: the event log and webhook deliveries', () => {
  const clock = fakeClock(Date.UTC(2031, 0, 1));
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    receiver = await startReceiver();
    t = await startTestServer({ clock, env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32', LINKQR_WEBHOOK_RETRY_SCHEDULE: '40d' } });
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  const count = async (sql: string) => (await t.store.db.row<{ n: number }>(sql))!.n;

  test('drops finished deliveries and events older than 30 days, keeps newer ones and anything still pending', async () => {
    const key = await t.key();
    const ok = await t.request('POST', '/api/v1/webhooks', { key, body: { url: `${receiver.url}/ok`, events: ['link.created'] } });
    assert.equal(ok.status, 201, ok.text);
    // Nothing listens on port 9: deliveries there fail and wait 40 days for their retry.
    const down = await t.request('POST', '/api/v1/webhooks', { key, body: { url: 'http://127.0.0.1:9/down', events: ['link.updated'] } });
    assert.equal(down.status, 201, down.text);

    // Old: a delivered link.created, and a link.updated whose delivery keeps failing (pending, retry in 40 days).
    const old = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/old' } });
    await t.request('PATCH', `/api/v1/links/${old.json.id}`, { key, body: { title: 'x' } });
    await receiver.waitFor(1);
    const settled = async () => (await count(`select count(*) as n from webhook_deliveries where attempts = 0`)) === 0;
    await eventually(settled);

    clock.advance(OUTBOX_RETENTION_MS + DAY);
    await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/new' } });
    await receiver.waitFor(2);
    await eventually(settled);

    assert.equal(await count('select count(*) as n from events'), 3);
    const outcome = await t.server.scheduler.run('retention');
    assert.equal(outcome.status, 'ok');

    const events = await t.store.db.rows<{ type: string; payload: string }>('select type, payload from events order by id');
    assert.deepEqual(
      events.map((e) => [e.type, JSON.parse(e.payload).data.url]),
      [
        ['link.updated', 'https://example.com/old'], // its delivery is still pending
        ['link.created', 'https://example.com/new'],
      ],
    );
    const deliveries = await t.store.db.rows<{ status: string }>('select status from webhook_deliveries order by id');
    assert.deepEqual(deliveries.map((d) => d.status), ['pending', 'succeeded']);
    assert.equal(await count('select count(*) as n from webhook_attempts'), 2, "the deleted delivery's attempt went with it");
  });
});
