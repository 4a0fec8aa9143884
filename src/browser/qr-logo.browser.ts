import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import jsQR from 'jsqr';
import type { Browser, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { createLink } from '../links/links.service.js';
import { createUser } from '../users/users.service.js';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { DESKTOP, htmxIdle, launchChromium, openPage, PHONE, signIn } from './chromium.js';

const OWNER = 'olga@example.com';
const PASSWORD = 'correct horse battery';

/** A logo people upload: a two-colour disc on transparency. */
function discPng(side: number): Buffer {
  const png = new PNG({ width: side, height: side });
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const inside = Math.hypot(x + 0.5 - side / 2, y + 0.5 - side / 2) <= side / 2;
      png.data.set(inside ? (x < side / 2 ? [220, 30, 40, 255] : [30, 60, 200, 255]) : [0, 0, 0, 0], (y * side + x) * 4);
    }
  }
  return PNG.sync.write(png);
}

/** As editors write them: a <style> with classes (an Illustrator export), which the pages' CSP must not stop drawing. */
const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 60 30">
<style>.band{fill:#0f766e}.dot{fill:#fbbf24}</style>
<rect class="band" width="60" height="30" rx="8"/><circle class="dot" cx="30" cy="15" r="9"/>
</svg>`;


/** What the preview shows, as the screen has it: decoded from a screenshot of the element. */
async function decodePreview(page: Page): Promise<string | undefined> {
  await page.waitForFunction(() => {
    const img = document.querySelector<HTMLImageElement>('img.qr-preview');
    return img !== null && img.complete && img.naturalWidth > 0;
  });
  const png = PNG.sync.read(await page.locator('img.qr-preview').screenshot());
  return jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data;
}

const loaded = (page: Page, selector: string) =>
  page.waitForFunction((s) => {
    const img = document.querySelector<HTMLImageElement>(s);
    return img !== null && img.complete && img.naturalWidth > 0;
  }, selector);

const noSidewaysScroll = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth);

describe('admin UI in a browser: QR logos', () => {
  let t: TestServer;
  let browser: Browser;
  let link: { id: string; qrUrl: string };

  before(async () => {
    [t, browser] = await Promise.all([startTestServer(), launchChromium()]);
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    const ws = (await t.store.db.row<{ id: string }>("select id from workspaces where name = 'Acme'"))!.id;
    link = await createLink(t.server.deps, ws, TEST_OPERATOR, { url: 'https://example.com/menu', slug: 'menu' });
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  test('a link’s logo on its QR card: a refusal beside the field, an upload shown in the preview (which still scans), at desktop and phone width, then removed', async () => {
    const desktop = await openPage(browser, t.url, DESKTOP);
    const { page } = desktop;
    await signIn(page, OWNER, PASSWORD);
    await page.goto(`/admin/links/${link.id}#qr`);
    await page.click('#qr button[type=submit]'); // Create QR code
    await page.waitForURL(`**/admin/links/${link.id}#qr`);
    assert.equal(await decodePreview(page), link.qrUrl);
    assert.match(await page.locator('#qr-logo-section').innerText(), /No logo/);

    // Not an image: the server's words beside the field, nothing else on the page changes.
    await page.setInputFiles('#link-logo-file', { name: 'logo.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('ffd8ffe000104a464946', 'hex') });
    await page.click('#link-logo button[type=submit]');
    await page.locator('#link-logo-file-error').waitFor();
    assert.equal(await page.locator('#link-logo-file-error').innerText(), 'The file must be a PNG or an SVG image (it is image/jpeg).');
    assert.equal(await page.locator('#link-logo-file').getAttribute('aria-invalid'), 'true');
    await desktop.screenshot('qr-logo-01-refused');

    // Too large: said before anything is sent.
    await page.setInputFiles('#link-logo-file', { name: 'big.png', mimeType: 'image/png', buffer: Buffer.alloc(70 * 1024, 1) });
    await page.click('#link-logo button[type=submit]');
    await page.waitForFunction(() => /at most 64 KB \(it is 70\.0 KB\)/.test(document.querySelector('#link-logo-file-error')?.textContent ?? ''));

    await page.setInputFiles('#link-logo-file', { name: 'logo.png', mimeType: 'image/png', buffer: discPng(96) });
    await Promise.all([page.waitForEvent('load'), page.click('#link-logo button[type=submit]')]);
    assert.match(await page.locator('.flash').innerText(), /Logo saved: this link’s QR codes show it/);
    await loaded(page, '#link-logo img.qr-logo-thumb');
    assert.match(await page.locator('#qr-logo-section').innerText(), /This link's own logo/);
    assert.match(await page.locator('#qr-logo-section').innerText(), /PNG · \d+\.\d KB/);
    assert.equal(await decodePreview(page), link.qrUrl, 'the preview with its logo scans');
    const preview = await page.locator('img.qr-preview').getAttribute('src');
    const previewSvg = await page.evaluate(async (src) => (await fetch(src!)).text(), preview);
    assert.match(previewSvg, /<image [^>]*xlink:href="data:image\/png;base64,/, 'the preview is the code with the logo');
    assert.match(await page.locator('label[for=qr-ecc]').innerText(), /H with the logo/);
    await desktop.screenshot('qr-logo-02-desktop');
    assert.deepEqual(desktop.problems.filter((p) => !/^422 for fetch .*\/qr-logo$/.test(p)), []);

    // On a phone: replace it with an SVG logo, the card in one column, nothing wider than the screen.
    const phone = await openPage(browser, t.url, PHONE);
    await signIn(phone.page, OWNER, PASSWORD);
    await phone.page.goto(`/admin/links/${link.id}#qr`);
    await phone.page.setInputFiles('#link-logo-file', { name: 'logo.svg', mimeType: 'image/svg+xml', buffer: Buffer.from(LOGO_SVG) });
    await Promise.all([phone.page.waitForEvent('load'), phone.page.click('#link-logo button[type=submit]')]);
    await loaded(phone.page, '#link-logo img.qr-logo-thumb');
    assert.match(await phone.page.locator('#qr-logo-section').innerText(), /SVG · /);
    assert.equal(await decodePreview(phone.page), link.qrUrl);
    // The logo's <style> applies in the thumbnail: its band is teal, not the default black.
    const thumb = PNG.sync.read(await phone.page.locator('#link-logo img.qr-logo-thumb').screenshot());
    const teal = [...Array(thumb.width * thumb.height).keys()].some((i) => Math.abs(thumb.data[i * 4]! - 0x0f) < 12 && Math.abs(thumb.data[i * 4 + 1]! - 0x76) < 12 && Math.abs(thumb.data[i * 4 + 2]! - 0x6e) < 12);
    assert.ok(teal, 'the thumbnail draws the logo with its own styles');
    assert.equal(await noSidewaysScroll(phone.page), PHONE.width, 'no sideways scrolling');
    await phone.page.locator('#qr-logo-section').scrollIntoViewIfNeeded();
    await phone.screenshot('qr-logo-03-phone');

    // Without the logo, on request: a plain preview.
    await phone.page.check('input[name=logo][value=none]');
    await Promise.all([phone.page.waitForEvent('load'), phone.page.click('.qr-options button[type=submit]')]);
    const plainSvg = await phone.page.evaluate(async () => (await fetch(document.querySelector<HTMLImageElement>('img.qr-preview')!.src)).text());
    assert.doesNotMatch(plainSvg, /<image/);

    await Promise.all([phone.page.waitForEvent('load'), phone.page.click('#link-logo .qr-logo-remove button')]);
    assert.match(await phone.page.locator('.flash').innerText(), /Logo removed/);
    assert.equal(await phone.page.locator('#link-logo img').count(), 0);
    assert.deepEqual(phone.problems, []);
  });

  test('the workspace’s logo in Settings: loaded into the page, uploaded, then on the codes of links without their own', async () => {
    for (const [viewport, name] of [[DESKTOP, 'desktop'], [PHONE, 'phone']] as const) {
      const { page, problems, screenshot } = await openPage(browser, t.url, viewport);
      await signIn(page, OWNER, PASSWORD);
      await page.goto('/admin/settings');
      await page.locator('#workspace-logo').waitFor();
      await htmxIdle(page);
      if (name === 'desktop') {
        assert.match(await page.locator('#qr-logo').innerText(), /Drawn in the middle of the QR codes of every link without a logo of its own/);
        await page.setInputFiles('#workspace-logo-file', { name: 'logo.png', mimeType: 'image/png', buffer: discPng(64) });
        await Promise.all([page.waitForEvent('load'), page.click('#workspace-logo button[type=submit]')]);
        assert.match(await page.locator('.flash').innerText(), /Logo saved: it is drawn in the QR codes of every link without one of its own/);
        await page.locator('#workspace-logo img.qr-logo-thumb').waitFor();
      }
      await loaded(page, '#workspace-logo img.qr-logo-thumb');
      assert.equal(await noSidewaysScroll(page), viewport.width, `${name}: no sideways scrolling`);
      await page.locator('#qr-logo').scrollIntoViewIfNeeded();
      await screenshot(`qr-logo-04-settings-${name}`);

      await page.goto(`/admin/links/${link.id}#qr`);
      assert.match(await page.locator('#qr-logo-section').innerText(), /The codes show the workspace's logo/);
      assert.equal(await decodePreview(page), link.qrUrl);
      assert.deepEqual(problems, []);
    }
  });
});
