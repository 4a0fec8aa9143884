import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { listAudit } from '../../audit/audit.js';
import { AdminClient, fieldError, textOf } from '../../testing/admin-client.js';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';
import { createUser } from '../../users/users.service.js';
import { setWorkspacePlan, upsertPlan } from '../../workspaces/plans.js';
import { findWorkspaceByName } from '../../workspaces/workspaces.repo.js';

const PASSWORD = 'correct horse battery';

function discPng(side: number): Buffer {
  const png = new PNG({ width: side, height: side });
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) png.data.set(Math.hypot(x + 0.5 - side / 2, y + 0.5 - side / 2) <= side / 2 ? [220, 30, 40, 255] : [0, 0, 0, 0], (y * side + x) * 4);
  }
  return PNG.sync.write(png);
}

const flash = (html: string) => /<div class="flash[^"]*"[^>]*>[\s\S]*?<p>([^<]*)<\/p>/.exec(html)?.[1];

describe('admin: QR logos on a link’s QR card and in Settings', () => {
  let t: TestServer;
  let owner: AdminClient;
  let member: AdminClient;
  let viewer: AdminClient;
  let link: { id: string; qrUrl: string };
  let workspaceId: string;

  before(async () => {
    t = await startTestServer();
    for (const [email, role] of [['owner@example.com', 'owner'], ['member@example.com', 'member'], ['viewer@example.com', 'viewer']] as const) {
      await createUser(t.store, TEST_OPERATOR, { email, password: PASSWORD, workspace: 'Acme', role });
    }
    owner = await new AdminClient(t.url).signIn('owner@example.com', PASSWORD);
    member = await new AdminClient(t.url).signIn('member@example.com', PASSWORD);
    viewer = await new AdminClient(t.url).signIn('viewer@example.com', PASSWORD);
    workspaceId = (await findWorkspaceByName(t.store.db, 'Acme'))!.id;
    const key = await t.key({ workspace: 'Acme' });
    link = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/menu' } })).json;
    assert.equal((await owner.post(`/admin/links/${link.id}/qr`, {})).status, 303, 'Create QR code');
  });
  after(() => t.close());

  /** What public/admin.js sends: the file itself as the body, the page's token in X-CSRF-Token. */
  async function upload(client: AdminClient, path: string, body: Buffer | string, type: string, csrf = client.csrf ?? '') {
    const res = await fetch(`${t.url}${path}`, {
      method: 'POST',
      headers: { cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'content-type': type, 'x-csrf-token': csrf },
      body: typeof body === 'string' ? body : new Uint8Array(body),
      redirect: 'manual',
    });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  }
  const card = async (client: AdminClient, query = '') => {
    const page = await client.get(`/admin/links/${link.id}${query}`);
    assert.equal(page.status, 200);
    return page.text;
  };

  test('a member uploads a link’s logo: the card shows it, its image and the preview with it; removing it goes back', async () => {
    const before = await card(member);
    assert.match(textOf(before, 'qr-logo-section')!, /No logo\. One added here is drawn in the middle of this link's codes/);
    assert.match(before, /<form class="qr-logo-upload" method="post" action="\/admin\/links\/lnk_\w+\/qr-logo" data-logo-upload hidden>/, 'hidden until admin.js shows it');
    assert.match(before, /<noscript>.*PUT \/api\/v1\/links\/lnk_\w+\/qr-logo/);
    assert.doesNotMatch(before, /qr-logo-remove/);

    const saved = await upload(member, `/admin/links/${link.id}/qr-logo`, discPng(64), 'image/png');
    assert.equal(saved.status, 204, saved.text);
    const after = await card(member);
    assert.equal(flash(after), 'Logo saved: this link’s QR codes show it.');
    assert.match(textOf(after, 'qr-logo-section')!, /This link's own logo is in the middle of its codes .* PNG · \d\.\d KB · added \d{4}-\d\d-\d\d Replace the logo/);
    const src = /<img class="qr-logo-thumb" src="([^"]+)"/.exec(after)![1]!;
    assert.match(src, new RegExp(`^/admin/links/${link.id}/qr-logo\\?v=[\\w-]{43}$`));
    const image = await member.get(src);
    assert.equal(image.status, 200);
    assert.equal(image.headers.get('content-type'), 'image/png');
    assert.match(image.headers.get('content-security-policy') ?? '', /^default-src 'none'/);
    const preview = /<img class="qr-preview" src="([^"]+)"/.exec(after)![1]!.replace(/&amp;/g, '&');
    assert.match((await member.get(preview)).text, /<image [^>]*xlink:href="data:image\/png;base64,/);
    assert.match(after, /Error correction <span class="optional">H with the logo<\/span>/);

    // Without the logo, on request: the preview and downloads say so.
    const without = await card(member, '?logo=none');
    assert.match(without, /<input type="checkbox" name="logo" value="none" checked>/);
    const plain = /<img class="qr-preview" src="([^"]+)"/.exec(without)![1]!.replace(/&amp;/g, '&');
    assert.match(plain, /logo=none/);
    assert.doesNotMatch((await member.get(plain)).text, /<image/);

    const removed = await member.post(`/admin/links/${link.id}/qr-logo/delete`, {});
    assert.equal(removed.status, 303);
    assert.equal(removed.headers.get('location'), `/admin/links/${link.id}#qr`);
    const gone = await card(member);
    assert.match(flash(gone) ?? '', /^Logo removed\./);
    assert.doesNotMatch(gone, /qr-logo-thumb/);
    await member.post(`/admin/links/${link.id}/qr-logo/delete`, {});
    assert.equal(flash(await card(member)), 'The logo was removed already.');
    assert.equal((await member.get(`/admin/links/${link.id}/qr-logo`)).status, 404);
  });

  test('a refused upload comes back as the block, the error beside the field, the stored logo untouched', async () => {
    const cases: [string, Buffer | string, string, string][] = [
      ['a JPEG', Buffer.from('ffd8ffe000104a464946', 'hex'), 'image/jpeg', 'The file must be a PNG or an SVG image (it is image/jpeg).'],
      ['an SVG with a script', '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><script>alert(1)</script></svg>', 'image/svg+xml', 'The file must not contain <script>: logos cannot run scripts.'],
      ['over 64 KB', Buffer.alloc(70 * 1024, 1), 'image/png', 'The file must be at most 64 KB.'],
    ];
    for (const [name, body, type, message] of cases) {
      const res = await upload(member, `/admin/links/${link.id}/qr-logo`, body, type);
      assert.equal(res.status, 422, name);
      assert.match(res.type ?? '', /^text\/html/);
      assert.match(res.text, /^<div class="qr-logo" id="link-logo">/, `${name}: the block alone, to swap in`);
      assert.equal(fieldError(res.text, 'link-logo-file')?.replace(/&lt;/g, '<').replace(/&gt;/g, '>'), message, name);
      assert.match(res.text, /aria-invalid="true"/);
    }
    assert.equal((await member.get(`/admin/links/${link.id}/qr-logo`)).status, 404, 'nothing stored');
    const noToken = await upload(member, `/admin/links/${link.id}/qr-logo`, discPng(16), 'image/png', '');
    assert.equal(noToken.status, 403, 'the session’s CSRF token is required');
  });

  test('a size too small for the code with its logo (level H) is said beside Size, with the logo’s words', async () => {
    assert.equal((await upload(owner, `/admin/links/${link.id}/qr-logo`, discPng(32), 'image/png')).status, 204);
    const atM = 2 * (QRCode.create(link.qrUrl, { errorCorrectionLevel: 'M' }).modules.size + 8);
    const atH = 2 * (QRCode.create(link.qrUrl, { errorCorrectionLevel: 'H' }).modules.size + 8);
    assert.ok(atM < atH, 'this link’s code grows at H');
    const page = await card(owner, `?size=${atM}`);
    assert.match(page, new RegExp(`Must be at least ${atH} for this link with margin 4 and error correction H \\(a logo needs H\\)`));
    assert.doesNotMatch(await card(owner, `?size=${atM}&logo=none`), /[Mm]ust be at least/, 'without the logo, M fits');
    await owner.post(`/admin/links/${link.id}/qr-logo/delete`, {});
  });

  test('a viewer sees the logo but changes nothing', async () => {
    assert.equal((await upload(owner, `/admin/links/${link.id}/qr-logo`, discPng(32), 'image/png')).status, 204);
    const page = await card(viewer);
    assert.match(page, /qr-logo-thumb/);
    assert.doesNotMatch(page, /qr-logo-upload|qr-logo-remove/);
    assert.equal((await viewer.get(`/admin/links/${link.id}/qr-logo`)).status, 200);
    assert.equal((await upload(viewer, `/admin/links/${link.id}/qr-logo`, discPng(16), 'image/png')).status, 403);
    assert.equal((await viewer.post(`/admin/links/${link.id}/qr-logo/delete`, {})).status, 403);
    await owner.post(`/admin/links/${link.id}/qr-logo/delete`, {});
  });

  test('the workspace’s logo in Settings: loaded by htmx, set and removed by admins, shown to members; on links without their own', async () => {
    const settings = await owner.get('/admin/settings');
    assert.match(settings.text, /<section class="panel panel-wide" id="qr-logo" aria-labelledby="qr-logo-title" hx-get="\/admin\/settings\/qr-logo" hx-trigger="load" hx-swap="outerHTML">/);
    const plainVisit = await owner.get('/admin/settings/qr-logo');
    assert.equal(plainVisit.status, 303);
    assert.equal(plainVisit.headers.get('location'), '/admin/settings#qr-logo');
    const panel = (client: AdminClient) => client.get('/admin/settings/qr-logo', { 'hx-request': 'true' });
    assert.match((await panel(owner)).text, /Add a logo/);

    assert.equal((await upload(member, '/admin/settings/qr-logo', discPng(32), 'image/png')).status, 403, 'members do not set it');
    assert.equal((await upload(owner, '/admin/settings/qr-logo', discPng(32), 'image/png')).status, 204);
    const shown = (await panel(owner)).text;
    assert.match(shown, /<img class="qr-logo-thumb" src="\/admin\/settings\/qr-logo\/image\?v=[\w-]{43}"/);
    assert.match(shown, /Remove logo/);
    const toMember = (await panel(member)).text;
    assert.match(toMember, /qr-logo-thumb/);
    assert.doesNotMatch(toMember, /qr-logo-upload|qr-logo-remove/);
    assert.equal((await member.get('/admin/settings/qr-logo/image')).headers.get('content-type'), 'image/png');

    assert.match(textOf(await card(member), 'qr-logo-section')!, /The codes show the workspace's logo \( Settings \)\. A logo added here is this link's own\./);

    assert.equal((await member.post('/admin/settings/qr-logo/delete', {})).status, 403);
    const removed = await owner.post('/admin/settings/qr-logo/delete', {});
    assert.equal(removed.headers.get('location'), '/admin/settings#qr-logo');
    assert.match((await panel(owner)).text, /Add a logo/);
  });

  test('every change is audited with the user as actor', async () => {
    const entries = await listAudit(t.store.db, workspaceId, 50);
    const logoEntries = entries.filter((e) => e.action.startsWith('qr_logo.')).reverse();
    const ownerId = (await t.store.db.row<{ id: string }>("select id from users where email = 'owner@example.com'"))!.id;
    const memberId = (await t.store.db.row<{ id: string }>("select id from users where email = 'member@example.com'"))!.id;
    assert.deepEqual(
      logoEntries.map((e) => [e.action, e.target, e.actor]),
      [
        ['qr_logo.set', `link:${link.id}`, `user:${memberId}`],
        ['qr_logo.remove', `link:${link.id}`, `user:${memberId}`],
        ['qr_logo.set', `link:${link.id}`, `user:${ownerId}`],
        ['qr_logo.remove', `link:${link.id}`, `user:${ownerId}`],
        ['qr_logo.set', `link:${link.id}`, `user:${ownerId}`],
        ['qr_logo.remove', `link:${link.id}`, `user:${ownerId}`],
        ['qr_logo.set', `workspace:${workspaceId}`, `user:${ownerId}`],
        ['qr_logo.remove', `workspace:${workspaceId}`, `user:${ownerId}`],
      ],
    );
  });

  test('a plan without QR codes: the card and the Settings panel say so', async () => {
    await upsertPlan(t.store.db, TEST_OPERATOR, 'no-qr-admin', { features: { qr: false }, limits: {} }, t.store.clock.now());
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, workspaceId, 'no-qr-admin', t.store.clock.now());
    assert.match((await owner.get('/admin/settings/qr-logo', { 'hx-request': 'true' })).text, /The &quot;no-qr-admin&quot; plan of this workspace does not include QR codes\./);
    assert.doesNotMatch(await card(owner), /qr-logo-upload/);
    const refused = await upload(owner, `/admin/links/${link.id}/qr-logo`, discPng(16), 'image/png');
    assert.equal(refused.status, 403);
  });
});
