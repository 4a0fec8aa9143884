/**
 * Helpers for the browser tests (*.browser.ts, run by `npm run test:browser`): Debian's Chromium
 * driven by playwright-core, screenshots into screenshots/, and every console error and page
 * error collected (a CSP violation shows up as a console error).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { ROOT } from '../testing/harness.js';

export const SCREENSHOTS = join(ROOT, 'screenshots');
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** `extraArgs`: e.g. --host-resolver-rules, to reach the test server by a domain's name. */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.LINKQR_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

export interface TestPage {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught page errors so far. */
  problems: string[];
  /** Saves a full-page screenshot as screenshots/<name>.png. */
  screenshot(name: string): Promise<void>;
}

export async function openPage(browser: Browser, baseURL: string, viewport = DESKTOP): Promise<TestPage> {
  const context = await browser.newContext({ baseURL, viewport, colorScheme: 'light', locale: 'en-US' });
  const page = await context.newPage();
  page.setDefaultTimeout(5_000);
  const problems: string[] = [];
  page.on('console', (m) => {
    // Chromium logs every 4xx/5xx as "Failed to load resource", pages answered 400 or 429 on
    // purpose too: failed loads are taken from the responses below instead.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource:')) problems.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && r.request().resourceType() !== 'document') problems.push(`${r.status()} for ${r.request().resourceType()} ${r.url()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    context,
    page,
    problems,
    screenshot: async (name) => {
      // caret 'initial': hiding the caret leaves style="" on inputs, which htmx would then settle.
      await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true, caret: 'initial' });
    },
  };
}

/** Signs in through the login form and waits for `next` (a path), where the form sends the user. */
export async function signIn(page: Page, email: string, password: string, next = '/admin/links'): Promise<void> {
  await page.goto(`/admin/login?next=${encodeURIComponent(next)}`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
  await page.waitForURL(`**${next}`);
}

/**
 * Waits until htmx has no request in flight and has settled its last swap: interacting earlier
 * races htmx wiring the new elements (and its move of focus to [autofocus]).
 */
export async function htmxIdle(page: import('playwright-core').Page): Promise<void> {
  await page.waitForFunction(() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added'));
}

/**
 * Answers the page's own confirmation dialog (public/admin.js shows it where browsers would show
 * confirm()): waits for it, presses its action or Cancel, and returns its question.
 */
export async function answerConfirm(page: Page, accept = true): Promise<string> {
  const dialog = page.locator('dialog.confirm-dialog[open]');
  await dialog.waitFor();
  const question = await dialog.locator('p').innerText();
  await dialog.locator(accept ? 'button[value=ok]' : 'button[value=cancel]').click();
  await dialog.waitFor({ state: 'detached' });
  return question;
}
