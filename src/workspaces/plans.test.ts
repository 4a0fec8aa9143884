import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { createKey, listKeys } from '../keys/keys.service.js';
import { AppError } from '../lib/errors.js';
import {
  fakeClock,
  type HttpResult,
  runCli,
  startTestServer,
  tempDataDir,
  TEST_OPERATOR,
  type TestServer,
} from '../testing/harness.js';
import { startReceiver } from '../testing/receiver.js';
import { findWorkspaceByName } from './workspaces.repo.js';

const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0';
const SLACKBOT = 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)';
const ALL_LIMITS = 'links, domains, qrCodes, clicksPerMonth, members, apiKeys, webhookEndpoints, analyticsRetentionDays, apiRequestsPerMinute';

function assertProblem(res: HttpResult, status: number, code: string, what = `${res.status}`) {
  assert.equal(res.status, status, `${what}: expected ${status} ${code}, got ${res.status} ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json\b/, what);
  assert.equal(res.json.status, status, what);
  assert.equal(res.json.code, code, what);
  for (const k of ['type', 'title', 'detail']) assert.equal(typeof res.json[k], 'string', `${what}: problem has ${k}`);
  return res.json;
}

/** 403 plan_limit_reached carrying the limit, the plan, the usage and the maximum (and naming them in detail). */
function assertLimitReached(res: HttpResult, expected: { limit: string; plan: string; usage: number; max: number }) {
  const p = assertProblem(res, 403, 'plan_limit_reached');
  assert.deepEqual({ limit: p.limit, plan: p.plan, usage: p.usage, max: p.max }, expected);
  assert.ok(p.detail.includes(`"${expected.plan}"`) && p.detail.includes(expected.limit), `detail names the plan and the limit: ${p.detail}`);
}

function assertFeatureDisabled(res: HttpResult, feature: string, plan: string, what: string) {
  const p = assertProblem(res, 403, 'plan_feature_disabled', what);
  assert.deepEqual({ feature: p.feature, plan: p.plan }, { feature, plan }, what);
  assert.ok(p.detail.includes(`"${plan}"`) && p.detail.includes(feature), `detail names the plan and the feature: ${p.detail}`);
}

describe('plans: features and limits, enforced through the API and the CLI', () => {
  // Late in a calendar month, so the monthly clicks test can step into the next one.
  const clock = fakeClock(Date.UTC(2030, 0, 31, 22, 0, 0));
  const dataDir = tempDataDir();
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  /** The real CLI against the running server's data dir. */
  const cli = (args: string[], stdin?: string) => runCli(args, { dataDir, stdin });
  const ok = async (args: string[], stdin?: string) => {
    const r = await cli(args, stdin);
    assert.equal(r.code, 0, `linkqr ${args.join(' ')} failed: ${r.stderr}`);
    return r;
  };
  /** Defines plan P with `linkqr plan upsert` and moves W to it with `linkqr workspace set-plan`. */
  const onPlan = async (workspace: string, plan: string, def: { feature?: string; limit?: string }) => {
    const args = ['plan', 'upsert', plan];
    if (def.feature) args.push('--feature', def.feature);
    if (def.limit) args.push('--limit', def.limit);
    await ok(args);
    await ok(['workspace', 'set-plan', workspace, plan]);
  };
  const plans = async () => (await ok(['plan', 'list', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
  const post = (key: string, path: string, body: unknown) => t.request('POST', path, { key, body });
  const newLink = async (key: string) => {
    const res = await post(key, '/api/v1/links', { url: 'https://example.com/plan' });
    assert.equal(res.status, 201, res.text);
    return res.json as { id: string; slug: string };
  };
  const newWebhook = async (key: string) => {
    const res = await post(key, '/api/v1/webhooks', { url: `${receiver.url}/hook`, events: ['link.created'] });
    assert.equal(res.status, 201, res.text);
    return res.json as { id: string };
  };
  const countLinks = async (workspace: string) =>
    (await t.store.db.row<{ n: number }>('select count(*) as n from links where workspace_id = ?', (await findWorkspaceByName(t.store.db, workspace))!.id))!.n;

  before(async () => {
    receiver = await startReceiver();
    t = await startTestServer({ dataDir, clock, env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' } });
  });
  after(async () => {
    await t.close();
    await receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe('linkqr plan upsert / plan list', () => {
    test('a new instance has the "default" plan: every feature on, no limits', async () => {
      const def = (await plans()).find((p) => p.name === 'default');
      assert.deepEqual(def?.features, { api: true, webhooks: true, qr: true, analytics: true });
      assert.deepEqual(def?.limits, {});
    });

    test('a new plan has every feature on; later upserts change only what they name; "none" removes a limit', async () => {
      await ok(['plan', 'upsert', 'Growth', '--limit', 'links=100,members=5']);
      let growth = (await plans()).find((p) => p.name === 'Growth');
      assert.deepEqual(growth, { name: 'Growth', features: { api: true, webhooks: true, qr: true, analytics: true }, limits: { links: 100, members: 5 }, workspaces: 0 });

      await ok(['plan', 'upsert', 'Growth', '--feature', 'webhooks=off,analytics=off', '--limit', 'members=none,apiKeys=3']);
      await t.key({ workspace: 'Grower' });
      await ok(['workspace', 'set-plan', 'Grower', 'Growth']);
      growth = (await plans()).find((p) => p.name === 'Growth');
      assert.deepEqual(growth, { name: 'Growth', features: { api: true, webhooks: false, qr: true, analytics: false }, limits: { links: 100, apiKeys: 3 }, workspaces: 1 });
    });

    test('apiRequestsPerMinute: "unlimited" lifts the limit (0); "none" hands it back to the instance setting', async () => {
      await ok(['plan', 'upsert', 'Firehose', '--limit', 'apiRequestsPerMinute=unlimited']);
      assert.deepEqual((await plans()).find((p) => p.name === 'Firehose').limits, { apiRequestsPerMinute: 0 });
      await ok(['plan', 'upsert', 'Firehose', '--limit', 'apiRequestsPerMinute=none']);
      assert.deepEqual((await plans()).find((p) => p.name === 'Firehose').limits, {});
    });

    test('plan list --json prints one JSON object per line, sorted by name', async () => {
      const r = await ok(['plan', 'list', '--json']);
      const lines = r.stdout.trim().split('\n');
      const names = lines.map((l) => JSON.parse(l).name as string);
      assert.ok(names.includes('default'));
      const lower = names.map((n) => n.toLowerCase());
      assert.deepEqual(lower, [...lower].sort(), 'sorted by name, ignoring case');
      for (const l of lines) assert.deepEqual(Object.keys(JSON.parse(l)).sort(), ['features', 'limits', 'name', 'workspaces']);
    });

    test('plan list for people shows features and limits in the syntax plan upsert takes', async () => {
      const lines = (await ok(['plan', 'list'])).stdout.trim().split('\n');
      assert.match(lines[0]!, /^NAME\s+FEATURES\s+LIMITS\s+WORKSPACES$/);
      assert.ok(lines.some((l) => /^default\s+api=on,webhooks=on,qr=on,analytics=on\s+none\s+\d+$/.test(l)), lines.join('\n'));
      assert.ok(lines.some((l) => /^Growth\s+api=on,webhooks=off,qr=on,analytics=off\s+links=100,apiKeys=3\s+1$/.test(l)), lines.join('\n'));
      assert.doesNotMatch(lines.join('\n'), /\[object Object\]/);
    });

    test('plan upsert says what the plan now is, in the syntax it takes; --json prints the plan as one JSON object', async () => {
      const text = await ok(['plan', 'upsert', 'Starter', '--feature', 'webhooks=off', '--limit', 'links=10']);
      assert.equal(text.stdout, '');
      assert.equal(text.stderr, 'Plan "Starter": features api=on,webhooks=off,qr=on,analytics=on; limits links=10.\n');
      const none = await ok(['plan', 'upsert', 'Starter', '--limit', 'links=none']);
      assert.equal(none.stderr, 'Plan "Starter": features api=on,webhooks=off,qr=on,analytics=on; limits none.\n');

      const json = await ok(['plan', 'upsert', 'Starter', '--limit', 'members=3', '--json']);
      assert.deepEqual(JSON.parse(json.stdout), { name: 'Starter', features: { api: true, webhooks: false, qr: true, analytics: true }, limits: { members: 3 } });
      assert.match(json.stdout, /^\{[^\n]*\}\n$/, 'one line');
      assert.equal(json.stderr, '');
    });

    test('plan names ignore case: upsert "GROWTH" changes "Growth" and keeps its name', async () => {
      const r = await ok(['plan', 'upsert', 'GROWTH', '--limit', 'links=101']);
      assert.match(r.stderr, /Plan "Growth"/);
      const growth = (await plans()).filter((p) => p.name.toLowerCase() === 'growth');
      assert.deepEqual(growth.map((p) => [p.name, p.limits.links]), [['Growth', 101]]);
      await ok(['workspace', 'set-plan', 'Grower', 'growth']);
      const me = await t.request('GET', '/api/v1/me', { key: await t.key({ workspace: 'Grower' }) });
      assert.equal(me.json.workspace.plan, 'Growth');
    });

    const refusals: [string, string[], RegExp][] = [
      ['an unknown feature', ['--feature', 'sso=on'], /unknown feature "sso"; features are api, webhooks, qr, analytics/],
      ['a feature value other than on/off', ['--feature', 'api=yes'], /--feature api must be on or off/],
      ['a feature without a value', ['--feature', 'api'], /--feature takes name=value pairs separated by commas \(bad: "api"\)/],
      ['an unknown limit', ['--limit', 'seats=5'], new RegExp(`unknown limit "seats"; limits are ${ALL_LIMITS}`)],
      ['a negative limit', ['--limit', 'links=-1'], /--limit links must be a whole number, or "none"/],
      ['a fractional limit', ['--limit', 'links=1.5'], /--limit links must be a whole number, or "none"/],
      ['a word for a limit', ['--limit', 'links=ten'], /--limit links must be a whole number, or "none"/],
      ['an empty limit', ['--limit', 'links='], /--limit links must be a whole number, or "none"/],
      ['zero retention days', ['--limit', 'analyticsRetentionDays=0'], /--limit analyticsRetentionDays must be a whole number of at least 1/],
      ['a pair with two "="', ['--limit', 'links=1=2'], /--limit takes name=value pairs/],
      ['a pair without a name', ['--limit', '=5'], /--limit takes name=value pairs/],
    ];
    for (const [what, args, message] of refusals) {
      test(`plan upsert refuses ${what}: exit 2, a clear message, nothing saved`, async () => {
        const r = await cli(['plan', 'upsert', 'Broken', ...args]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, message);
        assert.equal(r.stdout, '');
        assert.equal((await plans()).find((p) => p.name === 'Broken'), undefined);
      });
    }

    test('plan upsert without a name, and set-plan to an unknown plan, are refused', async () => {
      const noName = await cli(['plan', 'upsert']);
      assert.equal(noName.code, 2);
      assert.match(noName.stderr, /expected P/);
      // The same name rules as the Instance page's plan form.
      for (const [name, message] of [['   ', /must not be empty/], ['x'.repeat(65), /must be at most 64 characters/], ['tab\tname', /control characters/]] as const) {
        const bad = await cli(['plan', 'upsert', name]);
        assert.equal(bad.code, 2, name);
        assert.match(bad.stderr, message);
      }
      await t.key({ workspace: 'Planless' });
      const unknown = await cli(['workspace', 'set-plan', 'Planless', 'Nonesuch']);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /Plan "Nonesuch" was not found/);
      const me = await t.request('GET', '/api/v1/me', { key: await t.key({ workspace: 'Planless' }) });
      assert.equal(me.json.workspace.plan, 'default');
    });
  });

  describe('limits', () => {
    test('links: the third link on a 2-link plan is refused with plan_limit_reached; deleting one makes room', async () => {
      const key = await t.key({ workspace: 'Two' });
      await onPlan('Two', 'two-links', { limit: 'links=2' });
      const first = await newLink(key);
      await newLink(key);
      assertLimitReached(await post(key, '/api/v1/links', { url: 'https://example.com/third' }), { limit: 'links', plan: 'two-links', usage: 2, max: 2 });
      assert.equal(await countLinks('Two'), 2);

      assert.equal((await t.request('DELETE', `/api/v1/links/${first.id}`, { key })).status, 204);
      await newLink(key);
      assert.equal(await countLinks('Two'), 2);
    });

    test('links: 20 concurrent POST /links on a 2-link plan create exactly 2', async () => {
      const key = await t.key({ workspace: 'Race' });
      await ok(['workspace', 'set-plan', 'Race', 'two-links']);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => post(key, '/api/v1/links', { url: `https://example.com/race/${i}` })),
      );
      const statuses = results.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 201).length, 2, `statuses: ${statuses.join(',')}`);
      for (const r of results.filter((r) => r.status !== 201)) assertLimitReached(r, { limit: 'links', plan: 'two-links', usage: 2, max: 2 });
      assert.equal(await countLinks('Race'), 2);
    });

    test('apiKeys: linkqr key create and the key service refuse a key past the limit; revoked keys do not count', async () => {
      await t.key({ workspace: 'Keyring', name: 'first' });
      await onPlan('Keyring', 'one-key', { limit: 'apiKeys=1' });

      const refused = await cli(['key', 'create', '--workspace', 'Keyring', '--name', 'second', '--scopes', 'links:read']);
      assert.equal(refused.code, 1, refused.stderr);
      assert.equal(refused.stdout, '', 'no key is printed');
      assert.match(refused.stderr, /The "one-key" plan allows 1 apiKeys; this workspace has 1/);

      const workspaceId = (await findWorkspaceByName(t.store.db, 'Keyring'))!.id;
      await assert.rejects(
        createKey(t.store, TEST_OPERATOR, { workspaceId, name: 'third', environment: 'test', scopes: ['links:read'], expiresAt: null, createdByUserId: null }),
        (e: unknown) => {
          assert.ok(e instanceof AppError);
          assert.equal(e.status, 403);
          assert.equal(e.code, 'plan_limit_reached');
          assert.deepEqual(e.extensions, { limit: 'apiKeys', plan: 'one-key', usage: 1, max: 1 });
          return true;
        },
      );
      const keys = await listKeys(t.store, workspaceId);
      assert.deepEqual(keys.map((k) => k.name), ['first']);

      await ok(['key', 'revoke', keys[0]!.id]);
      const created = await ok(['key', 'create', '--workspace', 'Keyring', '--name', 'replacement', '--scopes', 'links:read']);
      assert.match(created.stdout, /^lqr_\S+\n$/);
    });

    test('webhookEndpoints: the second endpoint on a 1-endpoint plan is refused', async () => {
      const key = await t.key({ workspace: 'Hooks' });
      await onPlan('Hooks', 'one-hook', { limit: 'webhookEndpoints=1' });
      await newWebhook(key);
      const res = await post(key, '/api/v1/webhooks', { url: `${receiver.url}/second`, events: ['link.created'] });
      assertLimitReached(res, { limit: 'webhookEndpoints', plan: 'one-hook', usage: 1, max: 1 });
      assert.equal((await t.request('GET', '/api/v1/webhooks', { key })).json.data.length, 1);
    });

    test('members: linkqr member add refuses a member past the limit; raising the limit lets them in', async () => {
      const password = 'correct horse battery';
      await ok(['user', 'create', '--email', 'owner@team.test', '--password-stdin', '--workspace', 'Team'], password);
      await ok(['user', 'create', '--email', 'second@team.test', '--password-stdin'], password);
      await onPlan('Team', 'solo', { limit: 'members=1' });

      const refused = await cli(['member', 'add', '--workspace', 'Team', '--email', 'second@team.test', '--role', 'member']);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /The "solo" plan allows 1 members; this workspace has 1/);
      const members = async () => (await ok(['member', 'list', '--workspace', 'Team', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l).email);
      assert.deepEqual(await members(), ['owner@team.test']);

      await ok(['plan', 'upsert', 'solo', '--limit', 'members=2']);
      await ok(['member', 'add', '--workspace', 'Team', '--email', 'second@team.test', '--role', 'member']);
      assert.deepEqual(await members(), ['owner@team.test', 'second@team.test']);
    });

    test('qrCodes: generating a QR code past the limit is refused; codes already made stay free', async () => {
      const key = await t.key({ workspace: 'Qr' });
      await onPlan('Qr', 'one-qr', { limit: 'qrCodes=1' });
      const a = await newLink(key);
      const b = await newLink(key);
      assert.equal((await t.request('GET', `/api/v1/links/${a.id}/qr?format=svg`, { key })).status, 200);
      assertLimitReached(await t.request('GET', `/api/v1/links/${b.id}/qr?format=svg`, { key }), { limit: 'qrCodes', plan: 'one-qr', usage: 1, max: 1 });
      // The code already counted is free in any format and size.
      const png = await t.request('GET', `/api/v1/links/${a.id}/qr?format=png&size=256`, { key });
      assert.equal(png.status, 200);
      assert.equal(png.headers.get('content-type'), 'image/png');
      assert.deepEqual((await t.request('GET', '/api/v1/me', { key })).json.workspace.usage.limits.qrCodes, { used: 1, max: 1 });
    });

    test('clicksPerMonth never breaks redirects: past it, links redirect and /me shows the overage; a new month starts at 0', async () => {
      const key = await t.key({ workspace: 'Clicks' });
      await onPlan('Clicks', 'two-clicks', { limit: 'clicksPerMonth=2' });
      const link = await newLink(key);
      for (let i = 0; i < 5; i++) {
        const res = await t.request('GET', `/${link.slug}`, { headers: { 'user-agent': BROWSER } });
        assert.equal(res.status, 302, `visit ${i + 1} redirects`);
        assert.equal(res.headers.get('location'), 'https://example.com/plan');
      }
      // A link preview redirects too, and is no human click.
      assert.equal((await t.request('GET', `/${link.slug}`, { headers: { 'user-agent': SLACKBOT } })).status, 302);
      await t.flushClicks();

      const usage = async () => (await t.request('GET', '/api/v1/me', { key })).json.workspace.usage;
      let u = await usage();
      assert.equal(u.period, '2030-01');
      assert.deepEqual(u.limits.clicksPerMonth, { used: 5, max: 2, overage: 3 });
      assert.equal((await t.request('GET', `/api/v1/links/${link.id}`, { key })).json.clicks, 5);

      clock.set(Date.UTC(2030, 1, 1, 0, 30));
      u = await usage();
      assert.equal(u.period, '2030-02');
      assert.deepEqual(u.limits.clicksPerMonth, { used: 0, max: 2, overage: 0 });
      assert.equal((await t.request('GET', `/${link.slug}`, { headers: { 'user-agent': BROWSER } })).status, 302);
      await t.flushClicks();
      assert.deepEqual((await usage()).limits.clicksPerMonth, { used: 1, max: 2, overage: 0 });
      clock.set(Date.UTC(2030, 0, 31, 22, 0, 0));
    });
  });

  describe('GET /api/v1/me: usage against every limit', () => {
    test('a plan with every limit: used and max of each', async () => {
      const key = await t.key({ workspace: 'Metered' });
      await onPlan('Metered', 'metered', {
        limit: 'links=10,domains=2,qrCodes=5,clicksPerMonth=1000,members=3,apiKeys=4,webhookEndpoints=2,analyticsRetentionDays=30',
      });
      await newLink(key);
      await newLink(key);
      await newWebhook(key);
      const me = await t.request('GET', '/api/v1/me', { key });
      assert.equal(me.status, 200, me.text);
      assert.equal(me.json.workspace.plan, 'metered');
      const { usage } = me.json.workspace;
      assert.equal(usage.plan, 'metered');
      assert.deepEqual(usage.features, { api: true, webhooks: true, qr: true, analytics: true });
      assert.deepEqual(usage.limits, {
        links: { used: 2, max: 10 },
        domains: { used: 0, max: 2 },
        qrCodes: { used: 0, max: 5 },
        clicksPerMonth: { used: 0, max: 1000, overage: 0 },
        members: { used: 0, max: 3 },
        apiKeys: { used: 1, max: 4 },
        webhookEndpoints: { used: 1, max: 2 },
        analyticsRetentionDays: { max: 30 },
      });
    });

    test('on the default plan every max is null', async () => {
      const key = await t.key({ workspace: 'Unmetered' });
      const { limits } = (await t.request('GET', '/api/v1/me', { key })).json.workspace.usage;
      for (const [name, l] of Object.entries(limits as Record<string, { max: unknown }>)) assert.equal(l.max, null, name);
    });
  });

  describe('features', () => {
    /** Every /api/v1 route, with ids of the workspace's own fixtures. */
    const everyRoute = (ids: { link: string; webhook: string; delivery: string }): [string, string, unknown?][] => [
      ['GET', '/api/v1/me'],
      ['GET', '/api/v1/links'],
      ['POST', '/api/v1/links', { url: 'https://example.com/x' }],
      ['GET', `/api/v1/links/${ids.link}`],
      ['PATCH', `/api/v1/links/${ids.link}`, { title: 'x' }],
      ['DELETE', `/api/v1/links/${ids.link}`],
      ...webhookRoutes(ids),
    ];
    const webhookRoutes = (ids: { webhook: string; delivery: string }): [string, string, unknown?][] => [
      ['GET', '/api/v1/webhooks'],
      ['POST', '/api/v1/webhooks', { url: `${receiver.url}/x`, events: ['link.created'] }],
      ['GET', `/api/v1/webhooks/${ids.webhook}`],
      ['PATCH', `/api/v1/webhooks/${ids.webhook}`, { description: 'x' }],
      ['DELETE', `/api/v1/webhooks/${ids.webhook}`],
      ['POST', `/api/v1/webhooks/${ids.webhook}/test`, {}],
      ['POST', `/api/v1/webhooks/${ids.webhook}/rotate-secret`, {}],
      ['GET', `/api/v1/webhooks/${ids.webhook}/deliveries`],
      ['POST', `/api/v1/webhooks/deliveries/${ids.delivery}/redeliver`, {}],
      ['GET', '/api/v1/events'],
    ];
    /** A workspace with a link, an endpoint and a delivery, made while its plan allows them. */
    const fixtures = async (workspace: string) => {
      const key = await t.key({ workspace });
      const link = await newLink(key);
      const webhook = await newWebhook(key);
      const queued = await post(key, `/api/v1/webhooks/${webhook.id}/test`, {});
      assert.equal(queued.status, 202, queued.text);
      return { key, ids: { link: link.id, webhook: webhook.id, delivery: queued.json.deliveryId as string } };
    };

    test('api off: every API route answers 403 plan_feature_disabled naming the feature and the plan, and changes nothing', async () => {
      const { key, ids } = await fixtures('Offline');
      await onPlan('Offline', 'no-api', { feature: 'api=off' });
      for (const [method, path, body] of everyRoute(ids)) {
        assertFeatureDisabled(await t.request(method, path, { key, body }), 'api', 'no-api', `${method} ${path}`);
      }
      // Authentication still comes first.
      assertProblem(await t.request('GET', '/api/v1/me', { headers: { authorization: 'Bearer nope' } }), 401, 'malformed_api_key');

      await ok(['workspace', 'set-plan', 'Offline', 'default']);
      assert.equal((await t.request('GET', `/api/v1/links/${ids.link}`, { key })).status, 200, 'the refused DELETE deleted nothing');
      assert.equal((await t.request('GET', `/api/v1/webhooks/${ids.webhook}`, { key })).status, 200);
      assert.equal(await countLinks('Offline'), 1);
    });

    test('webhooks off: every webhook route and the event log answer 403; links keep working', async () => {
      const { key, ids } = await fixtures('Hookless');
      await onPlan('Hookless', 'no-webhooks', { feature: 'webhooks=off' });
      for (const [method, path, body] of webhookRoutes(ids)) {
        assertFeatureDisabled(await t.request(method, path, { key, body }), 'webhooks', 'no-webhooks', `${method} ${path}`);
      }
      assert.equal((await t.request('GET', '/api/v1/links', { key })).status, 200);
      await newLink(key);
      const me = await t.request('GET', '/api/v1/me', { key });
      assert.equal(me.status, 200);
      assert.equal(me.json.workspace.usage.features.webhooks, false);
    });

    test(
      'webhooks off: existing endpoints get no deliveries for new events',
      async () => {
        const { key } = await fixtures('Muted');
        const workspaceId = (await findWorkspaceByName(t.store.db, 'Muted'))!.id;
        const linkCreatedDeliveries = async () =>
          (await t.store.db.row<{ n: number }>(
            `select count(*) as n from webhook_deliveries d join events e on e.id = d.event_id where d.workspace_id = ? and e.type = 'link.created'`,
            workspaceId,
          ))!.n;
        await newLink(key);
        assert.equal(await linkCreatedDeliveries(), 1, 'while webhooks are on, a new link is delivered');
        await onPlan('Muted', 'no-webhooks', { feature: 'webhooks=off' });
        await newLink(key);
        assert.equal(await linkCreatedDeliveries(), 1, 'with webhooks off, no delivery is queued');
      },
    );
  });

  describe('switching plans', () => {
    test('linkqr workspace set-plan, and plan upsert on the current plan, take effect on the next request of the running server', async () => {
      const key = await t.key({ workspace: 'Switcher' });
      await onPlan('Switcher', 'one-link', { limit: 'links=1' });
      await ok(['plan', 'upsert', 'ten-links', '--limit', 'links=10']);
      await newLink(key);
      assertLimitReached(await post(key, '/api/v1/links', { url: 'https://example.com/b' }), { limit: 'links', plan: 'one-link', usage: 1, max: 1 });

      await ok(['workspace', 'set-plan', 'Switcher', 'ten-links']);
      await newLink(key);
      assert.equal((await t.request('GET', '/api/v1/me', { key })).json.workspace.plan, 'ten-links');

      await ok(['workspace', 'set-plan', 'Switcher', 'one-link']);
      assertLimitReached(await post(key, '/api/v1/links', { url: 'https://example.com/c' }), { limit: 'links', plan: 'one-link', usage: 2, max: 1 });

      await ok(['plan', 'upsert', 'one-link', '--feature', 'api=off']);
      assertFeatureDisabled(await t.request('GET', '/api/v1/me', { key }), 'api', 'one-link', 'GET /me');
      await ok(['plan', 'upsert', 'one-link', '--feature', 'api=on', '--limit', 'links=none']);
      await newLink(key);
      assert.equal(await countLinks('Switcher'), 3);
    });
  });
});
