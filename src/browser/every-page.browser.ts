/**
 * Every page of the admin UI (and the public pages around it) at four widths and in both colour
 * schemes: nothing wider than the window, every row action on screen, and axe-core finds no
 * serious or critical violation. Screenshots of each land in screenshots/every-page/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createUser } from '../users/users.service.js';
import { issueSetupToken } from '../setup/setup.service.js';
import { inviteUser } from '../users/password-tokens.js';
import { requireWorkspace } from '../workspaces/workspaces.service.js';
import { startReceiver } from '../testing/receiver.js';
import { eventually, startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { htmxIdle, launchChromium, openPage, SCREENSHOTS, signIn } from './chromium.js';

const OWNER = 'dana.operations-lead@example.com';
const PASSWORD = 'correct horse battery';
const BROWSER_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
const WIDTHS = [360, 390, 768, 1280];
const SCHEMES = ['light', 'dark'] as const;
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

interface PageCheck {
  /** A short name, for messages and screenshot files. */
  name: string;
  /** A path on the seeded server, or a whole URL (the setup page lives on a server with no user yet). */
  path: string;
  signedIn: boolean;
}

/** What one page at one width and scheme gets wrong: overflow, hidden row actions, axe violations. */
async function problemsOf(page: Page): Promise<string[]> {
  const layout = await page.evaluate(() => {
    const found: string[] = [];
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth > width + 1) {
      // Name the widest culprits: elements whose right edge passes the window and whose parent's does not.
      const culprits = [...document.querySelectorAll<HTMLElement>('body *')]
        .filter((el) => el.getBoundingClientRect().right > width + 1 && (el.parentElement?.getBoundingClientRect().right ?? 0) <= width + 1)
        .slice(0, 5)
        .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''} (${Math.round(el.getBoundingClientRect().right)} px)`);
      found.push(`page is ${document.documentElement.scrollWidth} px wide in a ${width} px window: ${culprits.join(', ')}`);
    }
    // A table that scrolls sideways hides its last columns, the row actions among them.
    for (const card of document.querySelectorAll<HTMLElement>('.table-card')) {
      if (card.scrollWidth > card.clientWidth + 1) found.push(`a table scrolls sideways (${card.scrollWidth} px in ${card.clientWidth} px): ${card.querySelector('table')?.id || card.querySelector('th')?.textContent?.trim()}`);
    }
    const offScreen = [...document.querySelectorAll<HTMLElement>('.table tbody a, .table tbody button, .table tbody select')].filter((control) => {
      if (!control.checkVisibility({ visibilityProperty: true }) || control.closest('details:not([open])')) return false;
      const r = control.getBoundingClientRect();
      return r.left < -1 || r.right > width + 1;
    });
    if (offScreen.length > 0) {
      const names = offScreen.slice(0, 3).map((c) => `“${c.textContent?.trim() || c.getAttribute('aria-label')}”`);
      found.push(`${offScreen.length} row actions off-screen: ${names.join(', ')}…`);
    }
    // Chart labels a person can read: 11 px or more as drawn.
    for (const label of document.querySelectorAll<SVGTextElement>('svg text')) {
      const h = label.getBoundingClientRect().height;
      if (h > 0 && parseFloat(getComputedStyle(label).fontSize) * (label.ownerSVGElement!.getScreenCTM()?.a ?? 1) < 11) {
        found.push(`chart text “${label.textContent}” is drawn smaller than 11 px`);
        break;
      }
    }
    return found;
  });
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `axe ${v.impact} ${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')})`);
  });
  return [...layout, ...violations];
}

