import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Scope } from '../../keys/scopes.js';
import { ALL_SCOPES, type HttpResult, startTestServer, type TestServer } from '../../testing/harness.js';
import { startReceiver } from '../../testing/receiver.js';

/**
 * Every API key scope against every /api/v1 route (SPEC §4's table): a key holding the route's
 * scope gets the route's success status; any other key gets 403 insufficient_scope and changes
 * nothing. Then isolation: a key of another workspace, holding every scope, gets 404 for every
 * route that takes one of this workspace's ids.
 */

type Ids = { link: string; webhook: string; delivery: string };

/** What a route's request is built from: Alpha's fixtures, makers of fresh ones, the receiver. */
interface Fixtures {
  ids: Ids;
  /** Makes the resource a destructive route consumes. */
  fresh: { link(): Promise<string>; webhook(): Promise<string> };
  receiverUrl: string;
}

interface Route {
  method: string;
  path: string;
  /** null: any valid key (GET /me). */
  scope: Scope | null;
  success: number;
  request(f: Fixtures): Promise<{ path: string; body?: unknown }>;
}

const same = (path: (ids: Ids) => string, body?: unknown) => async (f: Fixtures) => ({ path: path(f.ids), body });
const ROUTES: Route[] = [
    { method: 'GET', path: '/me', scope: null, success: 200, request: same(() => '/api/v1/me') },
    { method: 'GET', path: '/links', scope: 'links:read', success: 200, request: same(() => '/api/v1/links') },
    { method: 'POST', path: '/links', scope: 'links:write', success: 201, request: same(() => '/api/v1/links', { url: 'https://example.com/matrix' }) },
    { method: 'GET', path: '/links/:id', scope: 'links:read', success: 200, request: same((ids) => `/api/v1/links/${ids.link}`) },
    {
      method: 'PATCH', path: '/links/:id', scope: 'links:write', success: 200,
      request: same((ids) => `/api/v1/links/${ids.link}`, { title: 'patched by the matrix' }),
    },
    {
      method: 'DELETE', path: '/links/:id', scope: 'links:write', success: 204,
      request: async (f) => ({ path: `/api/v1/links/${await f.fresh.link()}` }),
    },
    { method: 'GET', path: '/links/:id/qr', scope: 'links:read', success: 200, request: same((ids) => `/api/v1/links/${ids.link}/qr?format=svg`) },
    { method: 'GET', path: '/links/:id/stats', scope: 'analytics:read', success: 200, request: same((ids) => `/api/v1/links/${ids.link}/stats`) },
    { method: 'GET', path: '/links/:id/clicks', scope: 'analytics:read', success: 200, request: same((ids) => `/api/v1/links/${ids.link}/clicks`) },
    { method: 'GET', path: '/stats', scope: 'analytics:read', success: 200, request: same(() => '/api/v1/stats') },
    { method: 'GET', path: '/webhooks', scope: 'webhooks:read', success: 200, request: same(() => '/api/v1/webhooks') },
    {
      method: 'POST', path: '/webhooks', scope: 'webhooks:write', success: 201,
      request: async (f) => ({ path: '/api/v1/webhooks', body: { url: `${f.receiverUrl}/matrix`, events: ['link.created'] } }),
    },
    { method: 'GET', path: '/webhooks/:id', scope: 'webhooks:read', success: 200, request: same((ids) => `/api/v1/webhooks/${ids.webhook}`) },
    {
      method: 'PATCH', path: '/webhooks/:id', scope: 'webhooks:write', success: 200,
      request: same((ids) => `/api/v1/webhooks/${ids.webhook}`, { description: 'patched by the matrix' }),
    },
    {
      method: 'DELETE', path: '/webhooks/:id', scope: 'webhooks:write', success: 204,
      request: async (f) => ({ path: `/api/v1/webhooks/${await f.fresh.webhook()}` }),
    },
    { method: 'POST', path: '/webhooks/:id/test', scope: 'webhooks:write', success: 202, request: same((ids) => `/api/v1/webhooks/${ids.webhook}/test`, {}) },
    {
      method: 'POST', path: '/webhooks/:id/rotate-secret', scope: 'webhooks:write', success: 200,
      request: same((ids) => `/api/v1/webhooks/${ids.webhook}/rotate-secret`, { graceSeconds: 60 }),
    },
    { method: 'GET', path: '/webhooks/:id/deliveries', scope: 'webhooks:read', success: 200, request: same((ids) => `/api/v1/webhooks/${ids.webhook}/deliveries`) },
    {
      method: 'POST', path: '/webhooks/deliveries/:id/redeliver', scope: 'webhooks:write', success: 202,
      request: same((ids) => `/api/v1/webhooks/deliveries/${ids.delivery}/redeliver`, {}),
    },
    { method: 'GET', path: '/events', scope: 'webhooks:read', success: 200, request: same(() => '/api/v1/events') },
];

