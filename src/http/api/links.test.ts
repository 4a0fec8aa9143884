import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../testing/harness.js';

describe('links API', () => {
  let t: TestServer;
  let key: string;
  before(async () => {
    t = await startTestServer();
    key = await t.key();
  });
  after(() => t.close());

  test('creates a link with an auto slug and returns the Link JSON', async () => {
    const res = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/a', title: 'A', tags: ['x'] } });
    assert.equal(res.status, 201);
    assert.match(res.json.id, /^lnk_/);
    assert.match(res.json.slug, /^[0-9A-Za-z]{7}$/);
    assert.equal(res.json.shortUrl, `${t.url}/${res.json.slug}`);
    assert.equal(res.json.qrUrl, `${t.url}/${res.json.slug}?qr=1`);
    assert.equal(res.headers.get('location'), `/api/v1/links/${res.json.id}`);
    assert.deepEqual(
      Object.keys(res.json).sort(),
      ['clicks', 'createdAt', 'createdBy', 'expiredUrl', 'expiresAt', 'id', 'lastClickedAt', 'maxClicks', 'qrUrl', 'redirectCode', 'shortUrl', 'slug', 'status', 'tags', 'title', 'updatedAt', 'url'],
    );
    assert.equal(res.json.redirectCode, 302);
    assert.equal(res.json.status, 'active');
  });
});
