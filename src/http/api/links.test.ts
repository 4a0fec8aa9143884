import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fakeClock, type HttpResult, startTestServer, type TestServer } from '../../testing/harness.js';

const LINK_FIELDS = [
  'clicks', 'createdAt', 'createdBy', 'domain', 'expiredUrl', 'expiresAt', 'forwardQuery', 'id', 'lastClickedAt', 'maxClicks', 'passwordProtected', 'qrUrl',
  'redirectCode', 'shortUrl', 'slug', 'status', 'tags', 'targets', 'title', 'updatedAt', 'url',
];
const FUTURE = '2099-01-01T00:00:00.000Z';
const URL_PREFIX = 'https://example.com/'; // 20 characters
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Asserts an RFC 9457 problem with a stable code (and, when given, exactly these field errors). */
function assertProblem(res: HttpResult, status: number, code: string, fields?: string[]) {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json\b/);
  const p = res.json;
  for (const k of ['type', 'title', 'status', 'detail', 'code']) assert.ok(k in p, `problem has "${k}": ${res.text}`);
  assert.equal(typeof p.type, 'string');
  assert.equal(typeof p.title, 'string');
  assert.equal(typeof p.detail, 'string');
  assert.equal(p.status, status);
  assert.equal(p.code, code);
  if (fields) {
    assert.ok(Array.isArray(p.errors), `problem has errors[]: ${res.text}`);
    for (const e of p.errors) {
      assert.equal(typeof e.field, 'string');
      assert.ok(typeof e.message === 'string' && e.message.length > 0, `error of ${e.field} has a message`);
    }
    assert.deepEqual([...new Set(p.errors.map((e: { field: string }) => e.field))].sort(), [...fields].sort(), res.text);
  }
  return p;
}

interface StoredEvent {
  id: string;
  workspaceId: string;
  type: string;
  payload: { type: string; timestamp: string; data: Record<string, unknown> };
}

/** The outbox rows about one link, in insertion order (event ids sort by creation: src/lib/ids.ts). */
async function eventsAbout(t: TestServer, linkId: string): Promise<StoredEvent[]> {
  const rows = await t.store.db.rows<{ id: string; workspace_id: string; type: string; payload: string }>(
    'select id, workspace_id, type, payload from events order by id',
  );
  return rows
    .map((r) => ({ id: r.id, workspaceId: r.workspace_id, type: r.type, payload: JSON.parse(r.payload) }))
    .filter((e) => e.payload.data?.id === linkId);
}

async function rowCounts(t: TestServer): Promise<{ links: number; events: number }> {
  return (await t.store.db.row<{ links: number; events: number }>(
    'select (select count(*) from links) as links, (select count(*) from events) as events',
  ))!;
}

async function workspaceId(t: TestServer, name: string): Promise<string> {
  return (await t.store.db.row<{ id: string }>('select id from workspaces where name = ?', name))!.id;
}

/** The 12-character key id inside `lqr_<id>_<secret>_<checksum>`. */
const keyIdOf = (key: string) => key.split('_')[1]!;

const query = (params: Record<string, string>) => `/api/v1/links?${new URLSearchParams(params)}`;

