/**
 * The admin shell on a phone and in either colour scheme: the sections fold into a menu, the
 * Light/Dark/System choice is remembered across pages and sign-ins, and destructive actions ask in
 * the page.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createUser } from '../users/users.service.js';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { answerConfirm, DESKTOP, launchChromium, openPage, PHONE, signIn } from './chromium.js';

const OWNER = 'mo@example.com';
const PASSWORD = 'correct horse battery';

/** The page's background colour as drawn: tells which scheme applies. */
const background = (page: Page) => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
const LIGHT_BG = 'rgb(245, 246, 248)';
const DARK_BG = 'rgb(17, 19, 22)';

describe('admin shell in a browser: menu, colour scheme, confirmations', () => {
  let t: TestServer;
  let browser: Browser;

  before(async () => {
    [t, browser] = await Promise.all([startTestServer(), launchChromium()]);
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  test('on a phone the sections are behind Menu, which opens, closes with Escape, and reaches every section', async () => {
    const { page, problems, screenshot, context } = await openPage(browser, t.url, PHONE);
    await signIn(page, OWNER, PASSWORD, '/admin/links');
    const toggle = page.locator('.menu-toggle');
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    assert.equal(await page.locator('.nav').isVisible(), false, 'folded');
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    const sections = await page.locator('.nav-link').allInnerTexts();
    assert.deepEqual(sections, ['Links', 'Analytics', 'API & Webhooks', 'Team', 'Settings', 'Audit log', 'Instance']);
    for (const link of await page.locator('.nav-link, .account-link, .logout button').all()) {
      const box = (await link.boundingBox())!;
      assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width, `${await link.innerText()} is on screen`);
    }
    await screenshot('shell-01-phone-menu-open');
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('.nav').isVisible(), false, 'Escape folds it');
    await toggle.click();
    await page.locator('.nav-link:has-text("Audit log")').click();
    await page.waitForURL('**/admin/audit');
    assert.equal(await page.locator('.nav').isVisible(), false, 'a new page starts folded');
    // A wide window has no Menu button: the sidebar shows everything.
    await page.setViewportSize(DESKTOP);
    assert.equal(await toggle.isVisible(), false);
    assert.equal(await page.locator('.nav').isVisible(), true);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('Light, Dark or System: applied at once, remembered on every page and after signing in again', async () => {
    const { page, problems, screenshot, context } = await openPage(browser, t.url, DESKTOP);
    await page.emulateMedia({ colorScheme: 'light' });
    await signIn(page, OWNER, PASSWORD, '/admin/links');
    assert.equal(await page.locator('.theme-switch input[value=system]').isChecked(), true, 'System until chosen');
    assert.equal(await background(page), LIGHT_BG);

    await page.locator('.theme-switch label:has-text("Dark")').click();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    assert.equal(await background(page), DARK_BG, 'dark in a light system, at once');
    await page.goto('/admin/settings');
    assert.equal(await background(page), DARK_BG, 'remembered on the next page');
    assert.equal(await page.locator('.theme-switch input[value=dark]').isChecked(), true);
    await screenshot('shell-02-dark-chosen');
    // Signed out, the sign-in page keeps the choice too.
    await page.locator('.logout button').click();
    await page.waitForURL('**/admin/login**');
    assert.equal(await background(page), DARK_BG, 'the sign-in page too');

    await signIn(page, OWNER, PASSWORD, '/admin/links');
    await page.locator('.theme-switch label:has-text("System")').click();
    assert.equal(await background(page), LIGHT_BG, 'System follows the system again');
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.equal(await background(page), DARK_BG);
    await page.locator('.theme-switch label:has-text("Light")').click();
    assert.equal(await background(page), LIGHT_BG, 'Light in a dark system');
    await page.reload();
    assert.equal(await background(page), LIGHT_BG);
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('deleting a link asks in the page: Cancel keeps it, Escape keeps it, Delete deletes it', async () => {
    const key = await t.key({ workspace: 'Acme' });
    const link = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/doomed', slug: 'doomed' } })).json as { id: string };
    const { page, problems, screenshot, context } = await openPage(browser, t.url, PHONE);
    await signIn(page, OWNER, PASSWORD, '/admin/links');
    const row = page.locator(`#link-${link.id}`);
    await row.locator('button[aria-label^=Delete]').click();
    const dialog = page.locator('dialog.confirm-dialog[open]');
    await dialog.waitFor();
    assert.equal(await dialog.locator('button[value=ok]').innerText(), 'Delete');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Cancel', 'Cancel has the focus');
    await screenshot('shell-03-delete-asks');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await row.count(), 1);
    await row.locator('button[aria-label^=Delete]').click();
    assert.match(await answerConfirm(page, false), /^Delete .*\/doomed\? Its short URL stops working/);
    assert.equal((await t.request('GET', `/api/v1/links/${link.id}`, { key })).status, 200, 'still there');
    await row.locator('button[aria-label^=Delete]').click();
    await answerConfirm(page);
    await row.waitFor({ state: 'detached' });
    assert.equal((await t.request('GET', `/api/v1/links/${link.id}`, { key })).status, 404);
    assert.deepEqual(problems, []);
    await context.close();
  });
});