function assertProblem(res: HttpResult, status: number, code: string, what: string) {
  assert.equal(res.status, status, `${what}: expected ${status} ${code}, got ${res.status} ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json\b/, what);
  assert.equal(res.json.status, status, what);
  assert.equal(res.json.code, code, what);
  return res.json as { detail: string };
}

describe('API access matrix', () => {
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let adminKey: string;
  let fixtures: Fixtures;
  /** One key per single scope, plus one holding them all. */
  const keys = new Map<string, string>();
  const KEY_LABELS = [...ALL_SCOPES, 'every scope'] as const;
  const scopesOf = (label: (typeof KEY_LABELS)[number]): Scope[] => (label === 'every scope' ? ALL_SCOPES : [label]);

  before(async () => {
    receiver = await startReceiver();
    t = await startTestServer({ env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' } });
    adminKey = await t.key({ workspace: 'Alpha', name: 'fixtures' });
    const created = async (path: string, body: unknown, status = 201) => {
      const res = await t.request('POST', path, { key: adminKey, body });
      assert.equal(res.status, status, res.text);
      return res.json;
    };
    const fresh = {
      link: async () => (await created('/api/v1/links', { url: 'https://example.com/fresh' })).id as string,
      webhook: async () => (await created('/api/v1/webhooks', { url: `${receiver.url}/fresh`, events: ['link.created'] })).id as string,
    };
    const link = await fresh.link();
    // The link's QR code exists, so the image route needs only links:read (its first image also
    // needs links:write: src/qr/qr-api.test.ts).
    assert.equal((await t.request('GET', `/api/v1/links/${link}/qr?format=svg`, { key: adminKey })).status, 200);
    const webhook = await fresh.webhook();
    const queued = await created(`/api/v1/webhooks/${webhook}/test`, {}, 202);
    fixtures = { ids: { link, webhook, delivery: queued.deliveryId }, fresh, receiverUrl: receiver.url };
    for (const label of KEY_LABELS) keys.set(label, await t.key({ workspace: 'Alpha', scopes: scopesOf(label), name: label }));
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  /** Sends the route with the key of `label` and checks the verdict of the matrix. */
  async function check(route: Route, label: (typeof KEY_LABELS)[number]) {
    const allowed = route.scope === null || scopesOf(label).includes(route.scope);
    const what = `${route.method} ${route.path} with ${label}`;
    const req = await route.request(fixtures);
    const res = await t.request(route.method, req.path, { key: keys.get(label)!, body: req.body });
    if (allowed) {
      assert.equal(res.status, route.success, `${what}: ${res.text}`);
    } else {
      const p = assertProblem(res, 403, 'insufficient_scope', what);
      assert.ok(p.detail.includes(`"${route.scope}"`), `the refusal names the scope it lacks: ${p.detail}`);
    }
  }

  describe('scope × route', () => {
    for (const route of ROUTES) {
      for (const label of KEY_LABELS) {
        const allowed = route.scope === null || scopesOf(label).includes(route.scope);
        test(`${route.method} ${route.path} with ${label} → ${allowed ? route.success : '403 insufficient_scope'}`, () => check(route, label));
      }
    }
  });

  test('refused requests changed nothing', async () => {
    const { ids } = fixtures;
    assert.equal((await t.request('GET', `/api/v1/links/${ids.link}`, { key: adminKey })).status, 200, 'the fixture link survived every refused DELETE');
    assert.equal((await t.request('GET', `/api/v1/webhooks/${ids.webhook}`, { key: adminKey })).status, 200, 'the fixture endpoint survived');
    // Only the two keys holding the write scope (its own key, every scope) created anything.
    const links = await t.request('GET', '/api/v1/links?limit=100', { key: adminKey });
    assert.equal(links.json.data.filter((l: { url: string }) => l.url === 'https://example.com/matrix').length, 2);
    const hooks = await t.request('GET', '/api/v1/webhooks?limit=100', { key: adminKey });
    assert.equal(hooks.json.data.filter((h: { url: string }) => h.url.endsWith('/matrix')).length, 2);
  });

  describe('another workspace: a key with every scope gets 404 for every id of this one', () => {
    let outsider: string;
    before(async () => {
      outsider = await t.key({ workspace: 'Beta', scopes: ALL_SCOPES, name: 'outsider' });
    });
    /** Destructive routes are aimed at Alpha's long-lived fixtures, not fresh ones. */
    const alphas = (): Fixtures => ({ ...fixtures, fresh: { link: async () => fixtures.ids.link, webhook: async () => fixtures.ids.webhook } });

    const idRoutes = ROUTES.filter((r) => r.path.includes(':id'));
    test('the id routes are the 13 of links, webhooks and deliveries', () => {
      assert.equal(idRoutes.length, 13);
    });
    for (const route of idRoutes) {
      test(`${route.method} ${route.path} with Alpha's id → 404 not_found`, async () => {
        const req = await route.request(alphas());
        const res = await t.request(route.method, req.path, { key: outsider, body: req.body });
        assertProblem(res, 404, 'not_found', `${route.method} ${req.path}`);
      });
    }

    test("nothing of Alpha's changed, and Beta's lists and /me show none of it", async () => {
      const { ids } = fixtures;
      await t.request('PATCH', `/api/v1/webhooks/${ids.webhook}`, { key: outsider, body: { description: 'patched by Beta' } });
      await t.request('PATCH', `/api/v1/links/${ids.link}`, { key: outsider, body: { title: 'patched by Beta' } });
      const hook = await t.request('GET', `/api/v1/webhooks/${ids.webhook}`, { key: adminKey });
      assert.equal(hook.status, 200, 'the endpoint survived DELETE by Beta');
      assert.notEqual(hook.json.description, 'patched by Beta');
      const link = await t.request('GET', `/api/v1/links/${ids.link}`, { key: adminKey });
      assert.equal(link.status, 200, 'the link survived DELETE by Beta');
      assert.notEqual(link.json.title, 'patched by Beta');

      for (const path of ['/api/v1/links?limit=100', '/api/v1/webhooks?limit=100', '/api/v1/events?limit=100']) {
        const res = await t.request('GET', path, { key: outsider });
        assert.equal(res.status, 200, res.text);
        for (const id of Object.values(ids)) assert.ok(!res.text.includes(id), `${path} of Beta shows Alpha's ${id}`);
      }
      const me = await t.request('GET', '/api/v1/me', { key: outsider });
      assert.equal(me.json.workspace.name, 'Beta');
    });
  });
});