describe('every page, at 360, 390, 768 and 1280 px, light and dark', () => {
  let t: TestServer;
  /** A server with no user yet: its first-run setup page. */
  let fresh: TestServer;
  let browser: Browser;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const pages: PageCheck[] = [];

  before(async () => {
    mkdirSync(join(SCREENSHOTS, 'every-page'), { recursive: true });
    receiver = await startReceiver(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' }));
    [t, fresh, browser] = await Promise.all([startTestServer({ env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' } }), startTestServer(), launchChromium()]);
    const setupToken = (await issueSetupToken(fresh.store))!;
    // The first user is the instance admin: every page of the sidebar is theirs.
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme Marketing' });
    await createUser(t.store, TEST_OPERATOR, { email: 'vic.viewer@example.com', password: PASSWORD, workspace: 'Acme Marketing', role: 'viewer' });
    const acme = (await requireWorkspace(t.store, 'Acme Marketing')).id;
    const invited = await inviteUser(t.store, TEST_OPERATOR, acme, 'new.person@example.com', 'member');
    const key = await t.key({ workspace: 'Acme Marketing', name: 'CRM sync (production)' });
    const post = async (path: string, body: unknown) => {
      const res = await t.request('POST', path, { key, body });
      assert.ok(res.status < 300, `${path}: ${res.status} ${res.text}`);
      return res.json as { id: string; slug: string };
    };
    const links = [];
    links.push(await post('/api/v1/links', { url: 'https://example.com/spring-campaign/landing-page-with-a-long-path?utm_source=newsletter&utm_medium=email', title: 'Spring campaign landing page', tags: ['spring', 'newsletter'] }));
    links.push(await post('/api/v1/links', { url: 'https://example.com/app', targets: [{ device: 'ios', url: 'https://apps.apple.com/app/id1' }], password: 'opensesame1', maxClicks: 500 }));
    links.push(await post('/api/v1/links', { url: 'https://example.com/once', maxClicks: 1 }));
    await t.request('GET', `/${links[2]!.slug}`, { headers: { 'user-agent': BROWSER_UA } });
    for (let i = 0; i < 12; i++) await t.request('GET', `/${links[0]!.slug}${i % 3 === 0 ? '?qr=1' : ''}`, { headers: { 'user-agent': BROWSER_UA, referer: 'https://news.example.org/' } });
    await t.flushClicks();
    // Its QR code exists (the API's image counts it): the link's page shows the preview and its options.
    assert.equal((await t.request('GET', `/api/v1/links/${links[0]!.id}/qr?format=svg`, { key })).status, 200);
    const hook = await post('/api/v1/webhooks', { url: `${receiver.url}/hooks/linkqr`, events: ['link.created', 'link.clicked'], description: 'CRM receiver' });
    await post(`/api/v1/webhooks/${hook.id}/test`, {});
    await eventually(async () => {
      const list = (await t.request('GET', `/api/v1/webhooks/${hook.id}/deliveries`, { key })).json as { data: { id: string; status: string }[] };
      return list.data.find((d) => d.status === 'succeeded');
    });
    // An added domain (unverified): Settings lists it with its record to add, and the link forms offer it.
    await post('/api/v1/domains', { hostname: 'go.acme-marketing.example' });
    const imported = await post('/api/v1/imports', { format: 'csv', dryRun: true, data: 'url,slug\nhttps://example.com/a,imported-a\nnot a url,imported-b\n' });
    const keyId = ((await t.request('GET', '/api/v1/me', { key })).json as { id: string }).id;

    const admin = (name: string, path: string) => pages.push({ name, path, signedIn: true });
    admin('links', '/admin/links');
    admin('link', `/admin/links/${links[0]!.id}`);
    admin('link-edit', `/admin/links/${links[1]!.id}/edit`);
    admin('import', '/admin/links/import');
    admin('import-job', `/admin/imports/${imported.id}`);
    admin('analytics', '/admin/analytics');
    admin('api', '/admin/api');
    admin('key-requests', `/admin/api/keys/${keyId}/requests`);
    admin('webhook', `/admin/api/webhooks/${hook.id}`);
    admin('team', '/admin/team');
    admin('settings', '/admin/settings');
    admin('audit', '/admin/audit');
    admin('instance', '/admin/instance');
    admin('account', '/admin/account');
    admin('not-found', '/admin/no-such-page');
    const visitor = (name: string, path: string) => pages.push({ name, path, signedIn: false });
    visitor('setup', `${fresh.url}/setup?token=${setupToken}`);
    visitor('setup-closed', `${fresh.url}/setup`);
    visitor('login', '/admin/login');
    visitor('forgot-password', '/admin/forgot-password');
    visitor('login-code', '/admin/login/code');
    visitor('set-password', `/admin/set-password?token=${invited.token}`);
    visitor('home', '/');
    visitor('api-docs', '/docs/api');
    visitor('link-password', `/${links[1]!.slug}`);
    visitor('link-gone', `/${links[2]!.slug}`);
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    await fresh?.close();
    await receiver?.close();
  });

  /**
   * What a page shows after a click: a dialog, an open form, errors beside fields, the enrolment
   * step. Each state is checked as the pages are, on a phone and in a 1280 px window.
   */
  const STATES: { name: string; path: string; act(page: Page): Promise<void> }[] = [
    { name: 'link-edit-dialog', path: '/admin/links', act: async (page) => {
      await page.locator('#links a[title=Edit]').first().click();
      await page.locator('dialog#link-dialog[open] #edit-title').waitFor();
    } },
    { name: 'link-create-errors', path: '/admin/links', act: async (page) => {
      await page.locator('#new-url').fill('not a url');
      await page.locator('#link-create button[type=submit]').click();
      await page.locator('#new-url-error').waitFor();
    } },
    { name: 'key-form-errors', path: '/admin/api', act: async (page) => {
      await page.locator('summary:has-text("New API key")').click();
      await page.locator('details.form-card[open] button[type=submit]').first().click();
      await page.locator('.form-card .error').first().waitFor();
    } },
    { name: 'key-manage-menu', path: '/admin/api', act: async (page) => {
      await page.locator('summary:has-text("Manage")').first().click();
    } },
    { name: 'invite-error', path: '/admin/team', act: async (page) => {
      await page.locator('#invite-email').fill('nobody-at-all');
      await page.locator('#member-invite button[type=submit]').click();
      await page.locator('#member-invite .error').first().waitFor();
    } },
    { name: 'two-factor-enrol', path: '/admin/account', act: async (page) => {
      // Started once (at the first width), the enrolment waits for its code on every later visit.
      if ((await page.locator('.totp-qr').count()) === 0) await page.locator('button:has-text("Set up two-factor sign-in")').click();
      await page.locator('.totp-qr').waitFor();
    } },
    { name: 'confirm-dialog', path: '/admin/links', act: async (page) => {
      await page.locator('button[aria-label^=Delete]').first().click();
      await page.locator('dialog.confirm-dialog[open]').waitFor();
    } },
  ];

  for (const scheme of SCHEMES) {
    test(`${scheme}: dialogs, open forms and errors fit and pass axe too`, async () => {
      const found = new Set<string>();
      for (const width of [390, 1280]) {
        const { page, context, problems } = await openPage(browser, t.url, { width, height: 800 });
        page.setDefaultTimeout(30_000);
        await page.emulateMedia({ colorScheme: scheme });
        await signIn(page, OWNER, PASSWORD, '/admin/links');
        for (const state of STATES) {
          await page.goto(state.path);
          await state.act(page);
          await htmxIdle(page);
          for (const problem of await problemsOf(page)) found.add(`${state.name} at ${width} px, ${scheme}: ${problem}`);
          await page.screenshot({ path: join(SCREENSHOTS, 'every-page', `state-${state.name}-${width}-${scheme}.png`), caret: 'initial' });
        }
        // Forms answered 400 or 422 on purpose (their errors are the state checked) are no problem; anything else the console said is.
        for (const problem of problems.filter((p) => !/^(400|422) for xhr /.test(p))) found.add(`${width} px, ${scheme}: ${problem}`);
        await context.close();
      }
      assert.deepEqual([...found], []);
    });

    test(`${scheme}: every page fits, keeps its row actions in reach, and passes axe`, async () => {
      const found = new Set<string>();
      for (const width of WIDTHS) {
        for (const signedIn of [false, true]) {
          const { page, context, problems } = await openPage(browser, t.url, { width, height: 800 });
          // A busy machine (CI runs the suites side by side) can take seconds for a full-page screenshot.
          page.setDefaultTimeout(30_000);
          await page.emulateMedia({ colorScheme: scheme });
          if (signedIn) await signIn(page, OWNER, PASSWORD, '/admin/links');
          for (const p of pages.filter((x) => x.signedIn === signedIn)) {
            await page.goto(p.path);
            for (const problem of await problemsOf(page)) found.add(`${p.name} at ${width} px, ${scheme}: ${problem}`);
            // The whole page, but for the API reference (tens of thousands of pixels at phone width): its first screens.
            const tall = (await page.evaluate(() => document.documentElement.scrollHeight)) > 6000;
            await page.screenshot({ path: join(SCREENSHOTS, 'every-page', `${p.name}-${width}-${scheme}.png`), fullPage: !tall, caret: 'initial' });
          }
          for (const problem of problems) found.add(`${width} px, ${scheme}: ${problem}`);
          await context.close();
        }
      }
      assert.deepEqual([...found], []);
    });
  }
});
