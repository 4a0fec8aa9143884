import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Queries } from '../db/db.js';
import { startTestServer, type TestServer } from '../testing/harness.js';
import { RedirectCache } from './redirect-cache.js';

/** The database with some methods replaced (not spread: the PostgreSQL one's `sqlite` getter throws). */
const over = (db: Queries, methods: Partial<Queries>): Queries => Object.assign(Object.create(db) as Queries, methods);

/** The database, counting the statements that read links (the cache's reads). */
function countingReads(db: Queries) {
  const counts = { statements: 0 };
  const counted = over(db, {
    rows: (sql, ...params) => {
      if (/from links|join links/.test(sql)) counts.statements++;
      return db.rows(sql, ...params);
    },
    row: (sql, ...params) => {
      if (/from links/.test(sql)) counts.statements++;
      return db.row(sql, ...params);
    },
  });
  return { counted, counts };
}

describe('redirect cache: misses of one turn read together', () => {
  let t: TestServer;
  let key: string;
  const links: { slug: string; url: string }[] = [];
  before(async () => {
    t = await startTestServer();
    key = await t.key();
    for (let i = 0; i < 230; i++) {
      const res = await t.request('POST', '/api/v1/links', { key, body: { url: `https://example.com/page/${i}`, slug: `many-${i}` } });
      assert.equal(res.status, 201, res.text);
      links.push({ slug: res.json.slug, url: res.json.url });
    }
  });
  after(() => t.close());

  test('each slug gets its own link; an unknown one gets none; 200 slugs a statement', async () => {
    const { counted, counts } = countingReads(t.store.db);
    const cache = new RedirectCache(counted, () => 0);
    const slugs = [...links.map((l) => l.slug), 'no-such-slug'];
    const targets = await Promise.all(slugs.map((slug) => cache.miss('', slug)));
    assert.equal(counts.statements, 2, '231 misses of one turn: two statements');
    targets.slice(0, -1).forEach((target, i) => assert.equal(target?.url, links[i]!.url, links[i]!.slug));
    assert.equal(targets.at(-1), undefined);
    assert.equal(cache.size, 230, 'the links found are cached, the unknown slug is not');
    assert.equal(cache.cached('', 'many-7')?.url, 'https://example.com/page/7');
  });

  test('a lone miss is a read of its own; misses of later turns are later statements', async () => {
    const { counted, counts } = countingReads(t.store.db);
    const cache = new RedirectCache(counted, () => 0);
    assert.equal((await cache.miss('', 'many-1'))?.url, 'https://example.com/page/1');
    assert.equal((await cache.miss('', 'many-2'))?.url, 'https://example.com/page/2');
    assert.equal(counts.statements, 2);
    // The same slug missed twice in one turn is one read, shared.
    const [a, b] = await Promise.all([cache.miss('', 'many-3'), cache.miss('', 'many-3')]);
    assert.equal(a, b);
    assert.equal(counts.statements, 3);
  });

  test("a link's human clicks so far: its row's and its buffered ones, for each link of a statement", async () => {
    const buffered = new Map([[(await t.store.db.row<{ id: string }>('select id from links where slug = ?', 'many-5'))!.id, 4]]);
    const cache = new RedirectCache(t.store.db, (linkId) => buffered.get(linkId) ?? 0);
    const [five, six] = await Promise.all([cache.miss('', 'many-5'), cache.miss('', 'many-6')]);
    assert.equal(five?.humanClicks, 4);
    assert.equal(six?.humanClicks, 0);
  });

  test('a failed read fails every request of its statement, and the next miss reads again', async () => {
    let fail = true;
    const failing = over(t.store.db, {
      rows: (sql, ...params) => (fail ? Promise.reject(new Error('database gone')) : t.store.db.rows(sql, ...params)),
    });
    const cache = new RedirectCache(failing, () => 0);
    const outcomes = await Promise.allSettled([cache.miss('', 'many-8'), cache.miss('', 'many-9')]);
    assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected']);
    fail = false;
    const [eight, nine] = await Promise.all([cache.miss('', 'many-8'), cache.miss('', 'many-9')]);
    assert.equal(eight?.url, 'https://example.com/page/8');
    assert.equal(nine?.url, 'https://example.com/page/9');
  });

  test('a row that cannot be made a target fails its own request only; the others of its statement are answered', async () => {
    await t.store.db.exec(`update links set targets = '{not json' where slug = 'many-10'`);
    try {
      const cache = new RedirectCache(t.store.db, () => 0);
      const [broken, fine] = await Promise.allSettled([cache.miss('', 'many-10'), cache.miss('', 'many-11')]);
      assert.equal(broken.status, 'rejected');
      assert.equal(fine.status === 'fulfilled' && fine.value?.url, 'https://example.com/page/11');
    } finally {
      await t.store.db.exec(`update links set targets = null where slug = 'many-10'`);
    }
  });

  test('through the server: 230 links requested at once each redirect to their own URL', async () => {
    t.server.deps.redirects.clear();
    const answers = await Promise.all(links.map((l) => fetch(`${t.url}/${l.slug}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0' } })));
    answers.forEach((res, i) => {
      assert.equal(res.status, 302, links[i]!.slug);
      assert.equal(res.headers.get('location'), links[i]!.url, links[i]!.slug);
    });
    assert.equal((await fetch(`${t.url}/no-such-slug`, { redirect: 'manual' })).status, 404);
  });
});
