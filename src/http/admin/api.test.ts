import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey } from '../../keys/keys.service.js';
import { createUser } from '../../users/users.service.js';
import { createWebhook, sendTestEvent } from '../../webhooks/webhooks.service.js';
import { addMember } from '../../workspaces/members.service.js';
import { setWorkspacePlan, upsertPlan } from '../../workspaces/plans.js';
import { createWorkspace } from '../../workspaces/workspaces.service.js';
import { startReceiver } from '../../testing/receiver.js';
import { DEFAULT_ROTATION_GRACE_MS } from '../../secrets/rotation-grace.js';
import { ALL_SCOPES, eventually, fakeClock, http, type HttpResult, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';

const PASSWORD = 'correct horse battery';
const OWNER = 'owner@example.com';
const ADMIN = 'admin@example.com';
const MEMBER = 'member@example.com';
const VIEWER = 'viewer@example.com';
const DAY = 86_400_000;
const KEY_TEXT = /lqr_[0-9A-Za-z]{12}_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}/;
const SECRET_TEXT = /whsec_[A-Za-z0-9+/=]{20,}/;
const HX = { 'hx-request': 'true' };

/** One browser's cookies and the CSRF token of the last admin page it opened. */
class Browser {
  readonly cookies = new Map<string, string>();
  csrf: string | undefined;
  constructor(private readonly base: string) {}

  async request(method: string, path: string, opts: { form?: Record<string, string | string[]>; headers?: Record<string, string> } = {}): Promise<HttpResult> {
    const headers: Record<string, string> = { ...opts.headers };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let rawBody: string | undefined;
    if (opts.form) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(opts.form)) for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
      rawBody = params.toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await http(this.base, method, path, { rawBody, headers });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      if (pair.slice(eq + 1) === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const csrf = /name="_csrf" value="([^"]+)"/.exec(res.text)?.[1];
    if (csrf) this.csrf = csrf;
    return res;
  }

  get = (path: string, headers?: Record<string, string>) => this.request('GET', path, { headers });
  /** A form post with the CSRF field, as a plain browser sends it. */
  post = (path: string, form: Record<string, string | string[]> = {}, headers?: Record<string, string>) =>
    this.request('POST', path, { form: { _csrf: this.csrf!, ...form }, headers });
  /** An htmx post: the token in the header, as hx-headers on <body> sends it. */
  hx = (path: string, form: Record<string, string | string[]> = {}) =>
    this.request('POST', path, { form, headers: { ...HX, 'x-csrf-token': this.csrf! } });

  static async signedIn(base: string, email: string): Promise<Browser> {
    const b = new Browser(base);
    await b.get('/admin/login');
    const res = await b.request('POST', '/admin/login', { form: { email, password: PASSWORD, _csrf: b.csrf! } });
    assert.equal(res.status, 303, res.text);
    assert.equal((await b.get('/admin/links')).status, 200);
    return b;
  }
}

/** The error message rendered beside a field (partials/field.eta and the fieldsets). */
const errorOf = (html: string, field: string) => new RegExp(`id="${field}-error">([^<]*)<`).exec(html)?.[1];
const rowOf = (html: string, id: string) => new RegExp(`<(tr|tbody) id="${id}"[\\s\\S]*?</\\1>`).exec(html)?.[0] ?? '';
const keyIdOf = (key: string) => key.slice(4, 16);

