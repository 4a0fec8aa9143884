import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { createUser } from '../users/users.service.js';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { DESKTOP, launchChromium, openPage, PHONE, signIn } from './chromium.js';

const OWNER = 'ivy@example.com';
const PASSWORD = 'correct horse battery';

describe('admin UI in a browser: import links from a file', () => {
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

  for (const [viewport, name] of [[DESKTOP, 'desktop'], [PHONE, 'phone']] as const) {
    test(`${name}: choose a file, check it, read the report, import, and download the links`, async () => {
      const { page, problems, screenshot } = await openPage(browser, t.url, viewport);
      await signIn(page, OWNER, PASSWORD);
      await page.click('a:has-text("Import")');
      await page.waitForURL('**/admin/links/import');

      const csv = `url,slug,title\nhttps://example.com/${name}-1,${name}-one,One\nnot a url,${name}-bad,Bad\nhttps://example.com/${name}-2,,Two\n`;
      await page.setInputFiles('#import-file', { name: 'links.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
      await page.waitForFunction(() => (document.getElementById('import-data') as HTMLTextAreaElement).value.includes('url,slug'));
      await screenshot(`import-01-form-${name}`);
      await page.click('button:has-text("Check the file")');
      await page.locator('text=2 of 3 rows can be imported').waitFor();
      assert.match(await page.locator('.import-report').innerText(), new RegExp(`3\\s+${name}-bad\\s+url must be an absolute`));
      await screenshot(`import-02-checked-${name}`);

      await page.click('button:has-text("Import 2 links")');
      await page.locator('text=Created 2 links from 3 rows').waitFor();
      await screenshot(`import-03-done-${name}`);
      assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), viewport.width, 'no sideways scrolling');

      await page.goto('/admin/links');
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#links-export')]);
      const text = readFileSync((await download.path())!, 'utf8');
      assert.match(text, new RegExp(`"${name}-one"`));
      assert.deepEqual(problems, []);
    });
  }
});
