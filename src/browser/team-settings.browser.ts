import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createUser } from '../users/users.service.js';
import { setWorkspacePlan, upsertPlan } from '../workspaces/plans.js';
import { listMembers } from '../workspaces/members.service.js';
import { createWorkspace, requireWorkspace } from '../workspaces/workspaces.service.js';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { answerConfirm, htmxIdle, launchChromium, openPage } from './chromium.js';

const OWNER = 'dana@example.com';
const COLLEAGUE = 'lee.marketing-operations@example.com';
const VIEWER = 'vic@example.com';
const PASSWORD = 'correct horse battery';
const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0';

async function signIn(page: Page, email: string, next: string) {
  await page.goto(`/admin/login?next=${encodeURIComponent(next)}`);
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL(`**${next}`);
}

describe('admin UI in a browser: Team, Settings and Instance', () => {
  let t: TestServer;
  let browser: Browser;
  let acme: string;

  before(async () => {
    [t, browser] = await Promise.all([startTestServer(), launchChromium()]);
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    await createUser(t.store, TEST_OPERATOR, { email: VIEWER, password: PASSWORD, workspace: 'Acme', role: 'viewer' });
    await createUser(t.store, TEST_OPERATOR, { email: COLLEAGUE, password: PASSWORD });
    await createWorkspace(t.store, TEST_OPERATOR, 'Globex');
    acme = (await requireWorkspace(t.store, 'Acme')).id;
    // A plan with limits, links and clicks past the monthly limit, made through the real API.
    await upsertPlan(t.store.db, TEST_OPERATOR, 'Starter', { features: { webhooks: false }, limits: { links: 10, clicksPerMonth: 3, members: 5, apiKeys: 2, analyticsRetentionDays: 90 } }, Date.now());
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, acme, 'Starter', Date.now());
    const key = await t.key({ workspace: 'Acme', name: 'CRM sync' });
    for (const path of ['spring', 'docs', 'pricing', 'careers', 'blog', 'launch', 'webinar']) {
      const res = await t.request('POST', '/api/v1/links', { key, body: { url: `https://example.com/${path}` } });
      assert.equal(res.status, 201, res.text);
      if (path === 'spring') for (let i = 0; i < 5; i++) await t.request('GET', `/${res.json.slug}`, { headers: { 'user-agent': BROWSER_UA } });
    }
    await t.flushClicks();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  test('the owner adds a member, changes their role, cannot remove the last owner; Settings shows the meters', async () => {
    const { page, problems, screenshot, context } = await openPage(browser, t.url);
    await signIn(page, OWNER, '/admin/team');
    assert.equal(await page.locator('.nav-link[aria-current=page]').innerText(), 'Team');
    await screenshot('team-01-members');

    // Errors come back beside the field, without a reload.
    await page.fill('#email', 'nobody@example.com');
    await page.click('#member-add button[type=submit]');
    await page.locator('#email-error').waitFor();
    assert.match(await page.locator('#email-error').innerText(), /Nobody with this email has an account here/);
    await screenshot('team-02-add-error');

    await page.evaluate(() => document.body.setAttribute('data-same-page', '1'));
    await page.fill('#email', COLLEAGUE);
    await page.selectOption('#add-role', 'member');
    await page.click('#member-add button[type=submit]');
    await page.locator('#member-add .notice').waitFor();
    assert.equal(await page.locator('#member-add .notice').innerText(), `${COLLEAGUE} joined Acme as member.`);
    const row = page.locator(`#members-table tr:has-text("${COLLEAGUE}")`);
    await row.waitFor();
    assert.equal(await page.evaluate(() => document.body.getAttribute('data-same-page')), '1', 'no full reload');
    assert.equal(await page.inputValue('#email'), '', 'the form is empty again');

    // Picking a role saves it at once (once htmx has wired the swapped-in row).
    await htmxIdle(page);
    await row.locator('select').selectOption('admin');
    await page.locator('#members .notice').waitFor();
    assert.equal(await page.locator('#members .notice').innerText(), `${COLLEAGUE} is now admin.`);
    assert.equal((await listMembers(t.store.db, acme)).find((m) => m.email === COLLEAGUE)?.role, 'admin');
    await screenshot('team-03-role-changed');

    // The only owner cannot go: the refusal is shown above the table.
    await htmxIdle(page);
    await page.locator(`#members-table tr:has-text("${OWNER}") button:has-text("Leave")`).click();
    assert.equal(await answerConfirm(page), 'Leave this workspace? You lose access to it.');
    await page.locator('#members .alert').waitFor();
    assert.equal(await page.locator('#members .alert').innerText(), 'This is the only owner of the workspace: make someone else owner first.');
    await page.locator('#members .alert').evaluate((el) => el.remove());
    await htmxIdle(page);
    await page.locator(`#members-table tr:has-text("${OWNER}") select`).selectOption('viewer');
    await page.locator('#members .alert').waitFor();
    assert.equal(await page.locator('#members .alert').innerText(), 'This is the only owner of the workspace: make someone else owner first.');
    assert.equal(await page.locator(`#members-table tr:has-text("${OWNER}") select`).inputValue(), 'owner', 'the select shows the role that stayed');
    await screenshot('team-04-last-owner');

    // A new user: the one-time link is shown once; it opens a page to choose a password.
    await htmxIdle(page);
    await page.fill('#invite-email', 'sam@example.com');
    await page.selectOption('#invite-role', 'viewer');
    await page.click('#member-invite button[type=submit]');
    await page.locator('#invite-link').waitFor();
    await page.locator('#members-table tr:has-text("sam@example.com")').waitFor();
    const link = await page.inputValue('#invite-link');
    await screenshot('team-06-invite-link');
    const other = await openPage(browser, t.url);
    await other.page.goto(link);
    await other.page.fill('#password', PASSWORD);
    await other.page.fill('#confirm', PASSWORD);
    await other.screenshot('set-password-01');
    await other.page.click('button[type=submit]');
    assert.equal(await other.page.locator('h1').innerText(), 'Password set');
    await other.page.click('a:has-text("Sign in")');
    await signIn(other.page, 'sam@example.com', '/admin/team');
    assert.deepEqual(other.problems, []);
    await other.context.close();

    await page.click('.nav-link:has-text("Settings")');
    await page.waitForURL('**/admin/settings');
    assert.equal(await page.locator('.plan-name').last().innerText(), 'Starter');
    assert.match(await page.locator('#meter-links').innerText(), /Links\s+7 \/ 10/);
    assert.match(await page.locator('#meter-members').innerText(), /Members\s+4 \/ 5/);
    assert.match(await page.locator('#meter-qrCodes').innerText(), /unlimited/);
    assert.match(await page.locator('#meter-clicksPerMonth').innerText(), /5 \/ 3[\s\S]*2 clicks over the plan this month/);
    assert.equal(await page.locator('#usage progress').count(), 4, 'a bar for every limited resource');
    await screenshot('settings-01-usage');

    await page.click('#caches button');
    await page.locator('.flash').waitFor();
    assert.match(await page.locator('.flash p').innerText(), /Caches cleared/);

    await page.fill('#name', '');
    await page.click('#workspace-name button[type=submit]');
    await page.locator('#name-error').waitFor();
    assert.equal(await page.locator('#name-error').innerText(), 'Must not be empty.');
    await screenshot('settings-02-name-error');

    await page.click('.nav-link:has-text("Instance")');
    await page.waitForURL('**/admin/instance');
    assert.equal(await page.locator('#users-table tbody tr').count(), 4);
    await page.locator('#workspaces-table tr:has-text("Globex") select').selectOption('Starter');
    await page.locator('.flash').waitFor();
    assert.equal(await page.locator('.flash p').innerText(), 'Globex is on the Starter plan.');
    await screenshot('instance-01');

    // The two refusals of the last owner came back as 422 fragments, on purpose.
    assert.deepEqual(problems.filter((p) => !/^422 for xhr .*\/admin\/team\/usr_\w+\/(remove|role)$/.test(p) && !/^422 for xhr .*\/admin\/(team|settings\/name)$/.test(p)), []);
    await context.close();
  });

  test('a viewer sees the team but no add, role or remove controls', async () => {
    const { page, problems, screenshot, context } = await openPage(browser, t.url);
    await signIn(page, VIEWER, '/admin/team');
    assert.ok((await page.locator('#members-table tbody tr').count()) >= 2);
    assert.equal(await page.locator('#member-add').count(), 0);
    assert.equal(await page.locator('#members-table select, #members-table button').count(), 0);
    assert.match(await page.locator('#members').innerText(), /Only admins and owners can add, change or remove members\./);
    await screenshot('team-05-viewer');
    await page.click('.nav-link:has-text("Settings")');
    await page.waitForURL('**/admin/settings');
    assert.equal(await page.locator('#caches').count(), 0);
    assert.equal(await page.locator('#name').count(), 0);
    await screenshot('settings-03-viewer');
    assert.deepEqual(problems, []);
    await context.close();
  });
});
