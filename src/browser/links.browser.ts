import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createLink, updateLink } from '../links/links.service.js';
import { createUser } from '../users/users.service.js';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { answerConfirm, DESKTOP, htmxIdle, launchChromium, openPage, PHONE } from './chromium.js';

const OWNER = 'dana@example.com';
const VIEWER = 'vic@example.com';
const PASSWORD = 'correct horse battery';

async function signIn(page: Page, email: string) {
  await page.goto('/admin/login?next=%2Fadmin%2Flinks');
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL('**/admin/links');
}

const rowSlugs = (page: Page) => page.locator('#links tbody tr.link-row .short-url').allInnerTexts();

describe('admin UI in a browser: the Links page', () => {
  let t: TestServer;
  let browser: Browser;

  before(async () => {
    [t, browser] = await Promise.all([startTestServer(), launchChromium()]);
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    await createUser(t.store, TEST_OPERATOR, { email: VIEWER, password: PASSWORD, workspace: 'Acme', role: 'viewer' });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  test('create a link from the Links page: it appears without a reload; search, copy, edit, disable, delete', async () => {
    const { page, problems, screenshot, context } = await openPage(browser, t.url);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });
    const confirmations: string[] = [];
    await signIn(page, OWNER);
    assert.equal(await page.locator('.empty-state h2').innerText(), 'No links yet');
    await screenshot('links-01-empty');

    // A page that reloads loses this marker.
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
    const marker = () => page.evaluate(() => (window as unknown as { marker?: number }).marker);

    // A mistake first: the server's message beside the field, the value kept.
    await page.fill('#new-url', 'example.com/no-scheme');
    await page.click('#link-create button[type=submit]');
    await page.locator('#new-url-error').waitFor();
    assert.equal(await page.locator('#new-url-error').innerText(), 'Must be an absolute http:// or https:// URL');
    assert.equal(await page.inputValue('#new-url'), 'example.com/no-scheme');
    await screenshot('links-02-create-error');

    // The UTM builder edits the URL's utm_* parameters (the rest of the URL as typed), and typing
    // in the URL refills it.
    const springUrl = 'https://example.com/spring/collection?utm_source=newsletter&utm_medium=email&utm_campaign=spring-sale-2030';
    await page.fill('#new-url', 'https://example.com/spring/collection?keep=a%20b&utm_source=old#top');
    await page.click('#link-create .utm-builder summary');
    assert.equal(await page.inputValue('#new-utm_source'), 'old');
    await page.fill('#new-utm_source', '');
    assert.equal(await page.inputValue('#new-url'), 'https://example.com/spring/collection?keep=a%20b#top');
    await page.fill('#new-url', 'https://example.com/spring/collection');
    assert.equal(await page.inputValue('#new-utm_source'), '');
    await page.fill('#new-utm_source', 'newsletter');
    await page.fill('#new-utm_medium', 'email');
    await page.fill('#new-utm_campaign', 'spring sale 2030');
    await page.fill('#new-utm_campaign', 'spring-sale-2030');
    assert.equal(await page.inputValue('#new-url'), springUrl);
    assert.equal(await page.locator('#new-utm-final').innerText(), springUrl);
    await screenshot('links-02b-utm-builder');
    // On a phone the builder's fields wrap inside the form, and the final URL breaks anywhere.
    await page.setViewportSize(PHONE);
    for (const part of ['.utm-fields', '.utm-final']) {
      const box = (await page.locator(`#link-create ${part}`).boundingBox())!;
      assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width, `${part} fits a ${PHONE.width} px screen: ${JSON.stringify(box)}`);
    }
    await screenshot('links-02c-utm-builder-phone');
    await page.setViewportSize(DESKTOP);
    await page.click('.more-options summary');
    await page.fill('#new-slug', 'spring');
    await page.fill('#new-title', 'Spring collection');
    await page.fill('#new-tags', 'campaign, newsletter');
    await page.click('#link-create button[type=submit]');
    await page.locator('.link-created').waitFor();
    await page.locator('#links tbody tr.link-row').first().waitFor();
    assert.deepEqual((await rowSlugs(page)), ['/spring']);
    assert.equal(await marker(), 1, 'no full reload');
    assert.equal(await page.inputValue('#new-url'), '', 'the form is ready for the next link');
    await screenshot('links-03-created');

    // More links, the way scripts make them, to fill the table.
    const deps = t.server.deps;
    const ws = (await t.store.db.row<{ id: string }>("select id from workspaces where name = 'Acme'"))!.id;
    const more = [
      { url: 'https://docs.example.com/getting-started/installation#requirements', slug: 'docs', title: 'Getting started', tags: ['docs'] },
      { url: 'https://shop.example.com/products/very-long-product-name-that-goes-on-and-on?variant=12345&color=midnight-blue', title: 'A product page with a rather long title that will not fit', tags: ['shop', 'q2', 'launch'] },
      { url: 'https://example.org/', maxClicks: 100 },
      { url: 'https://events.example.com/2030/meetup', slug: 'meetup', tags: ['events'], expiresAt: Date.now() + 40 * 86_400_000 },
    ];
    for (const m of more) await createLink(deps, ws, TEST_OPERATOR, m);
    const paused = await createLink(deps, ws, TEST_OPERATOR, { url: 'https://example.com/winter', slug: 'winter', title: 'Winter sale (over)' });
    await updateLink(deps, ws, TEST_OPERATOR, paused.id, { status: 'disabled' });
    await page.reload();
    assert.equal((await rowSlugs(page)).length, 6);
    await screenshot('links-04-table');

    // Search as you type narrows the table in place, and the address follows.
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
    await page.locator('input[name=q]').pressSequentially('docs', { delay: 30 });
    await page.waitForFunction(() => document.querySelectorAll('#links tbody tr.link-row').length === 1);
    assert.match((await rowSlugs(page))[0]!, /\/docs$/);
    assert.equal(new URL(page.url()).search, '?q=docs');
    assert.equal(await marker(), 1, 'no full reload');
    await screenshot('links-05-search');
    await page.fill('input[name=q]', 'nothing-like-this');
    await page.locator('.no-match').waitFor();
    await page.fill('input[name=q]', '');
    await page.waitForFunction(() => document.querySelectorAll('#links tbody tr.link-row').length === 6);

    // Copy the short URL.
    const spring = page.locator('tr.link-row', { has: page.locator('.short-url', { hasText: '/spring' }) });
    await spring.locator('button.copy').click();
    assert.match(await page.evaluate(() => navigator.clipboard.readText()), /^http:\/\/127\.0\.0\.1:\d+\/spring$/);

    // Edit in a dialog: the row is redrawn where it is.
    await spring.locator('a[title=Edit]').click();
    await page.locator('dialog#link-dialog[open] #edit-title').waitFor();
    // htmx moves focus to [autofocus] when the swap settles: typing before that lands elsewhere.
    await htmxIdle(page);
    assert.equal(await page.inputValue('#edit-utm_campaign'), 'spring-sale-2030', "the builder shows the link's parameters");
    await page.fill('#edit-title', 'Spring collection 2030');
    await page.fill('#edit-maxClicks', '0');
    await page.click('#link-edit button[type=submit]');
    await page.locator('#edit-maxClicks-error').waitFor();
    assert.equal(await page.locator('#edit-maxClicks-error').innerText(), 'Must be at least 1');
    await screenshot('links-06-edit-dialog');
    // Let htmx finish settling the re-rendered form before typing into it again.
    await htmxIdle(page);
    await page.fill('#edit-maxClicks', '');
    await page.click('#link-edit button[type=submit]');
    await page.locator('dialog#link-dialog').waitFor({ state: 'hidden' });
    assert.equal(await spring.locator('.link-title').innerText(), 'Spring collection 2030');

    // Disable, then delete after confirming.
    await spring.locator('button[aria-label^=Disable]').click();
    await spring.locator('.badge-disabled').waitFor();
    // The question is the page's own dialog: Cancel keeps the link, Delete deletes it.
    await spring.locator('button[aria-label^=Delete]').click();
    await answerConfirm(page, false);
    assert.equal(await spring.count(), 1, 'cancelled: the link stays');
    await spring.locator('button[aria-label^=Delete]').click();
    await screenshot('links-07-delete-dialog');
    confirmations.push(await answerConfirm(page));
    await spring.waitFor({ state: 'detached' });
    assert.deepEqual(confirmations, [`Delete ${new URL(t.url).host}/spring? Its short URL stops working and its click history is removed.`]);
    assert.equal((await rowSlugs(page)).length, 5);
    assert.equal(await marker(), 1, 'still no full reload');
    await screenshot('links-07-after-delete');

    // The only failed requests were the forms answered 422 on purpose.
    assert.deepEqual(problems.filter((p) => !/^422 for xhr .*\/admin\/links/.test(p)), []);
    await context.close();
  });

  test('a viewer sees the links but no create button or row controls', async () => {
    const { page, problems, screenshot, context } = await openPage(browser, t.url);
    await signIn(page, VIEWER);
    assert.ok((await rowSlugs(page)).length > 0);
    assert.equal(await page.locator('#link-create').count(), 0);
    assert.equal(await page.locator('button:has-text("Create link")').count(), 0);
    assert.equal(await page.locator('.row-actions').count(), 0);
    assert.equal(await page.locator('dialog').count(), 0);
    await screenshot('links-08-viewer');
    assert.deepEqual(problems, []);
    await context.close();
  });
});
