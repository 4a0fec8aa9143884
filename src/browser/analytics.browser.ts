import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import jsQR from 'jsqr';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { createUser } from '../users/users.service.js';
import { fakeClock, startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { launchChromium, openPage } from './chromium.js';

const OWNER = 'ana@example.com';
const PASSWORD = 'correct horse battery';
const DAY = 86_400_000;
const PHONE_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
const DESKTOP_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SLACK_UA = 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)';

async function signIn(page: Page, next: string) {
  await page.goto(`/admin/login?next=${encodeURIComponent(next)}`);
  await page.fill('#email', OWNER);
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`**${next}`);
}

const cardValue = async (page: Page, key: string) => Number((await page.locator(`#stat-${key} .stat-value`).innerText()).replace(/,/g, ''));

describe('admin UI in a browser: Analytics and a link’s page with its QR code', () => {
  const now = Date.now();
  const clock = fakeClock(now - 20 * DAY);
  let t: TestServer;
  let browser: Browser;
  let key: string;
  let link: { id: string; slug: string; qrUrl: string };

  before(async () => {
    [t, browser] = await Promise.all([startTestServer({ clock }), launchChromium()]);
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    key = await t.key({ workspace: 'Acme' });
    link = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/spring-sale', title: 'Spring sale' } })).json;
    const other = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/docs' } })).json;
    // Twenty days of traffic: more each day, some of it through the QR code, some from bots.
    for (let day = 0; day < 20; day++) {
      for (let i = 0; i <= day % 7; i++) {
        const qr = i % 3 === 0 ? '?qr=1' : '';
        await t.request('GET', `/${link.slug}${qr}`, { headers: { 'user-agent': i % 2 ? PHONE_UA : DESKTOP_UA, referer: 'https://news.ycombinator.com/item' } });
      }
      await t.request('GET', `/${link.slug}`, { headers: { 'user-agent': SLACK_UA } });
      if (day % 4 === 0) await t.request('GET', `/${other.slug}`, { headers: { 'user-agent': DESKTOP_UA } });
      clock.advance(DAY);
    }
    clock.set(now);
    await t.flushClicks();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  test('the Analytics page shows the same numbers as the API, a chart and the top links', async () => {
    const { page, problems, screenshot } = await openPage(browser, t.url);
    await signIn(page, '/admin/analytics');
    const api = (await t.request('GET', `/api/v1/links/${link.id}/stats`, { key })).json;
    const workspace = (await t.request('GET', '/api/v1/stats', { key })).json;
    assert.equal(await cardValue(page, 'human'), workspace.human);
    assert.equal(await cardValue(page, 'qr'), workspace.qr);
    assert.equal(await cardValue(page, 'bots'), workspace.bots);
    assert.ok(workspace.human > api.human, 'the workspace includes the second link');
    // Drawn in four sizes; the one for this card's width is the one shown.
    assert.equal(await page.locator('.chart-card svg[role="img"]').count(), 4);
    assert.equal(await page.locator('.chart-card svg[role="img"]:visible').count(), 1);
    assert.equal(await page.locator('.chart-card .chart-size-960').isVisible(), true, 'the widest, in a 1280 px window');
    assert.equal(await page.locator('.chart-card .click-chart__human').count() > 0, true, 'bars drawn');
    const top = await page.locator('#top-links tbody tr').allInnerTexts();
    assert.match(top[0]!, new RegExp(`/${link.slug}`), 'the busiest link first');
    await screenshot('analytics-01-workspace');

    // A custom range the wrong way round: the message beside the dates, the default range shown.
    await page.fill('#range-from', '2030-05-10');
    await page.fill('#range-to', '2030-05-01');
    await page.click('.range-custom button[type=submit]');
    await page.locator('#range-error').waitFor();
    assert.match(await page.locator('#range-error').innerText(), /end date must be on or after the start date/);
    await screenshot('analytics-02-range-error');

    await page.click('.range-preset >> text=7 days');
    await page.waitForURL('**/admin/analytics?range=7d');
    assert.ok((await cardValue(page, 'human')) < workspace.human, 'seven days hold fewer clicks than thirty');
    assert.deepEqual(problems, []);
  });

  test('a link’s page: facets, latest clicks, and a QR code created once, previewed and downloaded', async () => {
    const { page, problems, screenshot } = await openPage(browser, t.url);
    await signIn(page, '/admin/links');
    await page.click(`a[aria-label^="Analytics and QR code of /${link.slug}:"]`);
    await page.waitForURL(`**/admin/links/${link.id}`);
    const api = (await t.request('GET', `/api/v1/links/${link.id}/stats`, { key })).json;
    assert.equal(await cardValue(page, 'human'), api.human);
    assert.equal(await cardValue(page, 'qr'), api.qr);
    assert.match(await page.locator('#facet-table-referrers').innerText(), /news\.ycombinator\.com/);
    assert.match(await page.locator('#facet-table-devices').innerText(), /mobile/);
    assert.match(await page.locator('#facet-table-browsers').innerText(), /Slackbot/);
    assert.equal(await page.locator('#recent-clicks tbody tr').count(), 10);

    assert.equal((await t.request('GET', '/api/v1/me', { key })).json.workspace.usage.limits.qrCodes.used, 0, 'viewing the page creates no QR code');
    await page.click('#qr button[type=submit]');
    await page.waitForURL(`**/admin/links/${link.id}#qr`);
    const preview = page.locator('img.qr-preview');
    await preview.waitFor();
    await page.waitForFunction(() => (document.querySelector('img.qr-preview') as HTMLImageElement | null)?.naturalWidth ?? 0 > 0);
    assert.equal((await t.request('GET', '/api/v1/me', { key })).json.workspace.usage.limits.qrCodes.used, 1);
    await screenshot('analytics-03-link');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a:has-text("Download PNG")')]);
    assert.match(download.suggestedFilename(), new RegExp(`^${link.slug}-qr\\.png$`));
    const png = PNG.sync.read(readFileSync(await download.path()));
    const decoded = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
    assert.equal(decoded?.data, link.qrUrl, 'the downloaded PNG encodes the tracked URL');

    // A colour too light to scan: the message beside the field, the last good preview kept.
    await page.fill('#qr-fg', '#eeeeee');
    await page.click('.qr-options button[type=submit]');
    await page.locator('#qr .has-error .error').waitFor();
    assert.match(await page.locator('#qr .has-error .error').innerText(), /contrast|dark/i);
    await screenshot('analytics-04-qr-error');
    assert.deepEqual(problems, []);
  });
});
