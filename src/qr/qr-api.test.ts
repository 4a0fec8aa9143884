import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { XMLValidator } from 'fast-xml-parser';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { setWorkspacePlan, upsertPlan } from '../workspaces/plans.js';
import { findWorkspaceByName } from '../workspaces/workspaces.repo.js';

const decode = (bytes: Buffer) => {
  const png = PNG.sync.read(bytes);
  return { width: png.width, height: png.height, text: jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data };
};

describe('GET /api/v1/links/:id/qr', () => {
  let t: TestServer;
  let key: string;
  let link: { id: string; slug: string; qrUrl: string; shortUrl: string };
  before(async () => {
    t = await startTestServer();
    key = await t.key({ workspace: 'Print' });
    link = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/menu' } })).json;
  });
  after(() => t.close());

  const qr = (query: string, headers?: Record<string, string>) =>
    fetch(`${t.url}/api/v1/links/${link.id}/qr${query}`, { headers: { authorization: `Bearer ${key}`, ...headers } });

  test('PNG decodes to exactly the tracked URL, at the asked size', async () => {
    const res = await qr('?format=png&size=300&ecc=H');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    const image = decode(Buffer.from(await res.arrayBuffer()));
    assert.equal(image.text, `${link.shortUrl}?qr=1`);
    assert.equal(image.text, link.qrUrl);
    assert.deepEqual([image.width, image.height], [300, 300]);
  });

  test('SVG by default: valid XML of the default size, titled with the URL', async () => {
    const res = await qr('');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/svg+xml');
    assert.equal(res.headers.get('content-disposition'), `inline; filename="${link.slug}-qr.svg"`);
    const svg = await res.text();
    assert.equal(XMLValidator.validate(svg), true);
    assert.match(svg, /width="512" height="512"/);
    assert.ok(svg.includes(`<title>${link.qrUrl}</title>`));
  });

  test('ETag and 304: strong, weak and listed tags all revalidate; another option is another tag', async () => {
    const first = await qr('?format=png&size=256');
    const etag = first.headers.get('etag')!;
    assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
    assert.equal(first.headers.get('cache-control'), 'private, no-cache');
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`]) {
      const again = await qr('?format=png&size=256', { 'if-none-match': header });
      assert.equal(again.status, 304, header);
    }
    assert.equal((await qr('?format=png&size=256', { 'if-none-match': '"other"' })).status, 200);
    assert.notEqual((await qr('?format=png&size=257')).headers.get('etag'), etag);
  });

  test('a new slug is a new code (and a new tag)', async () => {
    const before = (await qr('?format=png')).headers.get('etag');
    const renamed = (await t.request('PATCH', `/api/v1/links/${link.id}`, { key, body: { slug: 'menu-2030' } })).json;
    const res = await qr('?format=png');
    assert.notEqual(res.headers.get('etag'), before);
    assert.equal(decode(Buffer.from(await res.arrayBuffer())).text, `${renamed.shortUrl}?qr=1`);
    link = renamed;
  });

  test('nonsense options are 400 problem+json naming the field', async () => {
    for (const [query, field] of [
      ['?size=10', 'size'],
      ['?size=5000', 'size'],
      ['?size=abc', 'size'],
      ['?format=gif', 'format'],
      ['?ecc=Z', 'ecc'],
      ['?fg=red', 'fg'],
      ['?fg=ffffff&bg=ffffff', 'fg'],
      ['?fg=ffffff&bg=000000', 'fg'],
      ['?colour=blue', 'colour'],
    ] as const) {
      const res = await t.request('GET', `/api/v1/links/${link.id}/qr${query}`, { key });
      assert.equal(res.status, 400, query);
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8', query);
      assert.equal(res.json.code, 'validation_failed', query);
      assert.deepEqual(res.json.errors.map((e: { field: string }) => e.field), [field], query);
    }
  });

  test('a size scanners cannot read is 400 on size naming the smallest that works for this link, which decodes', async () => {
    const long = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/long', slug: `menu-${'x'.repeat(59)}` } })).json;
    for (const { qrUrl, id } of [link, long]) {
      for (const margin of [undefined, 0]) {
        // 2 px per module with the (default 4-module) quiet zone, 3 without one.
        const modules = QRCode.create(qrUrl, { errorCorrectionLevel: 'M' }).modules.size;
        const smallest = margin === 0 ? 3 * modules : 2 * (modules + 8);
        const query = (size: number) => `/api/v1/links/${id}/qr?format=png&size=${size}${margin === undefined ? '' : `&margin=${margin}`}`;
        const what = `${qrUrl} margin ${margin ?? 'default'}`;

        const refused = await t.request('GET', query(smallest - 1), { key });
        assert.equal(refused.status, 400, what);
        assert.equal(refused.json.code, 'validation_failed', what);
        assert.equal(refused.json.detail, 'The request query has invalid fields: size.', what);
        assert.equal(refused.json.errors.length, 1, what);
        assert.equal(refused.json.errors[0].field, 'size', what);
        assert.match(refused.json.errors[0].message, new RegExp(`^must be at least ${smallest} for this link with margin ${margin ?? 4} and error correction M: `), what);

        const res = await fetch(`${t.url}${query(smallest)}`, { headers: { authorization: `Bearer ${key}` } });
        assert.equal(res.status, 200, what);
        const image = decode(Buffer.from(await res.arrayBuffer()));
        assert.deepEqual([image.width, image.text], [smallest, qrUrl], `${what}: the smallest size decodes`);
      }
    }
  });

  test('a link’s first image needs links:write: a links:read key gets 403 and spends no QR code, then reads the code once it exists', async () => {
    const reader = await t.key({ workspace: 'Print', scopes: ['links:read'], name: 'reader' });
    const fresh = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/fresh' } })).json;
    const qrCodes = async () => (await t.request('GET', '/api/v1/me', { key })).json.workspace.usage.limits.qrCodes;
    const { used } = await qrCodes();
    // One QR code left: had the refused request spent it, the writer's request below would be refused.
    const { db, clock } = t.store;
    await upsertPlan(db, TEST_OPERATOR, 'one-more-qr', { features: {}, limits: { qrCodes: used + 1 } }, clock.now());
    await setWorkspacePlan(db, TEST_OPERATOR, (await findWorkspaceByName(db, 'Print'))!.id, 'one-more-qr', clock.now());

    for (const query of ['?format=png', '?format=svg&size=256']) {
      const refused = await t.request('GET', `/api/v1/links/${fresh.id}/qr${query}`, { key: reader });
      assert.equal(refused.status, 403, refused.text);
      assert.equal(refused.json.code, 'insufficient_scope');
      assert.match(refused.json.detail, /lacks the "links:write" scope needed to create this link’s first QR code/);
    }
    assert.deepEqual(await qrCodes(), { used, max: used + 1 }, 'the refusals spent no QR code');

    const made = await t.request('GET', `/api/v1/links/${fresh.id}/qr?format=png`, { key });
    assert.equal(made.status, 200, made.text);
    assert.deepEqual(await qrCodes(), { used: used + 1, max: used + 1 });

    const read = await fetch(`${t.url}/api/v1/links/${fresh.id}/qr?format=png&size=300`, { headers: { authorization: `Bearer ${reader}` } });
    assert.equal(read.status, 200, 'the reader gets the code that exists, in any size');
    assert.equal(decode(Buffer.from(await read.arrayBuffer())).text, fresh.qrUrl);
    assert.deepEqual(await qrCodes(), { used: used + 1, max: used + 1 }, 'reading it is free');
  });

  test('another workspace’s link is 404; a plan without QR codes is 403 naming the plan', async () => {
    const outsider = await t.key({ workspace: 'Elsewhere' });
    assert.equal((await t.request('GET', `/api/v1/links/${link.id}/qr`, { key: outsider })).status, 404);

    const { db, clock } = t.store;
    await upsertPlan(db, TEST_OPERATOR, 'no-qr', { features: { qr: false }, limits: {} }, clock.now());
    await setWorkspacePlan(db, TEST_OPERATOR, (await findWorkspaceByName(db, 'Print'))!.id, 'no-qr', clock.now());
    const res = await t.request('GET', `/api/v1/links/${link.id}/qr`, { key });
    assert.equal(res.status, 403);
    assert.equal(res.json.code, 'plan_feature_disabled');
    assert.match(res.json.detail, /"no-qr" plan .* does not include qr/);
  });
});
