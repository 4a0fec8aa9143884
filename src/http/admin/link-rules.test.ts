import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createUser } from '../../users/users.service.js';
import { AdminClient } from '../../testing/admin-client.js';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';

const PASSWORD = 'correct horse battery';
const BASE = { url: 'https://example.com/app', slug: '', title: '', tags: '', expiresAt: '', expiredUrl: '', maxClicks: '', redirectCode: '302', forwardQuery: 'on' };

/** A form body with the target rows as repeated fields, as the browser sends them. */
function withTargets(fields: Record<string, string>, rows: [string, string, string][]) {
  const params = new URLSearchParams({ ...fields });
  for (const [device, country, url] of rows) {
    params.append('targetDevice', device);
    params.append('targetCountry', country);
    params.append('targetUrl', url);
  }
  return params;
}

describe('admin: targets and a password in the link forms', () => {
  let t: TestServer;
  let admin: AdminClient;
  let key: string;
  const postForm = (path: string, params: URLSearchParams) =>
    fetch(`${t.url}${path}`, {
      method: 'POST',
      redirect: 'manual',
      body: (params.set('_csrf', admin.csrf!), params.toString()),
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: [...admin.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    });

  before(async () => {
    t = await startTestServer();
    await createUser(t.store, TEST_OPERATOR, { email: 'o@example.com', password: PASSWORD, workspace: 'Acme' });
    admin = await new AdminClient(t.url).signIn('o@example.com', PASSWORD, '/admin/links');
    key = await t.key({ workspace: 'Acme' });
  });
  after(() => t.close());

  test('the create form takes target rows (blank rows ignored) and a password; a bad row is named beside the targets', async () => {
    const page = await admin.get('/admin/links');
    assert.equal((page.text.match(/name="targetUrl"/g) ?? []).length, 3, 'three empty rows to fill');
    assert.match(page.text, /name="password" type="password"/);

    const bad = await postForm('/admin/links', withTargets({ ...BASE, slug: 'bad' }, [['', '', 'https://example.com/x'], ['', '', '']]));
    assert.equal(bad.status, 422);
    const html = await bad.text();
    assert.match(html, /Target 1: device must name a device, a country or both/);
    assert.match(html, /value="https:\/\/example\.com\/x"/, 'the row as typed');
    const badUrl = await postForm('/admin/links', withTargets({ ...BASE, slug: 'bad' }, [['ios', '', 'ftp://example.com/x']]));
    assert.match(await badUrl.text(), /Target 1: URL must be an absolute http:\/\/ or https:\/\/ URL/, 'the field named as labelled');

    const ok = await postForm('/admin/links', withTargets({ ...BASE, slug: 'getapp', password: 'let me in' }, [['ios', '', 'https://apps.apple.com/app/id1'], ['', 'de', 'https://example.de/'], ['', '', '']]));
    assert.equal(ok.status, 303, await ok.text());
    const link = (await t.request('GET', '/api/v1/links?q=getapp', { key })).json.data.find((l: { slug: string }) => l.slug === 'getapp');
    assert.deepEqual(link.targets, [{ device: 'ios', url: 'https://apps.apple.com/app/id1' }, { country: 'DE', url: 'https://example.de/' }]);
    assert.equal(link.passwordProtected, true);

    // The edit form shows the rows and never the password; saving untouched keeps both.
    const edit = await admin.get(`/admin/links/${link.id}/edit`);
    assert.match(edit.text, /<option value="ios" selected>/);
    assert.match(edit.text, /name="targetCountry" value="DE"/);
    assert.match(edit.text, /This link has a password/);
    assert.doesNotMatch(edit.text, /let me in/);
    const untouched = await postForm(`/admin/links/${link.id}`, withTargets({ ...BASE, slug: 'getapp', password: '' }, [['ios', '', 'https://apps.apple.com/app/id1'], ['', 'DE', 'https://example.de/']]));
    assert.equal(untouched.status, 303);
    assert.equal((await t.request('GET', `/api/v1/links/${link.id}`, { key })).json.passwordProtected, true);

    const removed = await postForm(`/admin/links/${link.id}`, withTargets({ ...BASE, slug: 'getapp', password: '', removePassword: 'on' }, []));
    assert.equal(removed.status, 303);
    const after = (await t.request('GET', `/api/v1/links/${link.id}`, { key })).json;
    assert.equal(after.passwordProtected, false);
    assert.deepEqual(after.targets, [], 'every row cleared: no targets');
  });
});
