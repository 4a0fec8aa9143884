import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createLink } from '../links/links.service.js';
import { createUser } from '../users/users.service.js';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { answerConfirm, DESKTOP, htmxIdle, launchChromium, openPage, PHONE, SCREENSHOTS, signIn } from './chromium.js';

const OWNER = 'dana@example.com';
const VIEWER = 'vic@example.com';
const PASSWORD = 'correct horse battery';


const rowOf = (page: Page, slug: string) => page.locator('tr.link-row', { has: page.locator('.short-url', { hasText: new RegExp(`^/${slug}$`) }) });
const tick = (page: Page, slug: string) => rowOf(page, slug).locator('input[name=ids]').check();
const bar = (page: Page) => page.locator('#links-bulk');
const notice = (page: Page) => page.locator('#links-bulk-notice .flash p');
const noHorizontalScroll = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth);

describe('admin UI in a browser: bulk actions on the Links page', () => {
  let t: TestServer;
  let browser: Browser;
  let ws: string;
  const slugs = ['spring', 'summer', 'autumn', 'winter', 'docs', 'shop', 'events', 'blog'];
  const tagsOf = async (slug: string) => JSON.parse((await t.store.db.row<{ tags: string }>('select tags from links where slug = ?', slug))!.tags) as string[];
  const statusOf = async (slug: string) => (await t.store.db.row<{ status: string }>('select status from links where slug = ?', slug))?.status;

  before(async () => {
    [t, browser] = await Promise.all([startTestServer(), launchChromium()]);
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    await createUser(t.store, TEST_OPERATOR, { email: VIEWER, password: PASSWORD, workspace: 'Acme', role: 'viewer' });
    ws = (await t.store.db.row<{ id: string }>("select id from workspaces where name = 'Acme'"))!.id;
    for (const slug of [...slugs].reverse()) {
      await createLink(t.server.deps, ws, TEST_OPERATOR, {
        url: `https://example.com/${slug}/a-long-path-that-keeps-going?utm_source=newsletter`,
        slug,
        title: `${slug[0]!.toUpperCase()}${slug.slice(1)} campaign`,
        tags: slug === 'docs' ? ['docs'] : ['campaign'],
      });
    }
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  test('desktop: tick rows, tag them, disable them, export them, delete them; the page never reloads', async () => {
    const { page, problems, screenshot, context } = await openPage(browser, t.url, DESKTOP);
    const questions: string[] = [];
    await signIn(page, OWNER, PASSWORD);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
    const marker = () => page.evaluate(() => (window as unknown as { marker?: number }).marker);

    // Nothing ticked: no bar; the select-all box is there, the no-JavaScript controls are not.
    assert.equal(await bar(page).isVisible(), false);
    assert.equal(await page.locator('[data-bulk-all]').isVisible(), true);
    assert.equal(await page.getByRole('checkbox', { name: 'Select all links on this page' }).count(), 1);
    assert.equal(await page.getByRole('checkbox', { name: /^Select 127\.0\.0\.1:\d+\/spring$/ }).count(), 1, 'each box is labelled');

    await tick(page, 'spring');
    await tick(page, 'summer');
    await tick(page, 'autumn');
    await bar(page).waitFor();
    assert.equal(await page.locator('[data-bulk-count]').innerText(), '3 selected');
    assert.equal(await page.locator('[data-bulk-all]').evaluate((el) => (el as HTMLInputElement).indeterminate), true);
    assert.equal(await page.locator('select[name=action]').isVisible(), false, 'buttons instead of the select');
    await screenshot('links-bulk-01-selected-desktop');

    // Add a tag: Enter in the field adds it.
    await page.fill('[data-bulk-tag]', 'q3');
    await page.press('[data-bulk-tag]', 'Enter');
    await notice(page).waitFor();
    assert.equal(await notice(page).innerText(), 'Added the tag “q3” to 3 links.');
    await htmxIdle(page);
    await rowOf(page, 'spring').locator('.tag', { hasText: 'q3' }).waitFor();
    assert.deepEqual(await tagsOf('summer'), ['campaign', 'q3']);
    assert.equal(await bar(page).isVisible(), false, 'the table was redrawn: nothing ticked');
    assert.equal(await notice(page).isVisible(), true, 'the notice outlives the redraw');
    await screenshot('links-bulk-02-tagged-desktop');

    // Select all, then untick one: Disable the rest.
    await page.locator('[data-bulk-all]').check();
    assert.equal(await page.locator('[data-bulk-count]').innerText(), `${slugs.length} selected`);
    assert.equal(await notice(page).count(), 0, 'a new selection clears the last notice');
    await rowOf(page, 'blog').locator('input[name=ids]').uncheck();
    assert.equal(await page.locator('[data-bulk-count]').innerText(), `${slugs.length - 1} selected`);
    await page.click('#links-bulk button[value=disable]');
    await notice(page).waitFor();
    assert.equal(await notice(page).innerText(), `Disabled ${slugs.length - 1} links.`);
    await htmxIdle(page);
    await rowOf(page, 'spring').locator('.badge-disabled').waitFor();
    assert.equal(await statusOf('docs'), 'disabled');
    assert.equal(await statusOf('blog'), 'active');
    await screenshot('links-bulk-03-disabled-desktop');

    // Enable two of them again.
    await tick(page, 'docs');
    await tick(page, 'shop');
    await page.click('#links-bulk button[value=enable]');
    await notice(page).filter({ hasText: 'Enabled 2 links.' }).waitFor();
    await htmxIdle(page);
    assert.equal(await statusOf('shop'), 'active');

    // Export: a download of the ticked rows, the page stays.
    await tick(page, 'docs');
    await tick(page, 'winter');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#links-bulk button[value=export]')]);
    assert.match(download.suggestedFilename(), /^links-\d{4}-\d{2}-\d{2}\.csv$/);
    assert.equal(download.suggestedFilename(), `links-${new Date().toISOString().slice(0, 10)}.csv`);
    const csv = await readFile((await download.path())!);
    assert.deepEqual([...csv.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'a BOM for Excel');
    const lines = csv.toString('utf8').slice(1).trimEnd().split('\r\n');
    assert.match(lines[0]!, /^"id","slug","shortUrl","url","title","tags","status"/);
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(',')[1]),
      ['"winter"', '"docs"'],
      'the ticked links, in the order of the table',
    );
    assert.equal(await marker(), 1, 'no reload');
    assert.equal(await page.locator('[data-bulk-count]').innerText(), '2 selected', 'the selection stays after an export');

    // Delete: a question with the count, then the rows go.
    await page.click('#links-bulk button[value=delete]');
    questions.push(await answerConfirm(page));
    await notice(page).filter({ hasText: 'Deleted 2 links.' }).waitFor();
    assert.deepEqual(questions, ['Delete 2 links? Their short URLs stop working and their click history is removed.']);
    await htmxIdle(page);
    await rowOf(page, 'docs').waitFor({ state: 'detached' });
    assert.equal(await rowOf(page, 'winter').count(), 0);
    assert.equal(await statusOf('docs'), undefined);
    assert.equal(await marker(), 1, 'still no reload');
    await screenshot('links-bulk-04-deleted-desktop');

    // Clear: unticks everything and hides the bar.
    await tick(page, 'blog');
    await page.click('[data-bulk-clear]');
    assert.equal(await bar(page).isVisible(), false);
    assert.equal(await rowOf(page, 'blog').locator('input[name=ids]').isChecked(), false);

    assert.deepEqual(problems, []);
    await context.close();
  });

  test('phone: the bar fits a 390 px screen, which never scrolls sideways', async () => {
    const { page, problems, screenshot, context } = await openPage(browser, t.url, PHONE);
    await signIn(page, OWNER, PASSWORD);
    assert.equal(await noHorizontalScroll(page), PHONE.width);
    await tick(page, 'spring');
    await tick(page, 'summer');
    await bar(page).waitFor();
    assert.equal(await noHorizontalScroll(page), PHONE.width);
    const box = (await bar(page).boundingBox())!;
    assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width, `the bar fits: ${JSON.stringify(box)}`);
    // Sticky at the bottom of the window while the table goes on below it.
    assert.ok(box.y + box.height <= PHONE.height, `the bar is in view: ${JSON.stringify(box)}`);
    for (const name of ['add-tag', 'remove-tag', 'disable', 'enable', 'export', 'delete']) {
      const b = (await page.locator(`#links-bulk button[value=${name}]`).boundingBox())!;
      assert.ok(b.x >= 0 && b.x + b.width <= PHONE.width && b.height >= 36, `${name} fits and can be tapped: ${JSON.stringify(b)}`);
    }
    await page.screenshot({ path: join(SCREENSHOTS, 'links-bulk-05-selected-phone.png'), caret: 'initial' });
    await screenshot('links-bulk-05b-selected-phone-full');

    await page.fill('[data-bulk-tag]', 'mobile');
    await page.click('#links-bulk button[value=remove-tag]');
    await notice(page).filter({ hasText: 'Nothing to change: 2 links did not have the tag “mobile”.' }).waitFor();
    // Nothing changed, nothing redrawn: both are still ticked.
    assert.equal(await page.locator('[data-bulk-count]').innerText(), '2 selected');
    await rowOf(page, 'summer').locator('input[name=ids]').uncheck();
    await page.click('#links-bulk button[value=enable]');
    await notice(page).filter({ hasText: 'Enabled 1 link.' }).waitFor();
    await htmxIdle(page);
    assert.equal(await noHorizontalScroll(page), PHONE.width);
    await page.screenshot({ path: join(SCREENSHOTS, 'links-bulk-06-notice-phone.png'), caret: 'initial' });
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('without JavaScript: the boxes, a select of actions and Apply; delete asks for the confirm box', async () => {
    const context = await browser.newContext({ baseURL: t.url, viewport: DESKTOP, javaScriptEnabled: false, colorScheme: 'light', locale: 'en-US' });
    const page = await context.newPage();
    page.setDefaultTimeout(5_000);
    await signIn(page, OWNER, PASSWORD);
    await page.goto('/admin/links?q=s');
    /** Apply, and wait for the page it redirects back to (the same address). */
    const apply = async () => {
      await Promise.all([page.waitForEvent('framenavigated'), page.click('#links-bulk button:has-text("Apply")')]);
      await page.waitForLoadState('domcontentloaded');
      assert.equal(new URL(page.url()).search, '?q=s');
    };
    assert.equal(await page.locator('[data-bulk-all]').isVisible(), false, 'select all needs JavaScript');
    assert.equal(await bar(page).isVisible(), true);
    await tick(page, 'shop');
    await tick(page, 'spring');
    await page.selectOption('select[name=action]', 'add-tag');
    await page.fill('[data-bulk-tag]', 'nojs');
    await apply();
    assert.equal(await page.locator('.flash p').innerText(), 'Added the tag “nojs” to 2 links.');
    assert.deepEqual(await tagsOf('shop'), ['campaign', 'nojs']);
    await page.screenshot({ path: join(SCREENSHOTS, 'links-bulk-07-no-js.png'), fullPage: true });

    await tick(page, 'shop');
    await page.selectOption('select[name=action]', 'delete');
    await apply();
    assert.match(await page.locator('.flash-error p').innerText(), /^Deleting 1 link needs confirming: tick “Confirm delete”/);
    assert.equal(await statusOf('shop'), 'active');
    await tick(page, 'shop');
    await page.selectOption('select[name=action]', 'delete');
    await page.check('input[name=confirm]');
    await apply();
    assert.equal(await page.locator('.flash p').innerText(), 'Deleted 1 link.');
    assert.equal(await statusOf('shop'), undefined);
    await context.close();
  });

  test('a viewer gets no boxes and no bar', async () => {
    const { page, problems, context } = await openPage(browser, t.url);
    await signIn(page, VIEWER, PASSWORD);
    assert.ok((await page.locator('tr.link-row').count()) > 0);
    assert.equal(await page.locator('input[type=checkbox]').count(), 0);
    assert.equal(await page.locator('#links-bulk, #links-bulk-notice').count(), 0);
    assert.deepEqual(problems, []);
    await context.close();
  });
});
