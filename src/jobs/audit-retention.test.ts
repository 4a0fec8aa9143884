import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fakeClock, startTestServer, type TestServer } from '../testing/harness.js';

const DAY = 86_400_000;

describe('retention job: the audit log', () => {
  const clock = fakeClock(Date.UTC(2031, 0, 1));
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ clock });
  });
  after(() => t.close());

  test('keeps a year, or as long as the plan keeps analytics when that is longer', async () => {
    const db = t.store.db;
    await db.exec(`insert into plans (id, name, features, limits, created_at, updated_at) values ('pln_long', 'Long', '{}', '{"analyticsRetentionDays":400}', 0, 0)`);
    const short = await t.key({ workspace: 'Short' });
    const long = await t.key({ workspace: 'Long' });
    await db.exec(`update workspaces set plan_id = 'pln_long' where name = 'Long'`);

    // One link created (and so one audit entry) per workspace at each age.
    const ages = [500, 390, 366, 364, 10];
    const start = clock.now();
    for (const age of ages) {
      clock.set(start - age * DAY);
      for (const key of [short, long]) {
        const res = await t.request('POST', '/api/v1/links', { key, body: { url: `https://example.com/${age}` } });
        assert.equal(res.status, 201, res.text);
      }
    }
    clock.set(start);
    const outcome = await t.server.scheduler.run('retention');
    assert.equal(outcome.status, 'ok');

    const left = async (name: string) =>
      (
        await db.rows<{ summary: string }>(
          `select a.summary from audit_log a join workspaces w on w.id = a.workspace_id where w.name = ? and a.action = 'link.create' order by a.id`,
          name,
        )
      ).map((r) => Number(JSON.parse(r.summary).url.split('/').pop()));
    assert.deepEqual(await left('Short'), [364, 10]);
    assert.deepEqual(await left('Long'), [390, 366, 364, 10]);
  });
});
