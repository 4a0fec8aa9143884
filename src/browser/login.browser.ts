import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { createUser } from '../users/users.service.js';
import { addMember } from '../workspaces/members.service.js';
import { createWorkspace } from '../workspaces/workspaces.service.js';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { launchChromium, openPage, PHONE } from './chromium.js';

const OWNER = 'dana@example.com';
const PASSWORD = 'correct horse battery';
const NAV = ['Links', 'Analytics', 'API & Webhooks', 'Team', 'Settings', 'Audit log', 'Instance'];

describe('admin UI in a browser: sign-in, layout, workspace switch, sign-out', () => {
  let t: TestServer;
  let browser: Browser;

  before(async () => {
    [t, browser] = await Promise.all([startTestServer(), launchChromium()]);
    // The first user is the instance admin. What the audit log shows is made through the real
    // services and API: a key, links created with it, a colleague added.
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    await createUser(t.store, TEST_OPERATOR, { email: 'lee@example.com', password: PASSWORD, workspace: 'Acme', role: 'member' });
    await addMember(t.store, TEST_OPERATOR, (await createWorkspace(t.store, TEST_OPERATOR, 'Globex')).id, OWNER, 'admin');
    const key = await t.key({ workspace: 'Acme', name: 'CRM sync' });
    for (const url of ['https://example.com/spring-sale', 'https://example.com/docs/getting-started']) {
      const res = await t.request('POST', '/api/v1/links', { key, body: { url, tags: ['campaign'] } });
      assert.equal(res.status, 201, res.text);
    }
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  test('signs in through the form, shows the sidebar, switches workspace and signs out', async () => {
    const { page, problems, screenshot, context } = await openPage(browser, t.url);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });

    await page.goto('/admin/audit');
    assert.equal(new URL(page.url()).pathname, '/admin/login');
    assert.equal(new URL(page.url()).searchParams.get('next'), '/admin/audit');
    await screenshot('01-login');

    await page.fill('#email', OWNER);
    await page.fill('#password', 'not my password');
    await page.click('button[type=submit]');
    assert.equal(await page.locator('.alert').innerText(), 'Email or password is incorrect.');
    assert.equal(await page.inputValue('#email'), OWNER, 'the email is kept');
    assert.equal(await page.inputValue('#password'), '', 'the password is not');
    await screenshot('02-login-wrong-password');

    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL('**/admin/audit');
    assert.deepEqual(await page.locator('.nav-link').allInnerTexts(), NAV);
    assert.equal(await page.locator('.nav-link[aria-current=page]').innerText(), 'Audit log');
    assert.equal(await page.locator('.account-email').innerText(), OWNER);
    assert.ok((await page.locator('#audit-table tbody tr').count()) >= 5, 'workspace, members, key and links');
    assert.match(await page.locator('#audit-table').innerText(), /CRM sync/);
    await screenshot('03-audit-log');

    // htmx and admin.js run under the CSP (no inline script, no injected <style>).
    assert.equal(await page.evaluate(() => typeof (window as unknown as { htmx?: object }).htmx), 'object');
    assert.ok(await page.evaluate(() => document.documentElement.classList.contains('js')));

    await page.click('.nav-link:has-text("Links")');
    await page.waitForURL('**/admin/links');
    assert.equal(await page.locator('#links tbody tr.link-row').count(), 2, 'the links made with the API');
    await page.locator('#links tbody tr.link-row button.copy').first().click();
    await page.locator('#links .copy:has-text("Copied")').waitFor();
    assert.match(await page.evaluate(() => navigator.clipboard.readText()), /^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9]{7}$/);
    await screenshot('04-links');

    // The switcher posts with htmx as soon as a workspace is picked. Its hidden _csrf field is
    // removed first: the switch must succeed on the X-CSRF-Token header htmx sends.
    assert.equal(await page.locator('.workspace-switch button').isVisible(), false, 'no Switch button with JavaScript');
    await page.locator('.workspace-switch input[name=_csrf]').evaluate((el) => el.remove());
    await page.selectOption('#workspace-select', { label: 'Globex' });
    await page.locator('.flash').waitFor();
    assert.equal(await page.locator('.flash p').innerText(), 'You are now working in Globex.');
    assert.equal(await page.locator('#workspace-select option:checked').innerText(), 'Globex');
    assert.equal(await page.locator('.account-role').innerText(), 'Admin · Instance admin');
    await screenshot('05-switched-workspace');
    await page.click('.flash-close');
    assert.equal(await page.locator('.flash').count(), 0, 'dismissed');

    await page.click('.nav-link:has-text("Audit log")');
    await page.waitForURL('**/admin/audit');
    assert.doesNotMatch(await page.locator('main').innerText(), /CRM sync/, 'Globex has its own log');

    await page.goto('/admin/no-such-page');
    assert.equal(await page.locator('.error-page h1').innerText(), 'Not found');
    await screenshot('06-not-found');

    await page.setViewportSize(PHONE);
    await page.goto('/admin/links');
    assert.ok(await page.locator('.menu-toggle').isVisible(), 'the sections are behind Menu');
    await page.locator('.menu-toggle').click();
    assert.ok(await page.locator('.nav').isVisible());
    await page.locator('.menu-toggle').click();
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling');
    await screenshot('07-links-narrow');
    await page.setViewportSize({ width: 1280, height: 800 });

    await page.click('button[title="Sign out"]');
    await page.waitForURL('**/admin/login?signed_out=1');
    assert.equal(await page.locator('.notice').innerText(), 'You have signed out.');
    await page.goto('/admin/links');
    assert.equal(new URL(page.url()).pathname, '/admin/login', 'signed out for real');

    assert.deepEqual(problems, []);
    await context.close();
  });

  test('too many wrong passwords: the form says when to try again', async () => {
    const { page, problems, screenshot, context } = await openPage(browser, t.url);
    await page.goto('/admin/login');
    for (let i = 0; i < 5; i++) {
      await page.fill('#email', 'ghost@example.com');
      await page.fill('#password', `guess ${i}`);
      await page.click('button[type=submit]');
      assert.equal(await page.locator('.alert').innerText(), 'Email or password is incorrect.');
    }
    await page.fill('#password', 'guess 6');
    await page.click('button[type=submit]');
    assert.equal(await page.locator('.alert').innerText(), 'Too many sign-in attempts. Try again in 15 minutes.');
    await screenshot('08-login-throttled');
    assert.deepEqual(problems, []);
    await context.close();
  });
});