describe('links API', () => {
  let t: TestServer;
  let key: string;
  let seq = 0;
  /** A slug no other test uses. */
  const freshSlug = (prefix = 's') => `${prefix}-${++seq}`;
  const create = async (body: Record<string, unknown>, k = key) => {
    const res = await t.request('POST', '/api/v1/links', { key: k, body });
    assert.equal(res.status, 201, res.text);
    return res.json;
  };
  const get = (id: string, k = key) => t.request('GET', `/api/v1/links/${id}`, { key: k });
  const patch = (id: string, body: unknown, k = key) => t.request('PATCH', `/api/v1/links/${id}`, { key: k, body });

  before(async () => {
    t = await startTestServer();
    key = await t.key();
  });
  after(() => t.close());

  describe('POST /api/v1/links', () => {
    test('creates a link with an auto slug and returns the Link JSON', async () => {
      const res = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/a' } });
      assert.equal(res.status, 201);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json\b/);
      const link = res.json;
      assert.deepEqual(Object.keys(link).sort(), LINK_FIELDS);
      assert.match(link.id, /^lnk_[0-9A-Za-z]{20}$/);
      assert.match(link.slug, /^[0-9A-Za-z]{7}$/);
      assert.equal(link.shortUrl, `${t.url}/${link.slug}`);
      assert.equal(link.qrUrl, `${t.url}/${link.slug}?qr=1`);
      assert.equal(res.headers.get('location'), `/api/v1/links/${link.id}`);
      assert.deepEqual(
        { url: link.url, title: link.title, tags: link.tags, status: link.status, expiresAt: link.expiresAt, expiredUrl: link.expiredUrl },
        { url: 'https://example.com/a', title: null, tags: [], status: 'active', expiresAt: null, expiredUrl: null },
      );
      assert.deepEqual(
        { maxClicks: link.maxClicks, redirectCode: link.redirectCode, clicks: link.clicks, lastClickedAt: link.lastClickedAt },
        { maxClicks: null, redirectCode: 302, clicks: 0, lastClickedAt: null },
      );
      assert.deepEqual(link.createdBy, { type: 'key', id: keyIdOf(key) });
      assert.match(link.createdAt, ISO_UTC);
      assert.equal(link.updatedAt, link.createdAt);

      const fetched = await get(link.id);
      assert.equal(fetched.status, 200);
      assert.deepEqual(fetched.json, link);
    });

    test('auto slugs are 7 base62 characters and never repeat', async () => {
      const slugs = new Set<string>();
      for (let i = 0; i < 15; i++) {
        const link = await create({ url: `https://example.com/auto/${i}` });
        assert.match(link.slug, /^[0-9A-Za-z]{7}$/);
        slugs.add(link.slug);
      }
      assert.equal(slugs.size, 15);
    });

    test('stores every optional field', async () => {
      const link = await create({
        url: 'https://example.com/launch?ref=mail',
        slug: 'Launch_2030-beta',
        title: 'Launch page',
        tags: ['launch', 'mail', 'launch', ' mail '],
        expiresAt: '2099-06-01T12:00:00+02:00',
        expiredUrl: 'http://example.com/too-late',
        maxClicks: 500,
        redirectCode: 308,
      });
      assert.equal(link.slug, 'Launch_2030-beta');
      assert.equal(link.shortUrl, `${t.url}/Launch_2030-beta`);
      assert.equal(link.url, 'https://example.com/launch?ref=mail');
      assert.equal(link.title, 'Launch page');
      assert.deepEqual(link.tags, ['launch', 'mail'], 'tags are trimmed and deduplicated, first occurrence wins');
      assert.equal(link.expiresAt, '2099-06-01T10:00:00.000Z', 'times come back in UTC');
      assert.equal(link.expiredUrl, 'http://example.com/too-late');
      assert.equal(link.maxClicks, 500);
      assert.equal(link.redirectCode, 308);
      assert.deepEqual((await get(link.id)).json, link);
    });

    test('accepts each redirect code and uses it on the short URL', async () => {
      for (const code of [301, 302, 307, 308]) {
        const link = await create({ url: `https://example.com/code/${code}`, redirectCode: code });
        assert.equal(link.redirectCode, code);
        const hop = await t.request('GET', `/${link.slug}`);
        assert.equal(hop.status, code);
        assert.equal(hop.headers.get('location'), `https://example.com/code/${code}`);
      }
    });

    test('accepts values right at the limits', async () => {
      const longUrl = URL_PREFIX + 'a'.repeat(2048 - URL_PREFIX.length);
      const slug64 = 'x'.repeat(63) + String(++seq % 10);
      const tags = Array.from({ length: 20 }, (_, i) => `t${i}`);
      const link = await create({ url: longUrl, slug: slug64, title: 'T'.repeat(200), tags, maxClicks: 1 });
      assert.equal(link.url.length, 2048);
      assert.equal(link.slug, slug64);
      assert.equal(link.title.length, 200);
      assert.deepEqual(link.tags, tags);
      assert.equal(link.maxClicks, 1);
      const nulls = await create({ url: 'http://example.com/nulls', title: null, expiresAt: null, expiredUrl: null, maxClicks: null });
      assert.deepEqual([nulls.title, nulls.expiresAt, nulls.expiredUrl, nulls.maxClicks], [null, null, null, null]);
      // White space around a title (a line break a form or script left at its end) is trimmed, not refused.
      const trimmed = await create({ url: 'http://example.com/trimmed', title: '\t Launch page\r\n' });
      assert.equal(trimmed.title, 'Launch page');
      const unicode = await create({ url: 'http://example.com/unicode', title: 'Café 日本 🎉 \u200emark' });
      assert.equal(unicode.title, 'Café 日本 🎉 \u200emark', 'a left-to-right mark is not a direction override');
    });

    test('refuses invalid fields with a problem naming the field, and stores nothing', async (ctx) => {
      const url = 'https://example.com/ok';
      const cases: Array<[string, Record<string, unknown>, string]> = [
        ['an ftp URL', { url: 'ftp://example.com/file' }, 'url'],
        ['a javascript: URL', { url: 'javascript:alert(1)' }, 'url'],
        ['a JavaScript: URL in mixed case', { url: 'JaVaScRiPt:alert(document.cookie)' }, 'url'],
        ['a data: URL', { url: 'data:text/html,<script>alert(1)</script>' }, 'url'],
        ['a mailto: URL', { url: 'mailto:someone@example.com' }, 'url'],
        ['a relative URL', { url: '/just/a/path' }, 'url'],
        ['a URL without scheme', { url: 'example.com/page' }, 'url'],
        ['a URL over 2048 characters', { url: URL_PREFIX + 'a'.repeat(2049 - URL_PREFIX.length) }, 'url'],
        ['a missing url', { title: 'no url' }, 'url'],
        ['a url that is not a string', { url: 42 }, 'url'],
        ['a slug with a space', { url, slug: 'has space' }, 'slug'],
        ['a slug with a slash', { url, slug: 'a/b' }, 'slug'],
        ['a slug with a dot', { url, slug: 'a.b' }, 'slug'],
        ['a slug with non-ASCII letters', { url, slug: 'café' }, 'slug'],
        ['an empty slug', { url, slug: '' }, 'slug'],
        ['a slug of 65 characters', { url, slug: 'a'.repeat(65) }, 'slug'],
        ['the reserved slug admin', { url, slug: 'admin' }, 'slug'],
        ['the reserved slug API', { url, slug: 'API' }, 'slug'],
        ['the reserved slug api', { url, slug: 'api' }, 'slug'],
        ['the reserved slug Api', { url, slug: 'Api' }, 'slug'],
        ['the reserved slug setup', { url, slug: 'setup' }, 'slug'],
        ['the reserved slug SETUP', { url, slug: 'SETUP' }, 'slug'],
        ['the reserved slug healthz', { url, slug: 'healthz' }, 'slug'],
        ['the reserved slug HealthZ', { url, slug: 'HealthZ' }, 'slug'],
        ['the unknown field expires_at', { url, expires_at: FUTURE }, 'expires_at'],
        ['the read-only field clicks', { url, clicks: 5 }, 'clicks'],
        ['the read-only field id', { url, id: 'lnk_00000000000000000000' }, 'id'],
        ['maxClicks 0', { url, maxClicks: 0 }, 'maxClicks'],
        ['maxClicks -1', { url, maxClicks: -1 }, 'maxClicks'],
        ['maxClicks 1.5', { url, maxClicks: 1.5 }, 'maxClicks'],
        ['maxClicks "3"', { url, maxClicks: '3' }, 'maxClicks'],
        ['redirectCode 303', { url, redirectCode: 303 }, 'redirectCode'],
        ['redirectCode 200', { url, redirectCode: 200 }, 'redirectCode'],
        ['redirectCode "301"', { url, redirectCode: '301' }, 'redirectCode'],
        ['expiresAt in the past', { url, expiresAt: '2000-01-01T00:00:00Z' }, 'expiresAt'],
        ['expiresAt in words', { url, expiresAt: 'next tuesday' }, 'expiresAt'],
        ['expiresAt as a date only', { url, expiresAt: '2099-01-01' }, 'expiresAt'],
        ['expiresAt as epoch milliseconds', { url, expiresAt: 4070908800000 }, 'expiresAt'],
        ['an expiredUrl that is not http(s)', { url, expiresAt: FUTURE, expiredUrl: 'ftp://example.com/x' }, 'expiredUrl'],
        ['tags as a string', { url, tags: 'a,b' }, 'tags'],
        ['21 tags', { url, tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, 'tags'],
        ['an empty tag', { url, tags: ['ok', ''] }, 'tags.1'],
        ['a title over 200 characters', { url, title: 'T'.repeat(201) }, 'title'],
        ['a title with a NUL', { url, title: 'a\u0000b' }, 'title'],
        ['a title with a line break', { url, title: 'first\nsecond' }, 'title'],
        ['a title with half a surrogate pair', { url, title: 'broken \ud800' }, 'title'],
        ['a title with a C1 control', { url, title: 'a\u0085b' }, 'title'],
        ['a title with a direction override', { url, title: 'invoice\u202egnp.exe' }, 'title'],
        ['a title with a line separator', { url, title: 'one\u2028two' }, 'title'],
      ];
      const before = await rowCounts(t);
      for (const [name, body, field] of cases) {
        const res = await t.request('POST', '/api/v1/links', { key, body });
        await ctx.test(name, () => assertProblem(res, 400, 'validation_failed', [field]));
      }
      assert.deepEqual(await rowCounts(t), before, 'no link and no event from refused requests');
    });

    test('reports every bad field of one request at once', async () => {
      const res = await t.request('POST', '/api/v1/links', {
        key,
        body: { url: 'javascript:void(0)', slug: 'admin', maxClicks: 0, redirectCode: 303, expires_at: FUTURE },
      });
      assertProblem(res, 400, 'validation_failed', ['url', 'slug', 'maxClicks', 'redirectCode', 'expires_at']);
    });

    // The schemas stop at a field's first problem (one mistake, one message); were a field to
    // have several, they would be joined into its one entry.
    test('a field with several problems is listed once', async () => {
      const res = await t.request('POST', '/api/v1/links', { key, body: { url: 'javascript:\nalert(1)', tags: ['', 'a,b'] } });
      const p = assertProblem(res, 400, 'validation_failed', ['url', 'tags.0', 'tags.1']);
      assert.equal(p.detail, 'The request body has invalid fields: url, tags.0, tags.1.');
      assert.deepEqual(p.errors, [
        { field: 'url', message: 'must not contain control characters' },
        { field: 'tags.0', message: 'must not be empty' },
        { field: 'tags.1', message: 'must not contain commas or control characters' },
      ]);
    });

    test('refuses a body that is not a JSON object', async () => {
      const before = await rowCounts(t);
      assertProblem(await t.request('POST', '/api/v1/links', { key, body: [{ url: 'https://example.com/in-array' }] }), 400, 'validation_failed');
      assertProblem(await t.request('POST', '/api/v1/links', { key }), 400, 'validation_failed');
      assert.deepEqual(await rowCounts(t), before);
    });

    test(
      'a JSON string or null body is called "not an object", not "malformed JSON"',
      async () => {
        for (const raw of ['"https://example.com/"', 'null', '42']) {
          const res = await t.request('POST', '/api/v1/links', { key, rawBody: raw, headers: { 'content-type': 'application/json' } });
          const p = assertProblem(res, 400, 'validation_failed');
          assert.match(p.detail, /JSON object/);
        }
      },
    );

    test('a custom slug that is taken answers 409 slug_taken, in any workspace', async () => {
      const slug = freshSlug('taken');
      const first = await create({ url: 'https://example.com/first', slug });
      const before = await rowCounts(t);
      assertProblem(await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/second', slug } }), 409, 'slug_taken', ['slug']);
      const otherWorkspace = await t.key({ workspace: 'Slug squatters' });
      assertProblem(
        await t.request('POST', '/api/v1/links', { key: otherWorkspace, body: { url: 'https://example.com/third', slug } }),
        409,
        'slug_taken',
        ['slug'],
      );
      assert.deepEqual(await rowCounts(t), before, 'the refused creates wrote nothing');
      assert.deepEqual((await get(first.id)).json, first, 'the first owner keeps the slug');

      // An auto slug is as taken as a custom one.
      const auto = await create({ url: 'https://example.com/auto-taken' });
      const afterAuto = await rowCounts(t);
      assertProblem(await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/y', slug: auto.slug } }), 409, 'slug_taken');
      assert.deepEqual(await rowCounts(t), afterAuto);
    });
  });

  describe('request bodies', () => {
    test('malformed JSON answers 400 malformed_json', async () => {
      for (const raw of ['{"url": ', "{'url': 'https://example.com/'}", '{"url": "https://example.com/",}']) {
        const res = await t.request('POST', '/api/v1/links', { key, rawBody: raw, headers: { 'content-type': 'application/json' } });
        assertProblem(res, 400, 'malformed_json');
      }
      const link = await create({ url: 'https://example.com/patch-target' });
      assertProblem(
        await t.request('PATCH', `/api/v1/links/${link.id}`, { key, rawBody: '{"title":', headers: { 'content-type': 'application/json' } }),
        400,
        'malformed_json',
      );
    });

    test('a body over 64 KB answers 413 payload_too_large', async () => {
      const before = await rowCounts(t);
      const body = { url: 'https://example.com/big', tags: Array.from({ length: 20 }, () => 'x'.repeat(3400)) };
      assert.ok(JSON.stringify(body).length > 64 * 1024);
      assertProblem(await t.request('POST', '/api/v1/links', { key, body }), 413, 'payload_too_large');
      assert.deepEqual(await rowCounts(t), before);
    });

    test('a body that is not JSON answers 415 unsupported_media_type', async () => {
      const before = await rowCounts(t);
      const json = JSON.stringify({ url: 'https://example.com/typed' });
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x']) {
        const res = await t.request('POST', '/api/v1/links', { key, rawBody: json, headers: { 'content-type': type } });
        assertProblem(res, 415, 'unsupported_media_type');
      }
      const link = await create({ url: 'https://example.com/typed-patch' });
      const res = await t.request('PATCH', `/api/v1/links/${link.id}`, { key, rawBody: '{"title":"x"}', headers: { 'content-type': 'text/plain' } });
      assertProblem(res, 415, 'unsupported_media_type');
      assert.equal((await get(link.id)).json.title, null);
      assert.equal((await rowCounts(t)).links, before.links + 1);
    });

    test('application/json with a charset parameter is JSON', async () => {
      const res = await t.request('POST', '/api/v1/links', {
        key,
        rawBody: JSON.stringify({ url: 'https://example.com/charset' }),
        headers: { 'content-type': 'application/json; charset=utf-8' },
      });
      assert.equal(res.status, 201, res.text);
    });
  });

  describe('GET /api/v1/links/:id', () => {
    test('a malformed or unknown id answers 404 not_found', async () => {
      for (const id of ['nope', 'lnk_short', 'lnk_00000000000000000000', 'lnk_zzzzzzzzzzzzzzzzzzzz', 'LNK_00000000000000000000']) {
        assertProblem(await get(id), 404, 'not_found');
      }
      const link = await create({ url: 'https://example.com/by-id-only' });
      assertProblem(await get(link.slug), 404, 'not_found'); // a slug is not an id
    });
  });

  describe('PATCH /api/v1/links/:id', () => {
    test('changes exactly the field it is given', async (ctx) => {
      let current = await create({
        url: 'https://example.com/original',
        title: 'Original',
        tags: ['one'],
        expiresAt: FUTURE,
        expiredUrl: 'https://example.com/expired',
        maxClicks: 5,
        redirectCode: 302,
      });
      const steps: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
        ['url', { url: 'https://example.com/changed' }, { url: 'https://example.com/changed' }],
        ['title', { title: 'Changed' }, { title: 'Changed' }],
        ['title cleared', { title: null }, { title: null }],
        ['tags, deduplicated', { tags: ['b', 'a', 'b'] }, { tags: ['b', 'a'] }],
        ['tags emptied', { tags: [] }, { tags: [] }],
        ['expiresAt with an offset', { expiresAt: '2098-03-04T05:06:07+01:00' }, { expiresAt: '2098-03-04T04:06:07.000Z' }],
        ['expiredUrl', { expiredUrl: 'http://example.com/later' }, { expiredUrl: 'http://example.com/later' }],
        ['expiresAt cleared', { expiresAt: null }, { expiresAt: null }],
        ['expiredUrl cleared', { expiredUrl: null }, { expiredUrl: null }],
        ['maxClicks', { maxClicks: 9 }, { maxClicks: 9 }],
        ['maxClicks cleared', { maxClicks: null }, { maxClicks: null }],
        ['redirectCode', { redirectCode: 301 }, { redirectCode: 301 }],
        ['status disabled', { status: 'disabled' }, { status: 'disabled' }],
        ['status active', { status: 'active' }, { status: 'active' }],
        ['several fields', { title: 'Both', redirectCode: 307 }, { title: 'Both', redirectCode: 307 }],
      ];
      for (const [name, body, expected] of steps) {
        const res = await patch(current.id, body);
        await ctx.test(name, async () => {
          assert.equal(res.status, 200, res.text);
          assert.deepEqual(res.json, { ...current, ...expected, updatedAt: res.json.updatedAt });
          assert.ok(res.json.updatedAt >= current.updatedAt);
          assert.deepEqual((await get(current.id)).json, res.json);
        });
        current = res.json;
      }
    });

    test('disabling stops the redirect and enabling brings it back', async () => {
      const link = await create({ url: 'https://example.com/toggle' });
      assert.equal((await t.request('GET', `/${link.slug}`)).status, 302);
      assert.equal((await patch(link.id, { status: 'disabled' })).json.status, 'disabled');
      assert.equal((await t.request('GET', `/${link.slug}`)).status, 410);
      assert.equal((await patch(link.id, { status: 'active' })).json.status, 'active');
      assert.equal((await t.request('GET', `/${link.slug}`)).status, 302);
    });

    test('a new url takes effect on the short URL at once', async () => {
      const link = await create({ url: 'https://example.com/before' });
      assert.equal((await t.request('GET', `/${link.slug}`)).headers.get('location'), 'https://example.com/before');
      await patch(link.id, { url: 'https://example.com/after' });
      assert.equal((await t.request('GET', `/${link.slug}`)).headers.get('location'), 'https://example.com/after');
    });

    test('a slug change moves the short URL and frees the old slug', async () => {
      const oldSlug = freshSlug('old');
      const newSlug = freshSlug('new');
      const link = await create({ url: 'https://example.com/moved', slug: oldSlug });
      assert.equal((await t.request('GET', `/${oldSlug}`)).status, 302);
      const res = await patch(link.id, { slug: newSlug });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.slug, newSlug);
      assert.equal(res.json.shortUrl, `${t.url}/${newSlug}`);
      assert.equal(res.json.qrUrl, `${t.url}/${newSlug}?qr=1`);
      assert.equal((await t.request('GET', `/${oldSlug}`)).status, 404);
      assert.equal((await t.request('GET', `/${newSlug}`)).headers.get('location'), 'https://example.com/moved');
      assert.equal((await patch(link.id, { slug: newSlug })).status, 200, 'setting the slug it already has is fine');
      const reuse = await create({ url: 'https://example.com/reuse', slug: oldSlug });
      assert.equal(reuse.slug, oldSlug);
    });

    test('a slug another link has answers 409 slug_taken and changes nothing', async () => {
      const holder = await create({ url: 'https://example.com/holder', slug: freshSlug('holder') });
      const link = await create({ url: 'https://example.com/wants', slug: freshSlug('wants') });
      const before = await rowCounts(t);
      assertProblem(await patch(link.id, { slug: holder.slug, title: 'should not stick' }), 409, 'slug_taken', ['slug']);
      assert.deepEqual((await get(link.id)).json, link);
      assert.deepEqual(await rowCounts(t), before, 'the failed update wrote no event');
    });

    test('refuses an empty body, unknown fields and invalid values, changing nothing', async (ctx) => {
      const link = await create({ url: 'https://example.com/stable', title: 'Stable' });
      const cases: Array<[string, unknown, string[] | undefined]> = [
        ['an empty object', {}, ['body']],
        ['no body at all', undefined, undefined],
        ['the unknown field expires_at', { expires_at: FUTURE }, ['expires_at']],
        ['the read-only field clicks', { clicks: 0 }, ['clicks']],
        ['the read-only field createdAt', { createdAt: '2000-01-01T00:00:00Z' }, ['createdAt']],
        ['an unknown field beside a known one', { title: 'x', expires_at: FUTURE }, ['expires_at']],
        ['a null url', { url: null }, ['url']],
        ['a javascript: url', { url: 'javascript:alert(1)' }, ['url']],
        ['a reserved slug', { slug: 'Admin' }, ['slug']],
        ['a null slug', { slug: null }, ['slug']],
        ['an unknown status', { status: 'deleted' }, ['status']],
        ['redirectCode 303', { redirectCode: 303 }, ['redirectCode']],
        ['maxClicks 0', { maxClicks: 0 }, ['maxClicks']],
        ['expiresAt in the past', { expiresAt: '2001-01-01T00:00:00Z' }, ['expiresAt']],
        ['tags not an array', { tags: 'x' }, ['tags']],
        ['a valid and an invalid field', { title: 'New', maxClicks: 1.5 }, ['maxClicks']],
      ];
      const before = await rowCounts(t);
      for (const [name, body, fields] of cases) {
        const res = await patch(link.id, body);
        await ctx.test(name, () => assertProblem(res, 400, 'validation_failed', fields));
      }
      assert.deepEqual((await get(link.id)).json, link);
      assert.deepEqual(await rowCounts(t), before);
    });

    test('a malformed or unknown id answers 404', async () => {
      assertProblem(await patch('nope', { title: 'x' }), 404, 'not_found');
      assertProblem(await patch('lnk_00000000000000000000', { title: 'x' }), 404, 'not_found');
    });
  });

  describe('DELETE /api/v1/links/:id', () => {
    test('answers 204, then the link is gone everywhere', async () => {
      const link = await create({ url: 'https://example.com/delete-me', slug: freshSlug('del') });
      assert.equal((await t.request('GET', `/${link.slug}`)).status, 302);
      const res = await t.request('DELETE', `/api/v1/links/${link.id}`, { key });
      assert.equal(res.status, 204);
      assert.equal(res.text, '');
      assertProblem(await get(link.id), 404, 'not_found');
      assertProblem(await patch(link.id, { title: 'x' }), 404, 'not_found');
      assertProblem(await t.request('DELETE', `/api/v1/links/${link.id}`, { key }), 404, 'not_found');
      assert.equal((await t.request('GET', `/${link.slug}`)).status, 404, 'the short URL stops redirecting');
      const list = await t.request('GET', query({ q: link.slug }), { key });
      assert.deepEqual(list.json.data, []);
    });

    test('a malformed id answers 404', async () => {
      assertProblem(await t.request('DELETE', '/api/v1/links/nope', { key }), 404, 'not_found');
    });
  });

  describe('GET /api/v1/links', () => {
    const TOTAL = 57;
    let pagingKey: string;
    let created: string[]; // ids, oldest first

    before(async () => {
      pagingKey = await t.key({ workspace: 'Paging' });
      created = [];
      for (let i = 0; i < TOTAL; i++) created.push((await create({ url: `https://example.com/page/${i}` }, pagingKey)).id);
    });
    const list = (params: Record<string, string>) => t.request('GET', query(params), { key: pagingKey });

    test('answers {data, nextCursor} with 50 links by default', async () => {
      const res = await t.request('GET', '/api/v1/links', { key: pagingKey });
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(res.json).sort(), ['data', 'nextCursor']);
      assert.equal(res.json.data.length, 50);
      assert.equal(res.json.nextCursor, res.json.data[49].id);
      for (const link of res.json.data) assert.deepEqual(Object.keys(link).sort(), LINK_FIELDS);
    });

    test('limit takes 1 to 100', async () => {
      const one = await list({ limit: '1' });
      assert.equal(one.json.data.length, 1);
      assert.equal(one.json.nextCursor, one.json.data[0].id);
      const hundred = await list({ limit: '100' });
      assert.equal(hundred.json.data.length, TOTAL);
      assert.equal(hundred.json.nextCursor, null);
      const exact = await list({ limit: String(TOTAL) });
      assert.equal(exact.json.data.length, TOTAL);
      assert.equal(exact.json.nextCursor, null, 'a page that ends exactly at the last link has no next page');
      const almost = await list({ limit: String(TOTAL - 1) });
      assert.equal(almost.json.data.length, TOTAL - 1);
      const rest = await list({ limit: String(TOTAL - 1), after: almost.json.nextCursor });
      assert.equal(rest.json.data.length, 1);
      assert.equal(rest.json.nextCursor, null);
    });

    test('refuses a limit outside 1..100', async () => {
      for (const limit of ['0', '101', 'abc', '1.5', '-1', '', '1e2']) {
        assertProblem(await list({ limit }), 400, 'validation_failed', ['limit']);
      }
      assertProblem(await t.request('GET', '/api/v1/links?limit=1&limit=2', { key: pagingKey }), 400, 'validation_failed', ['limit']);
    });

    test('refuses unknown query parameters', async () => {
      for (const name of ['page', 'offset', 'cursor', 'Limit', 'tags']) {
        assertProblem(await list({ [name]: '2' }), 400, 'validation_failed', [name]);
      }
    });

    test('walking the cursor returns every link exactly once, newest first', async () => {
      const seen: Array<{ id: string; createdAt: string }> = [];
      let after: string | null = null;
      let pages = 0;
      do {
        const res: HttpResult = await list(after ? { limit: '7', after } : { limit: '7' });
        assert.equal(res.status, 200, res.text);
        pages++;
        after = res.json.nextCursor;
        if (after !== null) {
          assert.equal(res.json.data.length, 7, 'only the last page is short');
          assert.equal(after, res.json.data[6].id);
        }
        seen.push(...res.json.data);
        assert.ok(pages <= 20, 'pagination terminates');
      } while (after !== null);
      assert.equal(pages, Math.ceil(TOTAL / 7));
      assert.equal(seen.length, TOTAL);
      assert.deepEqual(new Set(seen.map((l) => l.id)), new Set(created));
      for (let i = 1; i < seen.length; i++) {
        assert.ok(seen[i - 1]!.createdAt >= seen[i]!.createdAt, 'newest first');
        assert.ok(seen[i - 1]!.id > seen[i]!.id, 'ids strictly decrease, so the cursor never skips or repeats');
      }
      assert.equal(seen[0]!.id, created.reduce((a, b) => (a > b ? a : b)));
    });

    test('refuses a cursor that is not a link id', async () => {
      for (const after of ['xyz', 'lnk_short', '10', 'lnk_00000000000000000000x']) {
        assertProblem(await list({ after }), 400, 'validation_failed', ['after']);
      }
    });

    test('a cursor stays valid after its link is deleted', async () => {
      const full = (await list({ limit: '100' })).json.data.map((l: { id: string }) => l.id);
      const first = await list({ limit: '10' });
      const cursor = first.json.nextCursor;
      assert.equal((await t.request('DELETE', `/api/v1/links/${cursor}`, { key: pagingKey })).status, 204);
      created = created.filter((id) => id !== cursor);
      const next = await list({ limit: '10', after: cursor });
      assert.deepEqual(next.json.data.map((l: { id: string }) => l.id), full.slice(10, 20));
    });
  });

  describe('GET /api/v1/links filters', () => {
    let searchKey: string;
    const ids: Record<string, string> = {};

    before(async () => {
      searchKey = await t.key({ workspace: 'Search' });
      const links: Array<[string, Record<string, unknown>]> = [
        ['summer', { url: 'https://shop.example.com/sale?utm=1', slug: 'Summer-Promo', title: 'Big Sale', tags: ['promo', 'y2030'] }],
        ['docs', { url: 'https://docs.example.org/start', slug: 'docs_home', title: 'Docs', tags: ['docs'] }],
        ['percent', { url: 'https://example.net/deal', slug: 'pct-off', title: '50% off everything', tags: ['promo'] }],
        ['plain', { url: 'https://example.net/plain', slug: 'plain1' }],
        ['winter', { url: 'https://example.net/WINTER-coats', slug: 'winter', title: 'Coats' }],
      ];
      for (const [name, body] of links) ids[name] = (await create(body, searchKey)).id;
      assert.equal((await patch(ids.winter!, { status: 'disabled' }, searchKey)).status, 200);
    });

    const names = (res: HttpResult) => {
      assert.equal(res.status, 200, res.text);
      const byId = Object.fromEntries(Object.entries(ids).map(([n, id]) => [id, n]));
      return res.json.data.map((l: { id: string }) => byId[l.id] ?? l.id).sort();
    };

    test('q matches slug, url or title, ignoring case, with % and _ taken literally', async (ctx) => {
      const cases: Array<[string, string[]]> = [
        ['summer', ['summer']],
        ['BIG SALE', ['summer']],
        ['SHOP.example', ['summer']],
        ['winter-COATS', ['winter']],
        ['coats', ['winter']],
        ['  docs  ', ['docs']],
        ['_', ['docs']],
        ['%', ['percent']],
        ['50%', ['percent']],
        ['s_mmer', []],
        ['50%everything', []],
        ['example.net', ['percent', 'plain', 'winter']],
        ['nothing-matches-this', []],
      ];
      for (const [q, expected] of cases) {
        await ctx.test(`q=${JSON.stringify(q)}`, async () => assert.deepEqual(names(await t.request('GET', query({ q }), { key: searchKey })), expected));
      }
    });

    test('tag matches one whole tag', async () => {
      const cases: Array<[string, string[]]> = [
        ['promo', ['percent', 'summer']],
        ['docs', ['docs']],
        ['prom', []],
        ['absent', []],
      ];
      for (const [tag, expected] of cases) {
        assert.deepEqual(names(await t.request('GET', query({ tag }), { key: searchKey })), expected, `tag=${tag}`);
      }
      assertProblem(await t.request('GET', query({ tag: '' }), { key: searchKey }), 400, 'validation_failed', ['tag']);
    });

    test('status filters active or disabled links', async () => {
      assert.deepEqual(names(await t.request('GET', query({ status: 'disabled' }), { key: searchKey })), ['winter']);
      assert.deepEqual(names(await t.request('GET', query({ status: 'active' }), { key: searchKey })), ['docs', 'percent', 'plain', 'summer']);
      assertProblem(await t.request('GET', query({ status: 'deleted' }), { key: searchKey }), 400, 'validation_failed', ['status']);
    });

    test('filters combine', async () => {
      assert.deepEqual(names(await t.request('GET', query({ q: 'example.net', status: 'active' }), { key: searchKey })), ['percent', 'plain']);
      assert.deepEqual(names(await t.request('GET', query({ q: 'sale', tag: 'promo' }), { key: searchKey })), ['summer']);
      assert.deepEqual(names(await t.request('GET', query({ q: 'docs', tag: 'promo' }), { key: searchKey })), []);
    });

    test('filtered lists paginate too', async () => {
      const first = await t.request('GET', query({ tag: 'promo', limit: '1' }), { key: searchKey });
      assert.equal(first.json.data.length, 1);
      assert.notEqual(first.json.nextCursor, null);
      const second = await t.request('GET', query({ tag: 'promo', limit: '1', after: first.json.nextCursor }), { key: searchKey });
      assert.equal(second.json.data.length, 1);
      assert.equal(second.json.nextCursor, null);
      assert.deepEqual([...names(first), ...names(second)].sort(), ['percent', 'summer']);
    });
  });

  describe('workspace isolation', () => {
    test("another workspace's key sees 404 for a link id and never lists it", async () => {
      const keyB = await t.key({ workspace: 'B' });
      const linkA = await create({ url: 'https://example.com/private-to-a', slug: freshSlug('a-only'), title: 'Only A', tags: ['secret'] });
      const linkB = await create({ url: 'https://example.com/b-own', title: 'B own' }, keyB);
      const before = await rowCounts(t);

      assertProblem(await get(linkA.id, keyB), 404, 'not_found');
      assertProblem(await patch(linkA.id, { title: 'taken over', url: 'https://evil.example/' }, keyB), 404, 'not_found');
      assertProblem(await t.request('DELETE', `/api/v1/links/${linkA.id}`, { key: keyB }), 404, 'not_found');
      assert.deepEqual((await get(linkA.id)).json, linkA, "A's link is untouched");
      assert.deepEqual(await rowCounts(t), before, 'nothing written');

      const probes: Record<string, string>[] = [{}, { q: linkA.slug }, { q: 'Only A' }, { tag: 'secret' }, { after: linkA.id }, { limit: '100' }];
      for (const params of probes) {
        const res = await t.request('GET', query(params), { key: keyB });
        assert.equal(res.status, 200, res.text);
        assert.ok(
          res.json.data.every((l: { id: string }) => l.id !== linkA.id),
          `B's list with ${JSON.stringify(params)} leaks A's link`,
        );
      }
      assert.deepEqual(
        (await t.request('GET', query({ limit: '100' }), { key: keyB })).json.data.map((l: { id: string }) => l.id),
        [linkB.id],
      );
      const listA = await t.request('GET', query({ q: 'B own' }), { key });
      assert.deepEqual(listA.json.data, [], "A never sees B's link");
    });
  });

  describe('outbox events', () => {
    test('create, update and delete each write one event carrying the Link JSON', async () => {
      const acme = await workspaceId(t, 'Acme');
      const created = await create({ url: 'https://example.com/evented', title: 'Evented', tags: ['e'] });
      let events = await eventsAbout(t, created.id);
      assert.equal(events.length, 1);
      assert.equal(events[0]!.type, 'link.created');
      assert.equal(events[0]!.workspaceId, acme);
      assert.match(events[0]!.id, /^evt_/);
      assert.deepEqual(Object.keys(events[0]!.payload).sort(), ['data', 'timestamp', 'type']);
      assert.equal(events[0]!.payload.type, 'link.created');
      assert.equal(events[0]!.payload.timestamp, created.createdAt);
      assert.deepEqual(events[0]!.payload.data, created);

      const updated = (await patch(created.id, { title: 'Evented again', maxClicks: 3 })).json;
      events = await eventsAbout(t, created.id);
      assert.equal(events.length, 2);
      assert.equal(events[1]!.type, 'link.updated');
      assert.equal(events[1]!.workspaceId, acme);
      assert.equal(events[1]!.payload.type, 'link.updated');
      assert.equal(events[1]!.payload.timestamp, updated.updatedAt);
      assert.deepEqual(events[1]!.payload.data, updated);

      assert.equal((await t.request('DELETE', `/api/v1/links/${created.id}`, { key })).status, 204);
      events = await eventsAbout(t, created.id);
      assert.deepEqual(events.map((e) => e.type), ['link.created', 'link.updated', 'link.deleted']);
      const deleted = events[2]!;
      assert.equal(deleted.workspaceId, acme);
      assert.equal(deleted.payload.type, 'link.deleted');
      // The link as it was when deleted.
      assert.deepEqual(deleted.payload.data, updated);
      assert.equal(new Set(events.map((e) => e.id)).size, 3);
    });

    test('events land in the workspace of the key that made the change', async () => {
      const keyB = await t.key({ workspace: 'B' });
      const link = await create({ url: 'https://example.com/b-event' }, keyB);
      const [event] = await eventsAbout(t, link.id);
      assert.equal(event!.workspaceId, await workspaceId(t, 'B'));
    });

    test('concurrent writes each commit or fail on their own, with exactly their own events', async () => {
      const before = await rowCounts(t);
      const slug = freshSlug('race');
      const racers = await Promise.all(
        Array.from({ length: 8 }, (_, i) => t.request('POST', '/api/v1/links', { key, body: { url: `https://example.com/race/${i}`, slug } })),
      );
      assert.equal(racers.filter((r) => r.status === 201).length, 1, 'one request wins the slug');
      for (const r of racers.filter((r) => r.status !== 201)) assertProblem(r, 409, 'slug_taken', ['slug']);

      const created = await Promise.all(Array.from({ length: 16 }, (_, i) => create({ url: `https://example.com/batch/${i}` })));
      assert.equal(new Set(created.map((l) => l.id)).size, 16);
      // Half of the updates try to take the raced slug and must fail alone.
      const updates = await Promise.all(
        created.map((l, i) => patch(l.id, i % 2 === 0 ? { title: `batch ${i}` } : { slug, title: 'must not stick' })),
      );
      const deletes = await Promise.all(
        created.slice(0, 4).map((l) => t.request('DELETE', `/api/v1/links/${l.id}`, { key })),
      );
      assert.deepEqual(deletes.map((r) => r.status), [204, 204, 204, 204]);

      for (const [i, link] of created.entries()) {
        const expected = ['link.created'];
        if (i % 2 === 0) {
          assert.equal(updates[i]!.status, 200, updates[i]!.text);
          expected.push('link.updated');
        } else {
          assertProblem(updates[i]!, 409, 'slug_taken');
        }
        if (i < 4) expected.push('link.deleted');
        const events = await eventsAbout(t, link.id);
        assert.deepEqual(events.map((e) => e.type), expected, `events of link ${i}`);
        assert.deepEqual(events[0]!.payload.data, link);
        if (i % 2 === 0) assert.deepEqual(events[1]!.payload.data, updates[i]!.json);
      }
      assert.deepEqual(await rowCounts(t), { links: before.links + 1 + 16 - 4, events: before.events + 1 + 16 + 8 + 4 });
    });

    test('a refused request writes no event and no link', async () => {
      const target = await create({ url: 'https://example.com/untouched', slug: freshSlug('keep') });
      const other = await create({ url: 'https://example.com/other', slug: freshSlug('other') });
      const keyB = await t.key({ workspace: 'B' });
      const before = await rowCounts(t);
      const json = { 'content-type': 'application/json' };
      const refused: Array<[string, () => Promise<HttpResult>, number]> = [
        ['invalid create', () => t.request('POST', '/api/v1/links', { key, body: { url: 'javascript:alert(1)' } }), 400],
        ['taken slug', () => t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/', slug: target.slug } }), 409],
        ['malformed JSON', () => t.request('POST', '/api/v1/links', { key, rawBody: '{', headers: json }), 400],
        ['too large', () => t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/', title: 'x'.repeat(70_000) } }), 413],
        ['not JSON', () => t.request('POST', '/api/v1/links', { key, rawBody: 'url=x', headers: { 'content-type': 'text/plain' } }), 415],
        ['invalid update', () => patch(target.id, { redirectCode: 303 }), 400],
        ['update to a taken slug', () => patch(target.id, { slug: other.slug }), 409],
        ['update of an unknown id', () => patch('lnk_00000000000000000000', { title: 'x' }), 404],
        ['delete of an unknown id', () => t.request('DELETE', '/api/v1/links/lnk_00000000000000000000', { key }), 404],
        ["update from another workspace", () => patch(target.id, { title: 'x' }, keyB), 404],
        ["delete from another workspace", () => t.request('DELETE', `/api/v1/links/${target.id}`, { key: keyB }), 404],
      ];
      for (const [name, send, status] of refused) assert.equal((await send()).status, status, name);
      assert.deepEqual(await rowCounts(t), before);
      assert.deepEqual((await get(target.id)).json, target);
      assert.deepEqual((await eventsAbout(t, target.id)).map((e) => e.type), ['link.created']);
    });
  });
});

