import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createDomain } from '../../domains/domains.service.js';
import { createLink } from '../../links/links.service.js';
import { createUser } from '../../users/users.service.js';
import { createWebhook } from '../../webhooks/webhooks.service.js';
import { setWorkspacePlan, upsertPlan } from '../../workspaces/plans.js';
import { requireWorkspace } from '../../workspaces/workspaces.service.js';
import { AdminClient, textOf } from '../../testing/admin-client.js';
import { fakeClock, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';

const PASSWORD = 'correct horse battery';
/** The first user: also the instance admin. */
const ADA = 'ada@example.com';
const OWEN = 'owen@example.com';
const ASK = /Ask the instance admin for a larger plan\.|ask the instance admin for a plan with analytics\.|The instance admin chooses the plan\./;
const CHANGE_PLAN = '<a href="/admin/instance#plans">Change the plan on the Instance page</a>.';

/**
 * Everywhere the admin tells its user to ask the instance admin for another plan, the instance
 * admin themself is offered the Instance page's plans instead.
 */
describe('admin: a plan limit tells the instance admin where to change the plan, and others whom to ask', () => {
  const clock = fakeClock(Date.UTC(2030, 4, 20, 10));
  let t: TestServer;
  let linkId: string;
  let key: string;

  before(async () => {
    t = await startTestServer({ clock, env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' } });
    await createUser(t.store, TEST_OPERATOR, { email: ADA, password: PASSWORD, workspace: 'Acme' });
    await createUser(t.store, TEST_OPERATOR, { email: OWEN, password: PASSWORD, workspace: 'Acme', role: 'owner' });
    await createUser(t.store, TEST_OPERATOR, { email: 'zed@example.com', password: PASSWORD });
    const acme = (await requireWorkspace(t.store, 'Acme')).id;
    linkId = (await createLink(t.server.deps, acme, TEST_OPERATOR, { url: 'https://example.com/', slug: 'home' })).id;
    key = await t.key({ workspace: 'Acme' });
    await createWebhook(t.server.deps, acme, TEST_OPERATOR, { url: 'http://127.0.0.1:9/hook', events: ['link.created'] });
    await createDomain(t.server.deps, acme, TEST_OPERATOR, { hostname: 'go.example.com' });
    // Everything the workspace has is all the plan allows.
    const limits = { links: 1, apiKeys: 1, webhookEndpoints: 1, domains: 1, members: 2, qrCodes: 0 };
    await upsertPlan(t.store.db, TEST_OPERATOR, 'Tight', { features: { analytics: false }, limits }, clock.now());
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, acme, 'Tight', clock.now());
  });
  after(() => t.close());

  for (const [email, instanceAdmin] of [
    [ADA, true],
    [OWEN, false],
  ] as const) {
    test(`${instanceAdmin ? 'the instance admin is offered the Instance page' : 'an owner is told to ask the instance admin'}`, async () => {
      const b = await new AdminClient(t.url).signIn(email, PASSWORD);
      /** The message shows the plan's words and, by who reads it, the link or the advice: never both. */
      const advises = (html: string, where: string) => {
        if (instanceAdmin) {
          assert.ok(html.includes(CHANGE_PLAN), `${where}: the Instance page's plans`);
          assert.doesNotMatch(html, ASK, `${where}: no advice to ask oneself`);
        } else {
          assert.match(html, ASK, `${where}: whom to ask`);
          assert.ok(!html.includes('/admin/instance#plans'), `${where}: no link to a page they cannot open`);
        }
      };
      const refusals: { where: string; path: string; form: Record<string, string>; text: RegExp }[] = [
        { where: 'a new link', path: '/admin/links', form: { url: 'https://example.com/more' }, text: /The &quot;Tight&quot; plan allows 1 links; this workspace has 1\./ },
        { where: 'a new key', path: '/admin/api/keys', form: { name: 'More', environment: 'production', scopes: 'links:read' }, text: /plan allows 1 apiKeys; this workspace has 1\./ },
        { where: 'a new webhook', path: '/admin/api/webhooks', form: { url: 'http://127.0.0.1:9/more', events: 'link.created' }, text: /plan allows 1 webhookEndpoints/ },
        { where: 'a new member', path: '/admin/team', form: { email: 'zed@example.com', role: 'member' }, text: /plan allows 2 members; this workspace has 2\./ },
      ];
      for (const r of refusals) {
        const res = await b.htmx(r.path, r.form);
        assert.ok(res.status === 400 || res.status === 422, `${r.where}: ${res.status}`);
        const alert = /<p class="alert" role="alert">([^]*?)<\/p>/.exec(res.text)?.[1] ?? '';
        assert.match(alert, r.text, r.where);
        advises(alert, r.where);
      }

      const domain = await b.post('/admin/settings/domains', { hostname: 'more.example.com' });
      assert.equal(domain.status, 422);
      const domainError = /<p class="error form-error" role="alert">([^]*?)<\/p>/.exec(domain.text)?.[1] ?? '';
      assert.match(domainError, /plan allows 1 domains/);
      advises(domainError, 'a new domain');

      // Creating a QR code is refused in a flash on the link's page.
      await b.get(`/admin/links/${linkId}`);
      assert.equal((await b.post(`/admin/links/${linkId}/qr`, {})).status, 303);
      const flash = /<div class="flash flash-error"[^>]*>([^]*?)<\/div>/.exec((await b.get(`/admin/links/${linkId}`)).text)?.[1] ?? '';
      assert.match(flash, /plan allows 0 qrCodes/);
      advises(flash, 'a QR code');

      const analytics = await b.get('/admin/analytics');
      assert.equal(analytics.status, 200);
      assert.match(textOf(analytics.text, 'empty-analytics') ?? '', /Analytics are not part of this plan/);
      advises(/<section class="empty-state"[^]*?<\/section>/.exec(analytics.text)![0], 'analytics');

      const settings = (await b.get('/admin/settings')).text;
      advises(/<section class="panel" id="plan"[^]*?<\/section>/.exec(settings)![0], 'the plan on Settings');
      const links = /<li class="meter meter-full" id="meter-links">[^]*?<\/li>/.exec(settings)![0];
      assert.match(links, /Limit reached/);
      if (instanceAdmin) assert.ok(links.includes(CHANGE_PLAN), 'a full meter links to the plans');
      else assert.ok(!links.includes('/admin/instance'), 'a full meter');
    });
  }

  test('the link goes to the plans on the Instance page', async () => {
    const b = await new AdminClient(t.url).signIn(ADA, PASSWORD);
    assert.match((await b.get('/admin/instance')).text, /<section class="instance-section" id="plans"/);
  });

  test('the API keeps the plan’s words as they were', async () => {
    const res = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/api' } });
    assert.equal(res.status, 403);
    assert.equal(res.json.code, 'plan_limit_reached');
    assert.equal(res.json.detail, 'The "Tight" plan allows 1 links; this workspace has 1. Ask the instance admin for a larger plan.');
  });
});