describe('admin API & Webhooks page', () => {
  const clock = fakeClock(Date.UTC(2030, 0, 1, 9));
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let owner: Browser;
  let acmeId: string;
  let globexKeyId: string;
  let globexWebhookId: string;
  let globexDeliveryId: string;

  before(async () => {
    receiver = await startReceiver(() => ({ status: 200, body: 'thanks from the receiver' }));
    t = await startTestServer({ clock, env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' } });
    const { workspace } = await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    assert.equal(workspace, 'Acme');
    for (const [email, role] of [
      [ADMIN, 'admin'],
      [MEMBER, 'member'],
      [VIEWER, 'viewer'],
    ] as const) {
      await createUser(t.store, TEST_OPERATOR, { email, password: PASSWORD, workspace: 'Acme', role });
    }
    acmeId = (await t.store.db.row<{ id: string }>('select id from workspaces where name = ?', 'Acme'))!.id;
    // Globex: another workspace, with a key, an endpoint and a delivery none of them may touch.
    const globex = await createWorkspace(t.store, TEST_OPERATOR, 'Globex');
    const deps = t.server.deps;
    globexKeyId = keyIdOf((await createKey(deps, TEST_OPERATOR, { workspaceId: globex.id, name: 'Globex key', environment: 'production', scopes: ALL_SCOPES, expiresAt: null, createdByUserId: null })).key);
    globexWebhookId = (await createWebhook(deps, globex.id, TEST_OPERATOR, { url: `${receiver.url}/globex`, events: ['link.created'] })).id;
    globexDeliveryId = (await sendTestEvent(deps, globex.id, globexWebhookId)).deliveryId;
    await addMember(t.store, TEST_OPERATOR, globex.id, VIEWER, 'owner');
    owner = await Browser.signedIn(t.url, OWNER);
  });
  after(async () => {
    await t?.close();
    await receiver?.close();
  });

  test('owners and admins see both sections with their controls; members and viewers are refused', async () => {
    for (const email of [OWNER, ADMIN]) {
      const b = email === OWNER ? owner : await Browser.signedIn(t.url, email);
      const page = await b.get('/admin/api');
      assert.equal(page.status, 200, email);
      assert.match(page.text, /<h2 id="keys-heading">API keys<\/h2>/);
      assert.match(page.text, /<h2 id="webhooks-heading">Webhooks<\/h2>/);
      assert.match(page.text, /action="\/admin\/api\/keys"/, `${email} sees the key form`);
      assert.match(page.text, /action="\/admin\/api\/webhooks"/, `${email} sees the endpoint form`);
      assert.match(page.text, /No API keys yet/);
      assert.match(page.text, /No webhook endpoints yet/);
    }
    for (const email of [MEMBER, VIEWER]) {
      const b = await Browser.signedIn(t.url, email);
      const page = await b.get('/admin/api');
      assert.equal(page.status, 403, email);
      assert.match(page.text, new RegExp(`Your role \\(${email === MEMBER ? 'member' : 'viewer'}\\) cannot view webhooks\\.`), 'the refusal says what was tried');
      assert.doesNotMatch(page.text, /webhooks\.read/, 'not as an action id');
      assert.doesNotMatch(page.text, /\/admin\/api\/keys|\/admin\/api\/webhooks/, 'no controls');
      assert.doesNotMatch(page.text, /href="\/admin\/api"/, 'not in the sidebar');
      for (const [path, form] of [
        ['/admin/api/keys', { name: 'x', environment: 'production', scopes: 'links:read' }],
        ['/admin/api/webhooks', { url: `${receiver.url}/x`, events: 'link.created' }],
      ] as const) {
        assert.equal((await b.post(path, form)).status, 403, `${email} POST ${path}`);
        assert.equal((await b.hx(path, form)).status, 403, `${email} htmx POST ${path}`);
      }
      assert.equal((await b.get('/admin/api/keys', HX)).status, 403);
    }
    const keys = (await t.store.db.row<{ n: number }>('select count(*) as n from api_keys where workspace_id = ?', acmeId))!;
    assert.equal(keys.n, 0, 'nothing was created by the refused requests');
  });

  test('the key form re-renders with each error beside its field, keeping what was typed', async () => {
    const cases: { name: string; form: Record<string, string | string[]>; field: string; message: RegExp }[] = [
      { name: 'no name', form: { name: ' ', environment: 'production', scopes: 'links:read' }, field: 'name', message: /Give the key a name/ },
      { name: 'long name', form: { name: 'x'.repeat(101), environment: 'production', scopes: 'links:read' }, field: 'name', message: /at most 100/ },
      { name: 'no environment', form: { name: 'CRM', environment: '', scopes: 'links:read' }, field: 'environment', message: /Say where the key is used/ },
      { name: 'no scope', form: { name: 'CRM', environment: 'staging' }, field: 'scopes', message: /at least one scope/ },
      { name: 'unknown scope', form: { name: 'CRM', environment: 'staging', scopes: ['links:read', 'keys:manage'] }, field: 'scopes', message: /Scopes are links:read/ },
      { name: 'not a date', form: { name: 'CRM', environment: 'staging', scopes: 'links:read', expires: '2030-02-30' }, field: 'expires', message: /YYYY-MM-DD/ },
      { name: 'past date', form: { name: 'CRM', environment: 'staging', scopes: 'links:read', expires: '2029-12-31' }, field: 'expires', message: /in the future/ },
    ];
    for (const c of cases) {
      const res = await owner.hx('/admin/api/keys', c.form);
      assert.equal(res.status, 400, c.name);
      assert.match(res.text, /^<div id="key-create"/, `${c.name}: the form fragment, not a page`);
      assert.match(errorOf(res.text, c.field) ?? '', c.message, c.name);
      assert.doesNotMatch(res.text, KEY_TEXT, c.name);
      if (typeof c.form.name === 'string' && c.form.name.trim()) assert.match(res.text, new RegExp(`id="name" name="name" type="text" value="${c.form.name.trim()}"`), `${c.name}: name kept`);
    }
    // Without JavaScript: the whole page, answered 400, the form open with its error.
    const plain = await owner.post('/admin/api/keys', { name: '', environment: 'production', scopes: 'links:read' });
    assert.equal(plain.status, 400);
    assert.match(plain.text, /<title>API &amp; Webhooks/);
    assert.match(errorOf(plain.text, 'name') ?? '', /Give the key a name/);
    assert.match(plain.text, /<details class="form-card" open>/);
  });

  test('a new key is shown once, works, and is listed (never shown again) with who made it', async () => {
    const res = await owner.hx('/admin/api/keys', { name: 'CRM sync', environment: 'staging', scopes: ['links:read', 'links:write'], expires: '2030-06-01' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('hx-trigger'), 'keys-changed');
    const key = KEY_TEXT.exec(res.text)?.[0];
    assert.ok(key, 'the key is in the response');
    assert.equal(res.text.split(key).length - 1, 1, 'exactly once');
    assert.match(res.text, /shown <strong>only this once<\/strong>/);
    assert.match(res.text, /never put an API key in browser code/);
    assert.match(res.text, /data-copy="#key-reveal-new-value"/, 'a copy button');
    assert.match(res.text, /id="name" name="name" type="text" value=""/, 'a fresh form');

    const me = await t.request('GET', '/api/v1/me', { key });
    assert.equal(me.status, 200, me.text);
    assert.deepEqual(me.json.scopes, ['links:read', 'links:write']);
    await t.server.deps.keyUsage.flush();

    const id = keyIdOf(key);
    for (const list of [(await owner.get('/admin/api')).text, (await owner.get('/admin/api/keys', HX)).text]) {
      assert.ok(!list.includes(key.slice(17)), 'the secret is never in a page again');
      const row = rowOf(list, `key-${id}`);
      assert.match(row, /CRM sync/);
      assert.match(row, new RegExp(`lqr_${id}`));
      assert.match(row, />staging</);
      assert.match(row, /<code class="tag">links:read<\/code> <code class="tag">links:write<\/code>/);
      assert.match(row, new RegExp(OWNER));
      assert.match(row, /2030-01-01 <span class="muted">09:00<\/span>/, 'last used');
      assert.match(row, /from <span class="mono">127\.0\.0\.1<\/span>/);
      assert.match(row, /badge-active">Active/);
      assert.match(row, /until 2030-06-01/);
      assert.doesNotMatch(row, /Unused/);
    }

    // Without JavaScript the key comes in the POST's page, and only there.
    const plain = await owner.post('/admin/api/keys', { name: 'Nightly export', environment: 'reporting box', scopes: 'analytics:read' });
    assert.equal(plain.status, 200);
    const second = KEY_TEXT.exec(plain.text)?.[0];
    assert.ok(second);
    assert.ok(!(await owner.get('/admin/api')).text.includes(second));
    assert.match(rowOf((await owner.get('/admin/api')).text, `key-${keyIdOf(second)}`), />reporting box</);
  });

  test('disable, enable, rotate and revoke a key from its row', async () => {
    const res = await owner.hx('/admin/api/keys', { name: 'Rotating', environment: 'production', scopes: 'links:read' });
    const key = KEY_TEXT.exec(res.text)![0];
    const id = keyIdOf(key);
    const me = (k: string) => t.request('GET', '/api/v1/me', { key: k }).then((r) => r.status);

    const disabled = await owner.hx(`/admin/api/keys/${id}/disable`);
    assert.equal(disabled.status, 200);
    assert.match(disabled.text, new RegExp(`^<tr id="key-${id}"`));
    assert.match(disabled.text, /badge-disabled">Disabled/);
    assert.match(disabled.text, /\/enable"/);
    assert.equal(await me(key), 401);
    assert.match((await owner.hx(`/admin/api/keys/${id}/enable`)).text, /badge-active">Active/);
    assert.equal(await me(key), 200);

    const refused = await owner.hx(`/admin/api/keys/${id}/rotate`, { grace: '8' });
    assert.equal(refused.status, 400);
    const rotated = await owner.hx(`/admin/api/keys/${id}/rotate`, { grace: '0' });
    assert.equal(rotated.status, 200);
    assert.equal(rotated.headers.get('hx-trigger'), 'keys-changed');
    assert.match(rotated.text, /^<div class="reveal" id="key-reveal"/);
    assert.match(rotated.text, /The old key stopped working now/);
    const next = KEY_TEXT.exec(rotated.text)![0];
    assert.equal(keyIdOf(next), id, 'same key record');
    assert.equal(await me(key), 401);
    assert.equal(await me(next), 200);
    const graced = await owner.hx(`/admin/api/keys/${id}/rotate`, { grace: '2' });
    assert.match(graced.text, /keeps working for 2 days/);
    assert.equal(await me(next), 200, 'the previous key works during the grace period');

    const revoked = await owner.hx(`/admin/api/keys/${id}/revoke`);
    assert.match(revoked.text, /badge-revoked">Revoked/);
    assert.doesNotMatch(revoked.text, /\/rotate"|\/disable"|\/revoke"/, 'no actions left');
    assert.equal(await me(KEY_TEXT.exec(graced.text)![0]), 401);
    assert.equal((await owner.hx(`/admin/api/keys/${id}/enable`)).status, 409, 'revoke is final');

    // Plain forms come back to the page.
    const back = await owner.post(`/admin/api/keys/${id}/revoke`);
    assert.equal(back.status, 303);
    assert.equal(back.headers.get('location'), '/admin/api');
  });

  test('the endpoint form shows errors beside its fields, SSRF refusals beside the URL', async () => {
    const cases: { name: string; form: Record<string, string | string[]>; field: string; message: RegExp }[] = [
      { name: 'no url', form: { url: '', events: 'link.created' }, field: 'url', message: /is required/ },
      { name: 'no events', form: { url: `${receiver.url}/hook` }, field: 'events', message: /at least one event/ },
      { name: 'unknown event', form: { url: `${receiver.url}/hook`, events: 'link.exploded' }, field: 'events', message: /must be one of/ },
      { name: 'metadata address', form: { url: 'http://169.254.169.254/latest', events: 'link.created' }, field: 'url', message: /./ },
      { name: 'private address', form: { url: 'https://10.0.0.1/hook', events: 'link.created' }, field: 'url', message: /./ },
      { name: 'not a url', form: { url: 'ftp://example.com/x', events: 'link.created' }, field: 'url', message: /./ },
    ];
    for (const c of cases) {
      const res = await owner.hx('/admin/api/webhooks', c.form);
      assert.equal(res.status, 400, `${c.name}: ${res.text.slice(0, 200)}`);
      assert.match(res.text, /^<div id="webhook-create"/, c.name);
      assert.match(errorOf(res.text, c.field) ?? '', c.message, c.name);
      assert.doesNotMatch(res.text, SECRET_TEXT);
    }
    const plain = await owner.post('/admin/api/webhooks', { url: 'http://169.254.169.254/', events: 'link.created' });
    assert.equal(plain.status, 400);
    assert.ok(errorOf(plain.text, 'url'));
    assert.match(plain.text, /value="http:\/\/169\.254\.169\.254\/"/, 'the URL is kept');
    assert.equal((await t.store.db.row<{ n: number }>('select count(*) as n from webhook_endpoints where workspace_id = ?', acmeId))!.n, 0);
  });

  test('an endpoint: secret shown once, Send test until delivered, the delivery log, redeliver, rotate, disable', async () => {
    const created = await owner.hx('/admin/api/webhooks', { url: `${receiver.url}/acme`, description: 'CRM', events: ['link.created', 'link.deleted'] });
    assert.equal(created.status, 200, created.text);
    assert.equal(created.headers.get('hx-trigger'), 'webhooks-changed');
    const secret = SECRET_TEXT.exec(created.text)![0];
    assert.equal(created.text.split(secret).length - 1, 1);
    const list = await owner.get('/admin/api/webhooks', HX);
    assert.ok(!list.text.includes(secret), 'the secret is not listed');
    const id = /id="webhook-(whk_[0-9A-Za-z]{20})"/.exec(list.text)![1]!;
    assert.match(rowOf(list.text, `webhook-${id}`), /link\.created[\s\S]*link\.deleted/);
    assert.match(rowOf(list.text, `webhook-${id}`), /badge-active">Enabled/);

    const before = receiver.received.length;
    const test1 = await owner.hx(`/admin/api/webhooks/${id}/test`);
    assert.equal(test1.status, 200);
    const deliveryId = /id="delivery-(dlv_[0-9A-Za-z]{20})"/.exec(test1.text)![1]!;
    // The fragment asks again (hx-get every second) until the delivery is no longer pending.
    const final = await eventually(async () => {
      const r = await owner.get(`/admin/api/webhooks/${id}/deliveries/${deliveryId}`, HX);
      return r.text.includes('data-status="pending"') ? false : r;
    });
    assert.match(final.text, /data-status="succeeded"/);
    assert.match(final.text, /Delivered: HTTP 200/);
    assert.doesNotMatch(final.text, /hx-trigger/, 'polling stops');
    assert.equal(receiver.received.length, before + 1);
    assert.match(receiver.received.at(-1)!.body, /"type":"webhook.test"/);

    const log = await owner.get(`/admin/api/webhooks/${id}`);
    assert.equal(log.status, 200);
    const row = rowOf(log.text, `delivery-row-${deliveryId}`);
    assert.match(row, /webhook\.test/);
    assert.match(row, /badge-active">Succeeded/);
    assert.match(row, /<td class="num">1<\/td>/, 'one attempt');
    assert.match(row, /HTTP 200/);
    assert.match(row, /thanks from the receiver/, 'response excerpt');
    assert.match(row, /&quot;type&quot;: &quot;webhook.test&quot;/, 'request body');

    const again = await owner.hx(`/admin/api/deliveries/${deliveryId}/redeliver`);
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('hx-trigger'), 'deliveries-changed');
    await receiver.waitFor(before + 2);
    assert.equal(receiver.received.at(-1)!.headers['webhook-id'], receiver.received.at(-2)!.headers['webhook-id'], 'same event');
    await eventually(async () => /redelivery[\s\S]*Succeeded/.test((await owner.get(`/admin/api/webhooks/${id}?fragment=deliveries`, HX)).text));

    const rotated = await owner.hx(`/admin/api/webhooks/${id}/rotate-secret`, { grace: '0' });
    assert.equal(rotated.status, 200);
    const newSecret = SECRET_TEXT.exec(rotated.text)![0];
    assert.notEqual(newSecret, secret);
    assert.match(rotated.text, /signed with the new secret only/);

    const off = await owner.hx(`/admin/api/webhooks/${id}/disable`);
    assert.equal(off.status, 204);
    assert.equal(off.headers.get('hx-trigger'), 'webhooks-changed');
    const disabledRow = rowOf((await owner.get('/admin/api/webhooks', HX)).text, `webhook-${id}`);
    assert.match(disabledRow, /badge-disabled">Disabled/);
    assert.doesNotMatch(disabledRow, /Send test/);
    assert.match((await owner.hx(`/admin/api/webhooks/${id}/test`)).text, /The endpoint is disabled/);
    assert.equal((await owner.hx(`/admin/api/webhooks/${id}/enable`)).status, 204);
    assert.match(rowOf((await owner.get('/admin/api/webhooks', HX)).text, `webhook-${id}`), /Send test/);
  });

  test('Send test against a failing receiver shows the failed attempt and the next retry, then stops asking', async () => {
    const failing = await startReceiver(() => ({ status: 500, body: 'database is down' }));
    try {
      const created = await owner.hx('/admin/api/webhooks', { url: `${failing.url}/broken`, events: 'link.created' });
      assert.equal(created.status, 200, created.text);
      const list = await owner.get('/admin/api/webhooks', HX);
      const id = /^(whk_[0-9A-Za-z]{20})"/.exec(list.text.split('<tr id="webhook-').find((row) => row.includes(`${failing.url}/broken`))!)![1]!;
      const sent = await owner.hx(`/admin/api/webhooks/${id}/test`);
      const deliveryId = /id="delivery-(dlv_[0-9A-Za-z]{20})"/.exec(sent.text)![1]!;
      assert.match(sent.text, /hx-trigger="load delay:1s"/, 'asks again while the first attempt is under way');
      const final = await eventually(async () => {
        const r = await owner.get(`/admin/api/webhooks/${id}/deliveries/${deliveryId}?poll=1`, HX);
        return r.text.includes('status-retrying') ? r : false;
      });
      // 5 s after the attempt, jittered by ±20 %.
      const { next_attempt_at: next } = (await t.store.db.row<{ next_attempt_at: number }>('select next_attempt_at from webhook_deliveries where id = ?', deliveryId))!;
      assert.ok(next >= clock.now() + 4_000 && next <= clock.now() + 6_000, String(next - clock.now()));
      const nextText = new Date(next).toISOString().slice(0, 19).replace('T', ' ');
      assert.match(final.text, new RegExp(`Attempt 1 failed \\(HTTP 500\\); next retry ${nextText} UTC`));
      assert.doesNotMatch(final.text, /hx-trigger/, 'a retry minutes away is followed in the delivery log, not by polling');
      const row = rowOf((await owner.get(`/admin/api/webhooks/${id}`)).text, `delivery-row-${deliveryId}`);
      assert.match(row, /badge-warn">Pending/);
      assert.ok(row.includes(nextText), 'next retry');
      assert.match(row, /HTTP 500/);
      assert.match(row, /database is down/, 'response excerpt');
      // Polling has a bound even when nothing happens.
      const late = await owner.get(`/admin/api/webhooks/${id}/deliveries/${deliveryId}?poll=15`, HX);
      assert.doesNotMatch(late.text, /hx-trigger/);
    } finally {
      await failing.close();
    }
  });

  test("another workspace's keys, endpoints and deliveries are not found", async () => {
    const posts = [
      `/admin/api/keys/${globexKeyId}/disable`,
      `/admin/api/keys/${globexKeyId}/enable`,
      `/admin/api/keys/${globexKeyId}/revoke`,
      `/admin/api/keys/${globexKeyId}/rotate`,
      `/admin/api/webhooks/${globexWebhookId}/test`,
      `/admin/api/webhooks/${globexWebhookId}/disable`,
      `/admin/api/webhooks/${globexWebhookId}/rotate-secret`,
      `/admin/api/deliveries/${globexDeliveryId}/redeliver`,
    ];
    for (const path of posts) {
      const res = await owner.hx(path, { grace: '1' });
      assert.equal(res.status, 404, path);
    }
    for (const path of [`/admin/api/webhooks/${globexWebhookId}`, `/admin/api/webhooks/${globexWebhookId}/deliveries/${globexDeliveryId}`]) {
      assert.equal((await owner.get(path)).status, 404, path);
    }
    const status = (await t.store.db.row<{ status: string }>('select status from api_keys where id = ?', globexKeyId))!;
    assert.equal(status.status, 'active', 'untouched');
  });

  test('every state-changing request needs the CSRF token', async () => {
    const { id } = (await t.store.db.row<{ id: string }>('select id from api_keys where workspace_id = ? limit 1', acmeId))!;
    for (const path of ['/admin/api/keys', `/admin/api/keys/${id}/disable`, `/admin/api/keys/${id}/revoke`, '/admin/api/webhooks', `/admin/api/deliveries/${globexDeliveryId}/redeliver`]) {
      const res = await owner.request('POST', path, { form: { name: 'x', environment: 'production', scopes: 'links:read' }, headers: HX });
      assert.equal(res.status, 403, path);
    }
    const status = (await t.store.db.row<{ status: string }>('select status from api_keys where id = ?', id))!;
    assert.notEqual(status.status, 'disabled');
  });
  test('a plan without webhooks shows why in that section; a full key allowance is said above the form', async () => {
    const globexId = (await t.store.db.row<{ id: string }>('select id from workspaces where name = ?', 'Globex'))!.id;
    await upsertPlan(t.store.db, TEST_OPERATOR, 'Keys only', { features: { webhooks: false }, limits: { apiKeys: 1 } }, clock.now());
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, globexId, 'Keys only', clock.now());
    const b = await Browser.signedIn(t.url, VIEWER); // a viewer in Acme, the owner of Globex
    assert.equal((await b.post('/admin/workspace', { workspace: globexId, next: '/admin/api' })).status, 303);
    const page = await b.get('/admin/api');
    assert.equal(page.status, 200);
    assert.match(page.text, /Webhooks are not available.<\/strong> The &quot;Keys only&quot; plan of this workspace does not include webhooks/);
    assert.doesNotMatch(page.text, /action="\/admin\/api\/webhooks"/, 'no endpoint form');
    const refused = await b.hx('/admin/api/keys', { name: 'Second', environment: 'production', scopes: 'links:read' });
    assert.equal(refused.status, 400);
    assert.match(refused.text, /<p class="alert" role="alert">The &quot;Keys only&quot; plan allows 1 apiKeys; this workspace has 1\./);
    assert.match(refused.text, /value="Second"/, 'what was typed is kept');
  });

  test('keys unused for 30 days, or never used and 30 days old, are marked', async () => {
    const created = await t.key({ workspace: 'Acme', name: 'Forgotten' });
    const used = await t.key({ workspace: 'Acme', name: 'Busy' });
    // Sessions do not live through a month of idleness: sign in again after each jump.
    const markOf = async (key: string) => {
      const b = await Browser.signedIn(t.url, OWNER);
      return /Unused 30\+ days/.test(rowOf((await b.get('/admin/api')).text, `key-${keyIdOf(key)}`));
    };
    assert.equal(await markOf(created), false, 'new');
    assert.match(rowOf((await owner.get('/admin/api')).text, `key-${keyIdOf(created)}`), /command line/, 'made at the command line');
    clock.advance(30 * DAY);
    assert.equal((await t.request('GET', '/api/v1/me', { key: used })).status, 200);
    await t.server.deps.keyUsage.flush();
    assert.equal(await markOf(created), true, 'never used, 30 days old');
    assert.equal(await markOf(used), false, 'used today');
    clock.advance(30 * DAY);
    assert.equal(await markOf(used), true, 'last used 30 days ago');
  });
});

describe('admin API page: rotating and revoking', () => {
  const clock = fakeClock(Date.UTC(2030, 0, 1, 9));
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let owner: Browser;

  before(async () => {
    receiver = await startReceiver(() => ({ status: 200, body: 'ok' }));
    t = await startTestServer({ clock, env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' } });
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    owner = await Browser.signedIn(t.url, OWNER);
  });
  after(async () => {
    await t?.close();
    await receiver?.close();
  });

  test('revoking a key takes away the boxes that show its secret, and only those', async () => {
    const made = async (name: string) => {
      const res = await owner.hx('/admin/api/keys', { name, environment: 'production', scopes: 'links:read' });
      return { res, id: keyIdOf(KEY_TEXT.exec(res.text)![0]) };
    };
    const first = await made('Box one');
    // The new key's box names the key, for its row's Revoke form to send.
    assert.match(first.res.text, new RegExp(`<input type="hidden" name="key-reveal-new" value="${first.id}">`));
    const page = await owner.get('/admin/api');
    assert.match(rowOf(page.text, `key-${first.id}`), /hx-include="#key-reveal, #key-reveal-new"/, 'Revoke sends which key the boxes show');

    const rotated = await owner.hx(`/admin/api/keys/${first.id}/rotate`, { grace: '1' });
    assert.match(rotated.text, new RegExp(`<input type="hidden" name="key-reveal" value="${first.id}">`));
    const second = await made('Box two');

    // Revoking another key leaves both boxes as they are.
    const other = await owner.hx(`/admin/api/keys/${second.id}/revoke`, { 'key-reveal': first.id });
    assert.equal(other.status, 200);
    assert.match(other.text, /badge-revoked">Revoked/);
    assert.doesNotMatch(other.text, /hx-swap-oob/);

    // Revoking the rotated key empties the rotate box (kept for the next rotation) and removes its new-key box.
    const revoked = await owner.hx(`/admin/api/keys/${first.id}/revoke`, { 'key-reveal': first.id, 'key-reveal-new': first.id });
    assert.equal(revoked.status, 200);
    assert.match(revoked.text, new RegExp(`^<tr id="key-${first.id}"`));
    assert.match(revoked.text, /<div id="key-reveal" hx-swap-oob="true"><\/div>/);
    assert.match(revoked.text, /<div id="key-reveal-new" hx-swap-oob="delete"><\/div>/);
    assert.doesNotMatch(revoked.text, KEY_TEXT, 'no secret in the answer');
  });

  test('the rotate forms preselect the grace period the CLI and the API take when none is given', async () => {
    const defaultDays = String(DEFAULT_ROTATION_GRACE_MS / DAY);
    const key = await owner.hx('/admin/api/keys', { name: 'Preselected', environment: 'production', scopes: 'links:read' });
    const keyId = keyIdOf(KEY_TEXT.exec(key.text)![0]);
    const hook = await owner.hx('/admin/api/webhooks', { url: `${receiver.url}/preselected`, events: ['link.created'] });
    assert.equal(hook.status, 200, hook.text);
    const page = (await owner.get('/admin/api')).text;
    const webhookId = [...page.matchAll(/id="webhook-(whk_[0-9A-Za-z]{20})"/g)].map((m) => m[1]!).find((id) => rowOf(page, `webhook-${id}`).includes('/preselected'));
    assert.ok(webhookId);
    const selected = (selectId: string) => new RegExp(`<select id="${selectId}" name="grace">([^]*?)</select>`).exec(page)?.[1]?.match(/<option value="(\d+)" selected>/g);
    assert.deepEqual(selected(`grace-${keyId}`), [`<option value="${defaultDays}" selected>`]);
    assert.deepEqual(selected(`wgrace-${webhookId}`), [`<option value="${defaultDays}" selected>`]);

    // The API without graceSeconds: the old secret signs for as long.
    const apiKey = await t.key({ workspace: 'Acme', scopes: ['webhooks:read', 'webhooks:write'] });
    const rotated = await t.request('POST', `/api/v1/webhooks/${webhookId}/rotate-secret`, { key: apiKey });
    assert.equal(rotated.status, 200, rotated.text);
    assert.equal((rotated.json as { previousSecretExpiresAt: string }).previousSecretExpiresAt, new Date(clock.now() + DEFAULT_ROTATION_GRACE_MS).toISOString());
  });
});

describe('admin API page: allowed networks and request log of a key', () => {
  const clock = fakeClock(Date.UTC(2030, 0, 1, 9));
  let t: TestServer;
  let owner: Browser;
  let globexKeyId: string;
  /** GET /me with the key as a client at `ip` (the loopback proxy's X-Forwarded-For is trusted). */
  const from = (key: string, ip: string, path = '/api/v1/me') => t.request('GET', path, { key, headers: { 'x-forwarded-for': ip } });
  const storedNetworks = async (id: string) => (await t.store.db.row<{ allowed_cidrs: string | null }>('select allowed_cidrs from api_keys where id = ?', id))?.allowed_cidrs;
  const newKey = async (form: Record<string, string | string[]> = {}) => {
    const res = await owner.hx('/admin/api/keys', { name: 'CRM sync', environment: 'production', scopes: 'links:read', ...form });
    assert.equal(res.status, 200, res.text);
    const key = KEY_TEXT.exec(res.text)![0];
    return { key, id: keyIdOf(key) };
  };

  before(async () => {
    t = await startTestServer({ clock, env: { LINKQR_TRUST_PROXY: 'loopback' } });
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    await createUser(t.store, TEST_OPERATOR, { email: MEMBER, password: PASSWORD, workspace: 'Acme', role: 'member' });
    globexKeyId = keyIdOf(await t.key({ workspace: 'Globex' }));
    owner = await Browser.signedIn(t.url, OWNER);
  });
  after(() => t?.close());

  test('a key created with allowed networks works only from them, and its row says so', async () => {
    const { key, id } = await newKey({ allowedCidrs: '10.0.0.0/8, 2001:db8::/32' });
    assert.equal((await from(key, '10.1.2.3')).status, 200);
    assert.equal((await from(key, '::ffff:10.1.2.3')).status, 200);
    assert.equal((await from(key, '2001:db8::1')).status, 200);
    const refused = await from(key, '203.0.113.50');
    assert.equal(refused.status, 403);
    assert.equal(refused.json.code, 'ip_not_allowed');
    const row = rowOf((await owner.get('/admin/api')).text, `key-${id}`);
    assert.match(row, /Only from <span class="mono">10\.0\.0\.0\/8, 2001:db8::\/32<\/span>/);
    assert.match(row, /id="networks-[^"]+" name="allowedCidrs" type="text" value="10\.0\.0\.0\/8, 2001:db8::\/32"/, 'the form holds the list');
  });

  test('networks that are not networks are refused beside the field of the new-key form', async () => {
    const keyCount = async () => (await t.store.db.row<{ n: number }>('select count(*) as n from api_keys'))!.n;
    const before = await keyCount();
    const res = await owner.hx('/admin/api/keys', { name: 'Bad', environment: 'production', scopes: 'links:read', allowedCidrs: '10.0.0.0/8, 10.0.0.0/33' });
    assert.equal(res.status, 400);
    assert.match(res.text, /^<div id="key-create"/);
    assert.match(errorOf(res.text, 'allowedCidrs') ?? '', /&quot;10\.0\.0\.0\/33&quot; is not an IP address or network/);
    assert.match(res.text, /id="allowedCidrs" name="allowedCidrs" type="text" value="10\.0\.0\.0\/8, 10\.0\.0\.0\/33"/, 'what was typed is kept');
    assert.doesNotMatch(res.text, KEY_TEXT);
    assert.equal(await keyCount(), before);
  });

  test("the key's row changes its networks (htmx and plain forms); a bad entry is refused beside the field", async () => {
    const { key, id } = await newKey();
    assert.doesNotMatch(rowOf((await owner.get('/admin/api')).text, `key-${id}`), /Only from/, 'any address');

    const limited = await owner.hx(`/admin/api/keys/${id}/networks`, { allowedCidrs: '192.0.2.0/24' });
    assert.equal(limited.status, 200);
    assert.match(limited.text, new RegExp(`^<tr id="key-${id}"`));
    assert.match(limited.text, /Only from <span class="mono">192\.0\.2\.0\/24<\/span>/);
    assert.equal((await from(key, '198.51.100.1')).status, 403, 'the next request is refused');
    assert.equal((await from(key, '192.0.2.1')).status, 200);

    const bad = await owner.hx(`/admin/api/keys/${id}/networks`, { allowedCidrs: '192.0.2.0/24 fe80::/200' });
    assert.equal(bad.status, 400);
    assert.match(bad.text, new RegExp(`^<tr id="key-${id}"`));
    assert.match(bad.text, /<details class="payload networks" open>/, 'the form stays open on the error');
    assert.match(errorOf(bad.text, `networks-${id}`) ?? '', /&quot;fe80::\/200&quot; is not an IP address or network/);
    assert.match(bad.text, /value="192\.0\.2\.0\/24 fe80::\/200"/);
    assert.equal(await storedNetworks(id), '["192.0.2.0/24"]', 'unchanged');

    // Without JavaScript: back to the page, or the page with the error beside the row's field.
    const plainBad = await owner.post(`/admin/api/keys/${id}/networks`, { allowedCidrs: 'intranet' });
    assert.equal(plainBad.status, 400);
    assert.match(plainBad.text, /<title>API &amp; Webhooks/);
    assert.match(errorOf(rowOf(plainBad.text, `key-${id}`), `networks-${id}`) ?? '', /&quot;intranet&quot;/);
    const plain = await owner.post(`/admin/api/keys/${id}/networks`, { allowedCidrs: '' });
    assert.equal(plain.status, 303);
    assert.equal(plain.headers.get('location'), '/admin/api');
    assert.equal(await storedNetworks(id), null, 'empty: any address');
    assert.equal((await from(key, '198.51.100.1')).status, 200);

    const audit = await t.store.db.rows<{ actor_type: string; summary: string }>(
      "select actor_type, summary from audit_log where action = 'key.set_networks' and target_id = ? order by id",
      id,
    );
    assert.deepEqual(
      audit.map((a) => [a.actor_type, JSON.parse(a.summary).allowedCidrs]),
      [
        ['user', { from: null, to: ['192.0.2.0/24'] }],
        ['user', { from: ['192.0.2.0/24'], to: null }],
      ],
    );
  });

  test("a key's Requests open its log under the list: newest first, addresses seen, no query strings, then more", async () => {
    const { key, id } = await newKey({ name: 'Nightly export' });
    const page = await owner.get('/admin/api');
    assert.match(page.text, /<div id="key-log" class="test-slot"><\/div>/);
    assert.match(rowOf(page.text, `key-${id}`), new RegExp(`href="/admin/api/keys/${id}/requests" hx-get="/admin/api/keys/${id}/requests" hx-target="#key-log"`));

    const empty = await owner.get(`/admin/api/keys/${id}/requests`, HX);
    assert.equal(empty.status, 200);
    assert.match(empty.text, /No requests logged/);

    for (let i = 0; i < 52; i++) {
      clock.advance(1_000);
      await from(key, i % 2 ? '198.51.100.7' : '2001:db8::7', `/api/v1/links?q=secret-${i}`);
    }
    clock.advance(1_000);
    await from(key, '203.0.113.9', '/api/v1/links/lnk_missing');
    await t.server.deps.apiRequests.flush();

    const log = await owner.get(`/admin/api/keys/${id}/requests`, HX);
    assert.equal(log.status, 200);
    assert.match(log.text, /^<section class="key-log" id="key-log-panel"/);
    assert.match(log.text, /Requests with “Nightly export”/);
    assert.match(log.text, /data-dismiss="#key-log-panel"/, 'a Close button');
    assert.doesNotMatch(log.text, /secret-\d/, 'query strings are never shown');
    assert.match(log.text, /53 requests in the last 24 hours, 53 in the log/);
    assert.match(log.text, /From <span class="mono">203\.0\.113\.9<\/span> <span class="muted">\(1, last [^)]+\)<\/span>, <span class="mono">198\.51\.100\.7<\/span> <span class="muted">\(26,/);
    const rows = [...log.text.matchAll(/<tr id="request-(\d+)">([\s\S]*?)<\/tr>/g)];
    assert.equal(rows.length, 50, 'the latest 50');
    assert.match(rows[0]![2]!, /<code>GET<\/code>[\s\S]*\/api\/v1\/links\/lnk_missing[\s\S]*badge-warn">404<[\s\S]*203\.0\.113\.9/);
    assert.match(rows[1]![2]!, /\/api\/v1\/links<[\s\S]*badge-active">200</);
    const more = /<tr class="more-row" id="key-log-more">[\s\S]*?hx-get="([^"]+)"/.exec(log.text)?.[1];
    assert.equal(more, `/admin/api/keys/${id}/requests?before=${rows[49]![1]}`);

    const older = await owner.get(more!, HX);
    assert.equal(older.status, 200);
    assert.match(older.text.trimStart(), /^<tr id="request-/, 'rows to put in place of the Load more row');
    assert.equal([...older.text.matchAll(/<tr id="request-/g)].length, 3);
    assert.doesNotMatch(older.text, /more-row/, 'nothing older');

    // Without JavaScript: a page of its own, older pages by link.
    const plain = await owner.get(`/admin/api/keys/${id}/requests`);
    assert.equal(plain.status, 200);
    assert.match(plain.text, /<title>Requests with “Nightly export”/);
    assert.match(plain.text, /<a href="\/admin\/api">API &amp; Webhooks<\/a> \/ Requests/);
    assert.doesNotMatch(plain.text, /data-dismiss/);
    assert.match(plain.text, new RegExp(`href="/admin/api/keys/${id}/requests\\?before=\\d+"`));
    assert.equal((await owner.get(`/admin/api/keys/${id}/requests?before=abc`, HX)).status, 400);
  });

  test("another workspace's key log is not found; members may not see logs or change networks", async () => {
    assert.equal((await owner.get(`/admin/api/keys/${globexKeyId}/requests`, HX)).status, 404);
    assert.equal((await owner.hx(`/admin/api/keys/${globexKeyId}/networks`, { allowedCidrs: '10.0.0.0/8' })).status, 404);
    const { id } = await newKey();
    const member = await Browser.signedIn(t.url, MEMBER);
    assert.equal((await member.get(`/admin/api/keys/${id}/requests`, HX)).status, 403);
    assert.equal((await member.hx(`/admin/api/keys/${id}/networks`, { allowedCidrs: '10.0.0.0/8' })).status, 403);
    assert.equal(await storedNetworks(globexKeyId), null);
    assert.equal(await storedNetworks(id), null);
  });
});
