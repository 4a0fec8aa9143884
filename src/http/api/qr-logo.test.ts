import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crc32 } from 'node:zlib';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { listAudit } from '../../audit/audit.js';
import { apiContract } from '../../testing/contract.js';
import { startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';
import { setWorkspacePlan, upsertPlan } from '../../workspaces/plans.js';
import { findWorkspaceByName } from '../../workspaces/workspaces.repo.js';

type Rgba = [number, number, number, number];

/** A logo people upload: a disc of one colour on transparency, with a text chunk an editor wrote. */
function discPng(side: number, colour: Rgba): Buffer {
  const png = new PNG({ width: side, height: side });
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const inside = Math.hypot(x + 0.5 - side / 2, y + 0.5 - side / 2) <= side / 2;
      png.data.set(inside ? colour : [0, 0, 0, 0], (y * side + x) * 4);
    }
  }
  const bytes = PNG.sync.write(png);
  // A tEXt chunk before IEND: metadata parseLogo drops from what it keeps.
  const text = Buffer.from('tEXtSoftware\0LogoEditor 9', 'latin1');
  const chunk = Buffer.alloc(12 + text.length - 4);
  chunk.writeUInt32BE(text.length - 4, 0);
  text.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(text), 8 + text.length - 4);
  return Buffer.concat([bytes.subarray(0, bytes.length - 12), chunk, bytes.subarray(bytes.length - 12)]);
}

const LOGO_SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 20"><rect width="40" height="20" rx="6" fill="#1d4ed8"/><circle cx="20" cy="10" r="6" fill="#fff"/></svg>';

interface Sent {
  status: number;
  headers: Headers;
  body: Buffer;
  // biome-ignore lint: tests read arbitrary JSON
  json: any;
}