describe('links API on the server clock', () => {
  const START = Date.UTC(2030, 0, 1);
  const clock = fakeClock(START);
  let t: TestServer;
  let key: string;
  before(async () => {
    t = await startTestServer({ clock });
    key = await t.key();
  });
  after(() => t.close());

  const iso = (ms: number) => new Date(ms).toISOString();
  const create = async (body: Record<string, unknown>) => {
    const res = await t.request('POST', '/api/v1/links', { key, body });
    assert.equal(res.status, 201, res.text);
    return res.json;
  };

  test('createdAt, updatedAt and the event timestamp are the server time', async () => {
    clock.advance(1_000);
    const link = await create({ url: 'https://example.com/clocked' });
    assert.equal(link.createdAt, iso(clock.now()));
    assert.equal(link.updatedAt, iso(clock.now()));
    assert.equal((await eventsAbout(t, link.id))[0]!.payload.timestamp, iso(clock.now()));
  });

  test('expiresAt must be after the server time', async () => {
    clock.advance(1_000);
    const now = clock.now();
    for (const expiresAt of [iso(now - 1_000), iso(now)]) {
      const res = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/e', expiresAt } });
      assertProblem(res, 400, 'validation_failed', ['expiresAt']);
    }
    const link = await create({ url: 'https://example.com/e', expiresAt: iso(now + 1_000) });
    assert.equal(link.expiresAt, iso(now + 1_000));
    clock.advance(5_000);
    assertProblem(
      await t.request('PATCH', `/api/v1/links/${link.id}`, { key, body: { expiresAt: iso(now + 2_000) } }),
      400,
      'validation_failed',
      ['expiresAt'],
    );
  });

  test('an update moves updatedAt and never createdAt', async () => {
    const link = await create({ url: 'https://example.com/versions' });
    for (const [step, body] of [[60_000, { title: 'v2' }], [3_600_000, { status: 'disabled' }]] as const) {
      clock.advance(step);
      const res = await t.request('PATCH', `/api/v1/links/${link.id}`, { key, body });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.createdAt, link.createdAt);
      assert.equal(res.json.updatedAt, iso(clock.now()));
      assert.equal((await t.request('GET', `/api/v1/links/${link.id}`, { key })).json.updatedAt, iso(clock.now()));
      assert.equal((await eventsAbout(t, link.id)).at(-1)!.payload.timestamp, iso(clock.now()));
    }
  });

  test('the link.deleted event carries the link as it was, at the time of the deletion', async () => {
    const link = await create({ url: 'https://example.com/last-words', title: 'Last words' });
    clock.advance(10_000);
    assert.equal((await t.request('DELETE', `/api/v1/links/${link.id}`, { key })).status, 204);
    const deleted = (await eventsAbout(t, link.id)).at(-1)!;
    assert.equal(deleted.type, 'link.deleted');
    assert.equal(deleted.payload.timestamp, iso(clock.now()));
    assert.deepEqual(deleted.payload.data, link);
  });

  test(
    'links created in the same millisecond list newest first',
    async () => {
      clock.advance(1_000);
      const keyC = await t.key({ workspace: 'Same millisecond' });
      const created: string[] = [];
      for (let i = 0; i < 8; i++) {
        const res = await t.request('POST', '/api/v1/links', { key: keyC, body: { url: `https://example.com/same/${i}` } });
        created.push(res.json.id);
      }
      const listed = (await t.request('GET', '/api/v1/links', { key: keyC })).json.data.map((l: { id: string }) => l.id);
      assert.deepEqual(listed, [...created].reverse());
    },
  );
});
