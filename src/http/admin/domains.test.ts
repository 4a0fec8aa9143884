import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import jsQR from 'jsqr';
import { createUser } from '../../users/users.service.js';
import { AdminClient, fieldError, textOf } from '../../testing/admin-client.js';
import { rawHttp, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';

const PASSWORD = 'correct horse battery';

describe('admin: domains on the Settings page, and the Domain field of the link forms', () => {
  let t: TestServer;
  let admin: AdminClient;

  before(async () => {
    t = await startTestServer();
    await createUser(t.store, TEST_OPERATOR, { email: 'owner@example.com', password: PASSWORD, workspace: 'Acme' });
    await createUser(t.store, TEST_OPERATOR, { email: 'member@example.com', password: PASSWORD, workspace: 'Acme', role: 'member' });
    admin = await new AdminClient(t.url).signIn('owner@example.com', PASSWORD, '/admin/settings');
  });
  after(() => t.close());

  test('an admin adds a domain (errors beside the fields, values kept), edits its redirects and removes it', async () => {
    const empty = await admin.get('/admin/settings');
    assert.match(textOf(empty.text, 'domains')!, /No domains of your own yet/);

    const bad = await admin.post('/admin/settings/domains', { hostname: 'https://go.acme.test/x', rootRedirect: 'not a url', notFoundRedirect: '' });
    assert.equal(bad.status, 422);
    assert.match(fieldError(bad.text, 'hostname') ?? '', /^Must be a domain name such as go\.example\.com/);
    assert.match(fieldError(bad.text, 'rootRedirect') ?? '', /absolute http/);
    assert.match(bad.text, /value="not a url"/, 'what was typed stays');

    const added = await admin.post('/admin/settings/domains', { hostname: 'Go.Acme.Test', rootRedirect: '', notFoundRedirect: 'https://acme.test/404' });
    assert.equal(added.status, 303, added.text);
    const page = await admin.get('/admin/settings');
    assert.match(page.text, /Added go\.acme\.test: add its TXT record/);
    const id = /id="domain-(dom_[0-9A-Za-z]{20})"/.exec(page.text)![1]!;
    // Proven by its TXT record, through the page's button.
    const value = /<dt>Value<\/dt><dd class="mono wrap-anywhere">([^<]+)<\/dd>/.exec(page.text)![1]!;
    assert.match(textOf(page.text, `domain-${id}`)!, /Not verified yet/);
    assert.equal((await admin.post(`/admin/settings/domains/${id}/verify`, {})).status, 303);
    assert.match((await admin.get('/admin/settings')).text, /_linkqr\.go\.acme\.test has no TXT record yet/);
    t.txt.set('_linkqr.go.acme.test', [value]);
    await admin.post(`/admin/settings/domains/${id}/verify`, {});
    const verifiedPage = await admin.get('/admin/settings');
    assert.match(verifiedPage.text, /go\.acme\.test is verified/);
    assert.doesNotMatch(textOf(verifiedPage.text, `domain-${id}`)!, /Not verified yet/);
    assert.match(textOf(verifiedPage.text, `domain-${id}`)!, /go\.acme\.test Verified .*Home page \(\/\) A page naming the domain Unknown slugs https:\/\/acme\.test\/404/);

    const taken = await admin.post('/admin/settings/domains', { hostname: 'go.acme.test', rootRedirect: '', notFoundRedirect: '' });
    assert.equal(taken.status, 422);
    assert.equal(fieldError(taken.text, 'hostname'), 'Is already added to this server.');

    const edited = await admin.post(`/admin/settings/domains/${id}`, { [`rootRedirect-${id}`]: 'https://acme.test/', [`notFoundRedirect-${id}`]: '' });
    assert.equal(edited.status, 303);
    const root = await rawHttp(t.url, 'GET', '/', { host: 'go.acme.test' });
    assert.equal(root.headers.location, 'https://acme.test/');
    assert.equal((await rawHttp(t.url, 'GET', '/nope', { host: 'go.acme.test' })).status, 404, 'the 404 redirect was cleared');

    // The link form offers the domain; a link made there lives on it, with its QR code.
    const form = await admin.get('/admin/links');
    assert.match(form.text, /<option value="127\.0\.0\.1"[^>]*>127\.0\.0\.1<\/option>/);
    assert.match(form.text, /<option value="go\.acme\.test">go\.acme\.test<\/option>/);
    const created = await admin.post('/admin/links', { url: 'https://example.com/admin-domain', domain: 'go.acme.test', slug: 'fair', redirectCode: '302' });
    assert.equal(created.status, 303, created.text);
    assert.match((await admin.get('/admin/links')).text, /Created http:\/\/go\.acme\.test\/fair/);
    assert.equal((await rawHttp(t.url, 'GET', '/fair', { host: 'go.acme.test' })).headers.location, 'https://example.com/admin-domain');

    const key = await t.key({ workspace: 'Acme' });
    const link = (await t.request('GET', '/api/v1/links?q=fair', { key })).json.data[0];
    const qr = await fetch(`${t.url}/api/v1/links/${link.id}/qr?format=png&size=400`, { headers: { authorization: `Bearer ${key}` } });
    const png = PNG.sync.read(Buffer.from(await qr.arrayBuffer()));
    assert.equal(jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data, 'http://go.acme.test/fair?qr=1');

    const inUse = await admin.post(`/admin/settings/domains/${id}/delete`, {});
    assert.equal(inUse.status, 303);
    assert.match((await admin.get('/admin/settings')).text, /1 link live on go\.acme\.test: delete them or move them/);

    await t.request('DELETE', `/api/v1/links/${link.id}`, { key });
    await admin.post(`/admin/settings/domains/${id}/delete`, {});
    assert.match(textOf((await admin.get('/admin/settings')).text, 'domains')!, /No domains of your own yet/);
  });

  test('members see the domains but get no forms, and a post from them is refused', async () => {
    await admin.post('/admin/settings/domains', { hostname: 'seen.acme.test', rootRedirect: '', notFoundRedirect: '' });
    const member = await new AdminClient(t.url).signIn('member@example.com', PASSWORD, '/admin/settings');
    const page = await member.get('/admin/settings');
    assert.match(textOf(page.text, 'domains')!, /seen\.acme\.test/);
    assert.doesNotMatch(page.text, /action="\/admin\/settings\/domains"/);
    const refused = await member.post('/admin/settings/domains', { hostname: 'sneaky.acme.test', rootRedirect: '', notFoundRedirect: '' });
    assert.equal(refused.status, 403);
  });
});
