import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { listUnverifiedClaims } from '../domains/domain-claims.js';
import { createUser } from '../users/users.service.js';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { answerConfirm, launchChromium, openPage, PHONE, signIn } from './chromium.js';

const ADMIN = 'root@example.com';
const PASSWORD = 'correct horse battery';

describe('Instance page in a browser: releasing an unverified domain', () => {
  let t: TestServer;
  let browser: Browser;

  before(async () => {
    [t, browser] = await Promise.all([startTestServer(), launchChromium()]);
    // The first user is the instance admin.
    await createUser(t.store, TEST_OPERATOR, { email: ADMIN, password: PASSWORD, workspace: 'Acme' });
    const squatter = await t.key({ workspace: 'Squatter' });
    assert.equal((await t.request('POST', '/api/v1/domains', { key: squatter, body: { hostname: 'go.acme.test' } })).status, 201);
    const link = await t.request('POST', '/api/v1/links', { key: squatter, body: { url: 'https://evil.test/', slug: 'spring', domain: 'go.acme.test' } });
    assert.equal(link.status, 201, link.text);
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  test('on a phone, Release asks first (Cancel keeps the domain), then removes it and says so', async () => {
    const { page, problems, screenshot, context } = await openPage(browser, t.url, PHONE);
    await signIn(page, ADMIN, PASSWORD, '/admin/instance');
    const release = page.getByRole('button', { name: 'Release go.acme.test' });

    await release.click();
    assert.equal(await answerConfirm(page, false), 'Release go.acme.test? The domain is removed from Squatter, with its 1 link on it, and any workspace can add the name.');
    assert.equal((await listUnverifiedClaims(t.store.db)).length, 1, 'Cancel changes nothing');

    await release.click();
    await screenshot('instance-claims-01-confirm');
    const dialog = page.locator('dialog.confirm-dialog[open]');
    assert.equal(await dialog.locator('button[value=ok]').innerText(), 'Release');
    await answerConfirm(page);
    await page.locator('.flash-ok').waitFor();
    assert.match(await page.locator('.flash-ok').innerText(), /Released go\.acme\.test: the unverified domain of Squatter and its 1 link are removed/);
    assert.equal(await page.locator('#claims-table').count(), 0);
    assert.deepEqual(await listUnverifiedClaims(t.store.db), []);
    await screenshot('instance-claims-02-released');
    assert.deepEqual(problems, []);
    await context.close();
  });
});