describe('QR logos: /api/v1/links/:id/qr-logo and /api/v1/qr-logo', () => {
  let t: TestServer;
  let key: string;
  let link: { id: string; qrUrl: string };
  let other: { id: string; qrUrl: string };
  const red = discPng(48, [220, 30, 40, 255]);
  const blue = discPng(40, [30, 60, 200, 255]);

  before(async () => {
    t = await startTestServer();
    key = await t.key({ workspace: 'Print' });
    link = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/menu' } })).json;
    other = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/card' } })).json;
  });
  after(() => t.close());

  /** A request whose body is bytes (the harness sends text), its answer checked against the contract like every other. */
  async function send(method: string, path: string, opts: { key?: string; body?: Buffer | string; type?: string; headers?: Record<string, string> } = {}): Promise<Sent> {
    const headers: Record<string, string> = { authorization: `Bearer ${opts.key ?? key}`, ...opts.headers };
    if (opts.type) headers['content-type'] = opts.type;
    const res = await fetch(`${t.url}${path}`, { method, headers, body: typeof opts.body === 'string' || opts.body === undefined ? opts.body : new Uint8Array(opts.body) });
    const body = Buffer.from(await res.arrayBuffer());
    const contentType = res.headers.get('content-type');
    const json = contentType?.includes('json') ? JSON.parse(body.toString('utf8')) : undefined;
    const problems = apiContract().check(method, path, res.status, contentType, json ?? body.toString('latin1'));
    assert.deepEqual(problems, [], `${method} ${path}: the answer breaks the contract`);
    return { status: res.status, headers: res.headers, body, json };
  }
  const qrPng = async (id: string, query = '') => {
    const res = await send('GET', `/api/v1/links/${id}/qr?format=png&size=400${query}`);
    assert.equal(res.status, 200);
    const png = PNG.sync.read(res.body);
    return { etag: res.headers.get('etag')!, png, text: jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data };
  };
  const qrSvg = async (id: string, query = '') => (await send('GET', `/api/v1/links/${id}/qr${query}`)).body.toString('utf8');
  const pixel = (png: PNG, x: number, y: number) => [...png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3)];

  test('a link’s logo: set (PNG), read back without its metadata, revalidated by its hash, removed', async () => {
    const set = await send('PUT', `/api/v1/links/${link.id}/qr-logo`, { body: red, type: 'image/png' });
    assert.equal(set.status, 200, set.body.toString());
    assert.deepEqual(Object.keys(set.json), ['linkId', 'contentType', 'sizeBytes', 'sha256', 'createdAt']);
    assert.equal(set.json.linkId, link.id);
    assert.equal(set.json.contentType, 'image/png');
    assert.ok(set.json.sizeBytes < red.length, 'the tEXt chunk is not kept');

    const got = await send('GET', `/api/v1/links/${link.id}/qr-logo`);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'image/png');
    assert.equal(got.headers.get('etag'), `"${set.json.sha256}"`);
    assert.equal(got.headers.get('x-content-type-options'), 'nosniff');
    assert.match(got.headers.get('content-security-policy') ?? '', /default-src 'none'.*sandbox/);
    assert.equal(got.body.length, set.json.sizeBytes);
    assert.ok(!got.body.includes('LogoEditor'), 'metadata dropped');
    assert.deepEqual(PNG.sync.read(got.body).data, PNG.sync.read(red).data, 'the same pixels');
    assert.equal((await send('GET', `/api/v1/links/${link.id}/qr-logo`, { headers: { 'if-none-match': `"${set.json.sha256}"` } })).status, 304);

    assert.equal((await send('DELETE', `/api/v1/links/${link.id}/qr-logo`)).status, 204);
    const gone = await send('GET', `/api/v1/links/${link.id}/qr-logo`);
    assert.equal(gone.status, 404);
    assert.equal(gone.json.code, 'not_found');
    assert.equal(gone.json.detail, `The QR logo of link ${link.id} was not found.`);
    assert.equal((await send('DELETE', `/api/v1/links/${link.id}/qr-logo`)).status, 404);
  });

  test('the code with a logo is drawn at level H, the logo in its middle, and decodes to the link’s qrUrl', async () => {
    assert.equal((await send('PUT', `/api/v1/links/${link.id}/qr-logo`, { body: red, type: 'image/png' })).status, 200);
    for (const ecc of ['', '&ecc=L', '&ecc=M']) {
      const { png, text } = await qrPng(link.id, ecc);
      assert.equal(text, link.qrUrl, `decodes${ecc}`);
      assert.deepEqual([png.width, png.height], [400, 400]);
      assert.deepEqual(pixel(png, 200, 200), [220, 30, 40], `the logo's colour in the middle${ecc}`);
    }
    const h = QRCode.create(link.qrUrl, { errorCorrectionLevel: 'H' }).modules.size;
    const decoded = jsQR(new Uint8ClampedArray((await qrPng(link.id, '&ecc=L')).png.data), 400, 400)!;
    assert.equal(17 + 4 * decoded.version, h, 'level H’s version, not L’s');
    assert.match(await qrSvg(link.id), /<image [^>]*xlink:href="data:image\/png;base64,/);
    assert.doesNotMatch(await qrSvg(link.id, '?logo=none'), /<image/, 'logo=none: a plain code');
    const plain = await qrPng(link.id, '&logo=none');
    assert.deepEqual(pixel(plain.png, 200, 200).length, 3);
    assert.notDeepEqual(pixel(plain.png, 200, 200), [220, 30, 40]);
    assert.equal(plain.text, link.qrUrl);
  });

  test('an SVG logo: drawn into PNG codes (resvg) and embedded in SVG codes, as stored', async () => {
    const set = await send('PUT', `/api/v1/links/${other.id}/qr-logo`, { body: LOGO_SVG, type: 'image/svg+xml; charset=utf-8' });
    assert.equal(set.status, 200, set.body.toString());
    assert.equal(set.json.contentType, 'image/svg+xml');
    const stored = await send('GET', `/api/v1/links/${other.id}/qr-logo`);
    assert.equal(stored.headers.get('content-type'), 'image/svg+xml');
    assert.ok((await qrSvg(other.id)).includes(`data:image/svg+xml;base64,${stored.body.toString('base64')}`));
    const { png, text } = await qrPng(other.id);
    assert.equal(text, other.qrUrl);
    assert.deepEqual(pixel(png, 200, 200), [255, 255, 255], 'the white dot in the middle of the logo');
    const middleRow = Array.from({ length: 60 }, (_, i) => pixel(png, 170 + i, 200).join());
    assert.ok(middleRow.includes('29,78,216'), 'the blue around it');
    assert.equal((await send('DELETE', `/api/v1/links/${other.id}/qr-logo`)).status, 204);
  });

  test('the workspace’s logo is on every code without one of its own; a link’s own wins; the ETag follows', async () => {
    await send('DELETE', `/api/v1/links/${link.id}/qr-logo`);
    const plain = (await qrPng(link.id)).etag;
    assert.equal((await send('GET', '/api/v1/qr-logo')).status, 404);

    const workspaceLogo = await send('PUT', '/api/v1/qr-logo', { body: blue, type: 'image/png' });
    assert.equal(workspaceLogo.status, 200);
    assert.equal(workspaceLogo.json.linkId, null);
    for (const l of [link, other]) {
      const { png, text } = await qrPng(l.id);
      assert.equal(text, l.qrUrl);
      assert.deepEqual(pixel(png, 200, 200), [30, 60, 200], 'the workspace’s blue');
    }
    const withWorkspace = (await qrPng(link.id)).etag;
    assert.notEqual(withWorkspace, plain);

    assert.equal((await send('PUT', `/api/v1/links/${link.id}/qr-logo`, { body: red, type: 'image/png' })).status, 200);
    const own = await qrPng(link.id);
    assert.deepEqual(pixel(own.png, 200, 200), [220, 30, 40], 'the link’s red wins');
    assert.equal(own.text, link.qrUrl);
    assert.notEqual(own.etag, withWorkspace);
    assert.deepEqual(pixel((await qrPng(other.id)).png, 200, 200), [30, 60, 200], 'the other link keeps the workspace’s');
    assert.equal((await send('GET', `/api/v1/links/${link.id}/qr`, { headers: { 'if-none-match': withWorkspace } })).status, 200, 'the old tag is stale');
    assert.equal((await send('GET', `/api/v1/links/${link.id}/qr?format=png&size=400`, { headers: { 'if-none-match': own.etag } })).status, 304);

    // Replacing a logo is a new tag; removing them leads back to the tags before.
    assert.equal((await send('PUT', `/api/v1/links/${link.id}/qr-logo`, { body: discPng(48, [0, 120, 60, 255]), type: 'image/png' })).status, 200);
    assert.notEqual((await qrPng(link.id)).etag, own.etag);
    assert.equal((await send('DELETE', `/api/v1/links/${link.id}/qr-logo`)).status, 204);
    assert.equal((await qrPng(link.id)).etag, withWorkspace);
    assert.equal((await send('DELETE', '/api/v1/qr-logo')).status, 204);
    assert.equal((await qrPng(link.id)).etag, plain);
    assert.equal((await send('DELETE', '/api/v1/qr-logo')).status, 404);
  });

  test('images that are not logos are refused with 400 on the field logo, and nothing is stored', async () => {
    const jpeg = Buffer.from('ffd8ffe000104a46494600010100000100010000ffdb', 'hex');
    const cases: [string, Buffer | string, string | undefined, RegExp][] = [
      ['a JPEG', jpeg, 'image/jpeg', /^must be a PNG or an SVG image \(it is image\/jpeg\)$/],
      ['nothing', '', 'image/png', /^must not be empty$/],
      ['a truncated PNG', red.subarray(0, 60), 'image/png', /^is not a complete PNG/],
      ['an SVG labelled PNG', LOGO_SVG, 'image/png', /^is labelled image\/png but is not a PNG file$/],
      ['an SVG with a script', LOGO_SVG.replace('</svg>', '<script>alert(1)</script></svg>'), 'image/svg+xml', /^must not contain <script>/],
      ['an SVG with text', LOGO_SVG.replace('</svg>', '<text>ACME</text></svg>'), 'image/svg+xml', /^must not contain text/],
      ['JSON', '{"url":"https://example.com/logo.png"}', 'application/json', /^must be a PNG or an SVG image \(it is application\/json\)$/],
      // Accepted by parseLogo (a viewBox of 1e-39 is positive) but not by resvg (zero as a float): tried at upload, not at every PNG.
      ['an SVG the PNG renderer cannot draw', LOGO_SVG.replace('viewBox="0 0 40 20"', 'viewBox="0 0 1e-39 1e-39"'), 'image/svg+xml', /^could not be drawn into PNG codes/],
      ['a PNG over 1024 px', Buffer.from(PNG.sync.write(new PNG({ width: 1100, height: 4 }))), 'image/png', /^must be at most 1024×1024 pixels/],
    ];
    for (const [name, body, type, message] of cases) {
      for (const path of [`/api/v1/links/${link.id}/qr-logo`, '/api/v1/qr-logo']) {
        const res = await send('PUT', path, { body, type });
        assert.equal(res.status, 400, `${name} ${path}`);
        assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
        assert.equal(res.json.code, 'validation_failed', name);
        assert.equal(res.json.errors.length, 1, name);
        assert.equal(res.json.errors[0].field, 'logo', name);
        assert.match(res.json.errors[0].message, message, name);
        assert.match(res.json.detail, /^The logo was refused: it /, name);
      }
    }
    const tooLarge = await send('PUT', `/api/v1/links/${link.id}/qr-logo`, { body: Buffer.alloc(64 * 1024 + 1, 1), type: 'image/png' });
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.json.code, 'payload_too_large');
    const compressed = await send('PUT', `/api/v1/links/${link.id}/qr-logo`, { body: red, type: 'image/png', headers: { 'content-encoding': 'gzip' } });
    assert.equal(compressed.status, 415);
    assert.equal((await send('GET', `/api/v1/links/${link.id}/qr-logo`)).status, 404, 'no logo was stored');
    assert.equal((await send('GET', '/api/v1/qr-logo')).status, 404);
  });

  test('scopes: links:write sets and removes either logo, links:read only reads them', async () => {
    const reader = await t.key({ workspace: 'Print', scopes: ['links:read'], name: 'reader' });
    assert.equal((await send('PUT', `/api/v1/links/${link.id}/qr-logo`, { body: red, type: 'image/png' })).status, 200);
    for (const path of [`/api/v1/links/${link.id}/qr-logo`, '/api/v1/qr-logo']) {
      for (const method of ['PUT', 'DELETE']) {
        const res = await send(method, path, { key: reader, body: method === 'PUT' ? red : undefined, type: method === 'PUT' ? 'image/png' : undefined });
        assert.equal(res.status, 403, `${method} ${path}`);
        assert.equal(res.json.code, 'insufficient_scope');
        assert.match(res.json.detail, /"links:write"/);
      }
    }
    const read = await send('GET', `/api/v1/links/${link.id}/qr-logo`, { key: reader });
    assert.equal(read.status, 200);
    assert.equal(read.headers.get('content-type'), 'image/png');
    assert.equal((await send('DELETE', `/api/v1/links/${link.id}/qr-logo`)).status, 204);
  });

  test('another workspace’s link is 404; a plan without QR codes is 403 naming the plan', async () => {
    const outsider = await t.key({ workspace: 'Elsewhere' });
    for (const method of ['PUT', 'GET', 'DELETE']) {
      const res = await send(method, `/api/v1/links/${link.id}/qr-logo`, { key: outsider, body: method === 'PUT' ? red : undefined, type: method === 'PUT' ? 'image/png' : undefined });
      assert.equal(res.status, 404, method);
      assert.equal(res.json.detail, `Link ${link.id} was not found.`);
    }
    const noQr = await t.key({ workspace: 'No QR' });
    const { db, clock } = t.store;
    await upsertPlan(db, TEST_OPERATOR, 'no-qr-logos', { features: { qr: false }, limits: {} }, clock.now());
    await setWorkspacePlan(db, TEST_OPERATOR, (await findWorkspaceByName(db, 'No QR'))!.id, 'no-qr-logos', clock.now());
    const theirs = (await t.request('POST', '/api/v1/links', { key: noQr, body: { url: 'https://example.com/no-qr' } })).json;
    for (const [method, path] of [['PUT', `/api/v1/links/${theirs.id}/qr-logo`], ['GET', `/api/v1/links/${theirs.id}/qr-logo`], ['DELETE', '/api/v1/qr-logo'], ['PUT', '/api/v1/qr-logo']] as const) {
      const res = await send(method, path, { key: noQr, body: method === 'PUT' ? red : undefined, type: method === 'PUT' ? 'image/png' : undefined });
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.json.code, 'plan_feature_disabled');
      assert.match(res.json.detail, /"no-qr-logos" plan .* does not include qr/);
    }
  });

  test(
    'deleting a link deletes its logo in the same transaction (no foreign key: migrations 0014)',
    async () => {
      const doomed = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/doomed' } })).json;
      assert.equal((await send('PUT', `/api/v1/links/${doomed.id}/qr-logo`, { body: red, type: 'image/png' })).status, 200);
      assert.equal((await t.request('DELETE', `/api/v1/links/${doomed.id}`, { key })).status, 204);
      assert.deepEqual(await t.store.db.rows('select id from qr_logos where link_id = ?', doomed.id), []);
    },
  );

  test('every change is in the audit log: who, which logo, its type, size and hash', async () => {
    const workspace = (await findWorkspaceByName(t.store.db, 'Print'))!;
    const set = (await send('PUT', `/api/v1/links/${link.id}/qr-logo`, { body: red, type: 'image/png' })).json;
    assert.equal((await send('DELETE', `/api/v1/links/${link.id}/qr-logo`)).status, 204);
    const ws = (await send('PUT', '/api/v1/qr-logo', { body: LOGO_SVG, type: 'image/svg+xml' })).json;
    assert.equal((await send('DELETE', '/api/v1/qr-logo')).status, 204);
    const entries = (await listAudit(t.store.db, workspace.id, 4)).reverse();
    const keyId = key.split('_')[1];
    assert.deepEqual(
      entries.map((e) => [e.action, e.target, e.actor, e.summary]),
      [
        ['qr_logo.set', `link:${link.id}`, `key:${keyId}`, { contentType: 'image/png', sizeBytes: set.sizeBytes, sha256: set.sha256 }],
        ['qr_logo.remove', `link:${link.id}`, `key:${keyId}`, { contentType: 'image/png', sizeBytes: set.sizeBytes, sha256: set.sha256 }],
        ['qr_logo.set', `workspace:${workspace.id}`, `key:${keyId}`, { contentType: 'image/svg+xml', sizeBytes: ws.sizeBytes, sha256: ws.sha256 }],
        ['qr_logo.remove', `workspace:${workspace.id}`, `key:${keyId}`, { contentType: 'image/svg+xml', sizeBytes: ws.sizeBytes, sha256: ws.sha256 }],
      ],
    );
  });
});
