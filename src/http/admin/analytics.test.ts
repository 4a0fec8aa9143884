import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { createUser } from '../../users/users.service.js';
import { setWorkspacePlan, upsertPlan } from '../../workspaces/plans.js';
import { requireWorkspace } from '../../workspaces/workspaces.service.js';
import { AdminClient, textOf } from '../../testing/admin-client.js';
import { fakeClock, startTestServer, TEST_OPERATOR, type TestServer } from '../../testing/harness.js';

const PASSWORD = 'correct horse battery';
const OWNER = 'olga@example.com';
const VIEWER = 'vera@example.com';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DESKTOP = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const PHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
const SLACKBOT = 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)';

interface ApiLink {
  id: string;
  slug: string;
  shortUrl: string;
  qrUrl: string;
}

/** Tags stripped, the entities our templates write decoded, whitespace collapsed. */
const plain = (html: string) =>
  html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();

/** The number on a summary card (`#stat-<key> .stat-value`); undefined without the card. */
function cardValue(html: string, key: string): number | undefined {
  const m = new RegExp(`id="stat-${key}">\\s*<span class="stat-label">[^<]*</span>\\s*<span class="stat-value">([^<]*)</span>`).exec(html);
  return m ? Number(m[1]!.replaceAll(',', '')) : undefined;
}
const cardsOf = (html: string) => ({ human: cardValue(html, 'human'), qr: cardValue(html, 'qr'), bots: cardValue(html, 'bots'), total: cardValue(html, 'total') });
const countsOf = (s: { human: number; qr: number; bots: number; total: number }) => ({ human: s.human, qr: s.qr, bots: s.bots, total: s.total });

/** The markup of the table with this id; undefined without the table. */
function tableHtml(html: string, id: string): string | undefined {
  const start = html.indexOf(`id="${id}"`);
  return start < 0 ? undefined : html.slice(start, html.indexOf('</table>', start));
}

/** The body cells of the table with this id, as plain text; undefined without the table. */
function tableRows(html: string, id: string): string[][] | undefined {
  const table = tableHtml(html, id);
  if (table === undefined) return undefined;
  const body = table.slice(table.indexOf('<tbody>'));
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) => [...row[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((cell) => plain(cell[1]!)));
}

/** How many bars of a kind ("human" or "bot") the click chart draws: one per bucket with such clicks. */
function chartBars(html: string, kind: 'human' | 'bot'): number | undefined {
  const group = new RegExp(`<g class="click-chart__${kind}"[^>]*>([\\s\\S]*?)</g>`).exec(html);
  return group ? (group[1]!.match(/<path /g) ?? []).length : undefined;
}

const rangeLabel = (html: string) => /<p class="muted small range-label">([^<]*)<\/p>/.exec(html)?.[1]?.replace(/\s+/g, ' ').trim();

/** A field of the QR options form: whether it is marked invalid, and the message beside it. */
function qrField(html: string, name: 'size' | 'ecc' | 'fg' | 'bg') {
  const m = new RegExp(`<div class="field( has-error)?">\\s*<label for="qr-${name}">([\\s\\S]*?)</div>`).exec(html);
  assert.ok(m, `the QR form has a ${name} field`);
  return { invalid: m[1] !== undefined, message: /<p class="error">([^<]*)<\/p>/.exec(m[2]!)?.[1]?.replaceAll('&quot;', '"') };
}

const attr = (html: string, re: RegExp) => re.exec(html)?.[1]?.replaceAll('&amp;', '&');
const previewSrc = (html: string) => attr(html, /<img class="qr-preview" src="([^"]+)"/);
const downloadHref = (html: string, kind: 'SVG' | 'PNG') => attr(html, new RegExp(`href="([^"]+)" download>Download ${kind}<`));
const hasCreateForm = (html: string, linkId: string) => new RegExp(`<form method="post" action="/admin/links/${linkId}/qr">`).test(html);

const decodePng = (bytes: Buffer) => {
  const png = PNG.sync.read(bytes);
  return { width: png.width, height: png.height, text: jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data };
};

const iso = (ms: number) => new Date(ms).toISOString();
const date = (ms: number) => iso(ms).slice(0, 10);

describe('admin Analytics page and a link’s page with its QR code', () => {
  // Half past the hour, so "now" and the preset edges are never the same instant.
  const NOW = Date.UTC(2030, 5, 15, 12, 30);
  const clock = fakeClock(NOW);
  let t: TestServer;
  let key: string;
  let spring: ApiLink;
  let guide: ApiLink;
  let menu: ApiLink;
  let globexLink: ApiLink;
  let owner: AdminClient;

  const api = async (path: string, apiKey = key) => {
    const res = await t.request('GET', path, { key: apiKey });
    assert.equal(res.status, 200, `${path}: ${res.text}`);
    return res.json;
  };
  const newLink = async (apiKey: string, slug: string): Promise<ApiLink> => {
    const res = await t.request('POST', '/api/v1/links', { key: apiKey, body: { url: `https://example.com/${slug}`, slug } });
    assert.equal(res.status, 201, res.text);
    return res.json;
  };
  /** `count` real redirects of /slug, `daysAgo` days before NOW. */
  const clicks = async (slug: string, daysAgo: number, count: number, opts: { ua?: string; qr?: boolean; referer?: string } = {}) => {
    clock.set(NOW - daysAgo * DAY);
    for (let i = 0; i < count; i++) {
      const headers: Record<string, string> = { 'user-agent': opts.ua ?? DESKTOP };
      if (opts.referer) headers.referer = opts.referer;
      const res = await t.request('GET', `/${slug}${opts.qr ? '?qr=1' : ''}`, { headers });
      assert.equal(res.status, 302, res.text);
    }
  };
  const qrGeneratedAt = async (linkId: string) => (await t.store.db.row<{ at: number | null }>('select qr_generated_at as at from links where id = ?', linkId))!.at;
  const qrUsage = async (apiKey = key) => (await api('/api/v1/me', apiKey)).workspace.usage.limits.qrCodes.used as number;

  before(async () => {
    t = await startTestServer({ clock });
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    await createUser(t.store, TEST_OPERATOR, { email: VIEWER, password: PASSWORD, workspace: 'Acme', role: 'viewer' });
    key = await t.key({ workspace: 'Acme' });
    spring = await newLink(key, 'spring');
    guide = await newLink(key, 'guide');
    menu = await newLink(key, 'menu');
    globexLink = await newLink(await t.key({ workspace: 'Globex' }), 'globex-home');

    // spring: 2 days ago 3 human from Hacker News + 1 QR scan from a phone; 10 days ago 4 human
    // and a link preview; 40 days ago 2 human (only in 90 days).
    await clicks('spring', 2, 3, { referer: 'https://news.ycombinator.com/item?id=1' });
    await clicks('spring', 2, 1, { ua: PHONE, qr: true });
    await clicks('spring', 10, 2, { ua: PHONE });
    await clicks('spring', 10, 2);
    await clicks('spring', 10, 1, { ua: SLACKBOT });
    await clicks('spring', 40, 2);
    // guide: 5 human yesterday, 1 human 20 and 21 days ago.
    await clicks('guide', 1, 5);
    await clicks('guide', 20, 1);
    await clicks('guide', 21, 1);
    clock.set(NOW);
    await t.flushClicks();
    owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/analytics');
  });
  after(() => t.close());

  test('the cards equal the API for each range, with the numbers the clicks’ ages give', async () => {
    // Presets: 7 days end at the next whole hour; 30 and 90 days at the end of today (UTC).
    const endOfHour = Date.UTC(2030, 5, 15, 13);
    const endOfToday = Date.UTC(2030, 5, 16);
    const cases = [
      { query: 'range=7d', api: `from=${iso(endOfHour - 7 * DAY)}&to=${iso(endOfHour)}`, label: 'Last 7 days · times in UTC · by hour', counts: { human: 9, qr: 1, bots: 0, total: 9 }, humanBars: 2, botBars: 0 },
      { query: 'range=30d', api: `from=${date(endOfToday - 30 * DAY)}&to=${date(endOfToday - DAY)}`, label: 'Last 30 days · times in UTC · by day', counts: { human: 15, qr: 1, bots: 1, total: 16 }, humanBars: 5, botBars: 1 },
      { query: '', api: `from=${date(endOfToday - 30 * DAY)}&to=${date(endOfToday - DAY)}`, label: 'Last 30 days · times in UTC · by day', counts: { human: 15, qr: 1, bots: 1, total: 16 }, humanBars: 5, botBars: 1 },
      { query: 'range=90d', api: `from=${date(endOfToday - 90 * DAY)}&to=${date(endOfToday - DAY)}`, label: 'Last 90 days · times in UTC · by day', counts: { human: 17, qr: 1, bots: 1, total: 18 }, humanBars: 6, botBars: 1 },
      // Both days count: spring’s clicks of 5 June and guide’s of 26 May, not guide’s of 25 May.
      { query: 'from=2030-05-26&to=2030-06-05', api: 'from=2030-05-26&to=2030-06-05', label: '2030-05-26 to 2030-06-05 · times in UTC · by day', counts: { human: 5, qr: 0, bots: 1, total: 6 }, humanBars: 2, botBars: 1 },
      { query: 'from=2030-06-14&to=2030-06-14', api: 'from=2030-06-14&to=2030-06-14', label: '2030-06-14 · times in UTC · by hour', counts: { human: 5, qr: 0, bots: 0, total: 5 }, humanBars: 1, botBars: 0 },
    ];
    for (const c of cases) {
      const page = await owner.get(`/admin/analytics${c.query ? `?${c.query}` : ''}`);
      assert.equal(page.status, 200, c.query);
      const stats = await api(`/api/v1/stats?${c.api}`);
      assert.deepEqual(countsOf(stats), c.counts, `${c.query}: the API counts the clicks the test made`);
      assert.deepEqual(cardsOf(page.text), c.counts, `${c.query}: the cards say what the API says`);
      assert.equal(rangeLabel(page.text), c.label, c.query);
      assert.equal(page.text.match(/<div class="chart-size chart-size-\d+"><svg [^>]*role="img"/g)?.length, 4, `${c.query}: the chart, in its four sizes`);
      assert.equal(chartBars(page.text, 'human'), stats.series.filter((p: { human: number }) => p.human > 0).length, `${c.query}: a bar per bucket with human clicks`);
      assert.equal(chartBars(page.text, 'human'), c.humanBars, c.query);
      assert.equal(chartBars(page.text, 'bot'), c.botBars, c.query);
    }
    const seven = cardsOf((await owner.get('/admin/analytics?range=7d')).text);
    const thirty = cardsOf((await owner.get('/admin/analytics?range=30d')).text);
    assert.equal(thirty.human! - seven.human!, 6, 'the 4 clicks of 10 days ago and the 2 of 20–21 days ago are only in 30 days');
    assert.equal(thirty.bots! - seven.bots!, 1, 'so is the link preview of 10 days ago');
    assert.match(textOf((await owner.get('/admin/analytics?range=30d')).text, 'stat-human')!, /94% of all/, '15 of 16 requests were human');
  });

  test('top links: busiest first by human clicks, the order changes with the range, rows link to the same range', async () => {
    const cases = [
      { query: 'range=7d', order: [['guide', '5', '0', '0'], ['spring', '4', '1', '0']] },
      { query: 'range=30d', order: [['spring', '8', '1', '1'], ['guide', '7', '0', '0']] },
      { query: 'from=2030-06-14&to=2030-06-14', order: [['guide', '5', '0', '0']] },
    ];
    for (const c of cases) {
      const page = await owner.get(`/admin/analytics?${c.query}`);
      const rows = tableRows(page.text, 'top-links');
      assert.ok(rows, `${c.query}: a top links table`);
      assert.deepEqual(
        rows.map((r) => [r[0]!.replace(/^\//, ''), r[2], r[3], r[4]]),
        c.order,
        c.query,
      );
      const links = [...page.text.matchAll(/<a class="mono" href="([^"]+)">\/([^<]+)<\/a>/g)].map((m) => [m[2], m[1]!.replaceAll('&amp;', '&')]);
      const ids: Record<string, string> = { spring: spring.id, guide: guide.id };
      assert.deepEqual(links, c.order.map(([slug]) => [slug, `/admin/links/${ids[slug!]}?${c.query}`]), `${c.query}: each row opens its link in the same range`);
    }
    const quiet = await owner.get('/admin/analytics?from=2030-01-01&to=2030-01-02');
    assert.equal(tableRows(quiet.text, 'top-links'), undefined);
    assert.match(quiet.text, /No clicks in this range\./);
    assert.deepEqual(cardsOf(quiet.text), { human: 0, qr: 0, bots: 0, total: 0 });
  });

  test('bad custom dates: 422, the message, the typed dates kept, the default 30 days shown', async () => {
    const thirty = cardsOf((await owner.get('/admin/analytics?range=30d')).text);
    const cases = [
      { query: 'from=2030-06-10&to=2030-06-01', field: 'to', message: /^The end date must be on or after the start date\. Showing the last 30 days\.$/ },
      { query: 'from=junk&to=2030-06-01', field: 'from', message: /^Enter a start date that exists \(YYYY-MM-DD\)\./ },
      { query: 'from=2030-06-01&to=', field: 'to', message: /^Enter an end date that exists \(YYYY-MM-DD\)\./ },
      { query: 'from=2020-01-01&to=2030-06-01', field: 'to', message: /^Choose at most 731 days\./ },
      // The API refuses days the calendar does not have; so must the page (Date.parse rolls 30 February to 2 March).
      { query: 'from=2030-02-30&to=2030-03-05', field: 'from', message: /start date|valid date|calendar/i },
    ];
    for (const c of cases) {
      const page = await owner.get(`/admin/analytics?${c.query}`);
      assert.equal(page.status, 422, c.query);
      assert.match(textOf(page.text, 'range-error') ?? '', c.message, c.query);
      assert.match(page.text, new RegExp(`id="range-${c.field}" name="${c.field}" value="[^"]*" aria-invalid="true" aria-describedby="range-error"`), `${c.query}: the field is marked`);
      const [from, to] = [/from=([^&]*)/.exec(c.query)![1], /to=([^&]*)/.exec(c.query)![1]];
      assert.match(page.text, new RegExp(`id="range-from" name="from" value="${from}"`), `${c.query}: the typed start kept`);
      assert.match(page.text, new RegExp(`id="range-to" name="to" value="${to}"`), `${c.query}: the typed end kept`);
      assert.equal(rangeLabel(page.text), 'Last 30 days · times in UTC · by day', c.query);
      assert.deepEqual(cardsOf(page.text), thirty, `${c.query}: the default range's numbers`);
    }
    const linkPage = await owner.get(`/admin/links/${spring.id}?from=2030-06-10&to=2030-06-01`);
    assert.equal(linkPage.status, 422, 'the link page too');
    assert.match(textOf(linkPage.text, 'range-error')!, /end date must be on or after/);
  });

  test('a link’s page: cards, facets and latest clicks equal the API; 7 days and 30 days differ by the old clicks', async () => {
    const endOfHour = Date.UTC(2030, 5, 15, 13);
    const cases = [
      { query: 'range=30d', api: 'from=2030-05-17&to=2030-06-15', counts: { human: 8, qr: 1, bots: 1, total: 9 } },
      { query: 'range=7d', api: `from=${iso(endOfHour - 7 * DAY)}&to=${iso(endOfHour)}`, counts: { human: 4, qr: 1, bots: 0, total: 4 } },
      { query: 'from=2030-06-05&to=2030-06-13', api: 'from=2030-06-05&to=2030-06-13', counts: { human: 8, qr: 1, bots: 1, total: 9 } },
      { query: 'from=2030-06-06&to=2030-06-12', api: 'from=2030-06-06&to=2030-06-12', counts: { human: 0, qr: 0, bots: 0, total: 0 } },
    ];
    for (const c of cases) {
      const page = await owner.get(`/admin/links/${spring.id}?${c.query}`);
      assert.equal(page.status, 200, c.query);
      const stats = await api(`/api/v1/links/${spring.id}/stats?${c.api}`);
      assert.deepEqual(countsOf(stats), c.counts, `${c.query}: the API`);
      assert.deepEqual(cardsOf(page.text), c.counts, `${c.query}: the cards`);
      assert.equal(chartBars(page.text, 'human'), stats.series.filter((p: { human: number }) => p.human > 0).length, c.query);
      const facets = { referrers: stats.referrers, devices: stats.devices, browsers: stats.browsers, os: stats.os };
      for (const [name, rows] of Object.entries(facets) as [string, { value: string | null; human: number; total: number }[]][]) {
        const expected = rows.map((r) => [r.value ?? (name === 'referrers' ? 'Direct / none' : ''), String(r.human), String(r.total)]);
        assert.deepEqual(tableRows(page.text, `facet-table-${name}`) ?? [], expected, `${c.query}: ${name}`);
      }
    }
    const page = await owner.get(`/admin/links/${spring.id}?range=30d`);
    assert.deepEqual(tableRows(page.text, 'facet-table-referrers'), [['Direct / none', '5', '6'], ['news.ycombinator.com', '3', '3']]);
    assert.ok(tableRows(page.text, 'facet-table-devices')!.some(([device, human]) => device === 'mobile' && human === '3'), 'two phones 10 days ago, one QR scan');

    // Latest clicks: the ten newest of all time, like the API's list.
    const recent = await api(`/api/v1/links/${spring.id}/clicks?limit=10`);
    const times = [...(tableHtml(page.text, 'recent-clicks') ?? '').matchAll(/<time datetime="([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(times, recent.data.map((c: { at: string }) => c.at));
    assert.equal(times.length, 10);
    assert.equal(times[0], iso(NOW - 2 * DAY));
    const kinds = tableRows(page.text, 'recent-clicks')!.map((r) => r[1]);
    assert.equal(kinds.filter((k) => k === 'human QR').length, 1, 'the QR scan is marked');
    assert.equal(kinds.filter((k) => k === 'bot').length, 1, 'the link preview is a bot');
  });

  test('Create QR code: needs the CSRF token, counts the code once, then a preview and downloads that decode to the qrUrl', async () => {
    const before = await owner.get(`/admin/links/${spring.id}`);
    assert.ok(hasCreateForm(before.text, spring.id), 'a Create QR code form before the code exists');
    assert.equal(previewSrc(before.text), undefined, 'no preview yet');
    assert.ok(textOf(before.text, 'qr')!.includes(`The code encodes ${spring.qrUrl}`));
    assert.equal(await qrGeneratedAt(spring.id), null, 'opening the page creates no QR code');
    assert.equal(await qrUsage(), 0);

    const forged = await owner.request('POST', `/admin/links/${spring.id}/qr`, { form: {} });
    assert.equal(forged.status, 403, 'no CSRF token');
    const wrong = await owner.request('POST', `/admin/links/${spring.id}/qr`, { form: { _csrf: 'not-the-token' } });
    assert.equal(wrong.status, 403, 'a wrong CSRF token');
    assert.equal(await qrGeneratedAt(spring.id), null, 'a refused post counts nothing');

    const created = await owner.post(`/admin/links/${spring.id}/qr`, {});
    assert.equal(created.status, 303, created.text);
    assert.equal(created.headers.get('location'), `/admin/links/${spring.id}#qr`);
    assert.equal(await qrGeneratedAt(spring.id), NOW);
    assert.equal(await qrUsage(), 1);
    assert.equal((await owner.post(`/admin/links/${spring.id}/qr`, {})).status, 303);
    assert.equal(await qrUsage(), 1, 'creating it again counts nothing');

    const page = await owner.get(`/admin/links/${spring.id}`);
    assert.ok(!hasCreateForm(page.text, spring.id), 'the form is gone once the code exists');
    const src = previewSrc(page.text);
    assert.ok(src?.startsWith(`/admin/links/${spring.id}/qr?format=svg&`), src);
    const preview = await owner.get(src!);
    assert.equal(preview.status, 200);
    assert.equal(preview.headers.get('content-type'), 'image/svg+xml');
    assert.equal(preview.headers.get('content-disposition'), 'inline; filename="spring-qr.svg"');
    assert.ok(preview.text.includes(`<title>${spring.qrUrl}</title>`), 'the preview encodes the tracked URL');

    const pngHref = downloadHref(page.text, 'PNG')!;
    const png = await fetch(t.url + pngHref, { headers: { cookie: [...owner.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    assert.equal(png.status, 200);
    assert.equal(png.headers.get('content-type'), 'image/png');
    assert.equal(png.headers.get('content-disposition'), 'attachment; filename="spring-qr.png"');
    const image = decodePng(Buffer.from(await png.arrayBuffer()));
    assert.equal(image.text, spring.qrUrl, 'the downloaded PNG scans to the tracked URL');
    assert.deepEqual([image.width, image.height], [512, 512]);
    const etag = png.headers.get('etag');
    assert.match(etag ?? '', /^"[A-Za-z0-9_-]+"$/);
    const again = await owner.get(pngHref, { 'if-none-match': etag! });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
    assert.equal((await owner.get(pngHref, { 'if-none-match': '"something-else"' })).status, 200);

    const svg = await owner.get(downloadHref(page.text, 'SVG')!);
    assert.equal(svg.headers.get('content-disposition'), 'attachment; filename="spring-qr.svg"');
    assert.equal(await qrUsage(), 1, 'downloads are free once the code exists');

    for (const query of ['size=10', 'size=abc', 'format=gif', 'ecc=Z', 'fg=red', 'fg=eeeeee', 'colour=blue']) {
      const res = await owner.get(`/admin/links/${spring.id}/qr?${query}`);
      assert.equal(res.status, 400, query);
    }
  });

  test('the first image of a link counts it as a QR code, like the API', async () => {
    assert.equal(await qrGeneratedAt(menu.id), null);
    const used = await qrUsage();
    clock.set(NOW + 1_000);
    const res = await owner.get(`/admin/links/${menu.id}/qr?format=png&size=256&download=1`);
    clock.set(NOW);
    assert.equal(res.status, 200);
    assert.equal(await qrGeneratedAt(menu.id), NOW + 1_000);
    assert.equal(await qrUsage(), used + 1);
    const page = await owner.get(`/admin/links/${menu.id}`);
    assert.ok(previewSrc(page.text), 'the page shows the code it made');
    assert.ok(!hasCreateForm(page.text, menu.id));
  });

  test('QR options on the page: errors beside the fields (named as the form labels them), values kept, the preview keeps valid defaults', async () => {
    const good = await owner.get(`/admin/links/${spring.id}?size=300&ecc=H&fg=1f2937&bg=fafafa`);
    assert.equal(good.status, 200);
    for (const name of ['size', 'ecc', 'fg', 'bg'] as const) assert.deepEqual(qrField(good.text, name), { invalid: false, message: undefined }, name);
    const goodSrc = new URLSearchParams(previewSrc(good.text)!.split('?')[1]);
    assert.deepEqual([goodSrc.get('size'), goodSrc.get('ecc'), goodSrc.get('fg'), goodSrc.get('bg')], ['300', 'H', '1f2937', 'fafafa']);
    assert.match(good.text, /<input type="color" id="qr-fg" name="fg" value="#1f2937">/);
    const goodImage = await owner.get(previewSrc(good.text)!);
    assert.equal(goodImage.status, 200, 'the preview the page asks for exists');
    assert.match(goodImage.text, /width="300" height="300"/);

    const cases = [
      { query: 'fg=eeeeee', field: 'fg' as const, message: /^Has too little contrast with the background \(/, kept: /<input type="color" id="qr-fg" name="fg" value="#eeeeee">/ },
      { query: 'bg=000000', field: 'fg' as const, message: /^Must be darker than the background: /, kept: /<input type="color" id="qr-bg" name="bg" value="#000000">/ },
      { query: 'fg=red', field: 'fg' as const, message: /^Must be a 6-digit hex colour/, kept: /id="qr-fg" name="fg" value="#red"/ },
      { query: 'bg=white', field: 'bg' as const, message: /^Must be a 6-digit hex colour/, kept: /id="qr-bg" name="bg" value="#white"/ },
      { query: 'size=10', field: 'size' as const, message: /^Must be an integer from 64 to 2048$/, kept: /id="qr-size" name="size" min="64" max="2048" step="1" value="10"/ },
      { query: 'ecc=Z', field: 'ecc' as const, message: /^Must be L, M, Q or H$/, kept: /id="qr-ecc"/ },
    ];
    for (const c of cases) {
      const page = await owner.get(`/admin/links/${spring.id}?${c.query}`);
      assert.equal(page.status, 200, c.query);
      const field = qrField(page.text, c.field);
      assert.ok(field.invalid, `${c.query}: the field is marked`);
      assert.match(field.message ?? '(no message beside the field)', c.message, c.query);
      assert.doesNotMatch(field.message!, /\b(fg|bg|ecc)\b/, `${c.query}: no parameter names`);
      assert.match(page.text, c.kept, `${c.query}: the typed value kept`);
      const src = new URLSearchParams(previewSrc(page.text)!.split('?')[1]);
      assert.deepEqual([src.get('size'), src.get('ecc'), src.get('fg'), src.get('bg')], ['512', 'M', '000000', 'ffffff'], `${c.query}: the preview uses the defaults`);
      assert.equal((await owner.get(previewSrc(page.text)!)).status, 200, `${c.query}: and that preview renders`);
    }
  });

  test('a size scanners cannot read for this link: the smallest that works beside Size, and that one downloads a PNG that decodes', async () => {
    // 2 px per module with the form's 4-module quiet zone; error correction H makes more modules.
    const smallest = 2 * (QRCode.create(spring.qrUrl, { errorCorrectionLevel: 'H' }).modules.size + 8);
    const page = await owner.get(`/admin/links/${spring.id}?size=${smallest - 1}&ecc=H`);
    assert.equal(page.status, 200);
    const size = qrField(page.text, 'size');
    assert.ok(size.invalid, 'the Size field is marked');
    assert.match(size.message ?? '(no message beside Size)', new RegExp(`^Must be at least ${smallest} for this link with margin 4 and error correction H: `));
    assert.match(page.text, new RegExp(`id="qr-size" name="size" min="64" max="2048" step="1" value="${smallest - 1}"`), 'the typed size kept');
    assert.equal(new URLSearchParams(previewSrc(page.text)!.split('?')[1]).get('size'), '512', 'the preview keeps to the defaults');
    assert.equal((await owner.get(`/admin/links/${spring.id}/qr?format=png&size=${smallest - 1}&ecc=H`)).status, 400, 'the image route refuses it too');

    const fits = await owner.get(`/admin/links/${spring.id}?size=${smallest}&ecc=H`);
    assert.deepEqual(qrField(fits.text, 'size'), { invalid: false, message: undefined });
    const png = await fetch(t.url + downloadHref(fits.text, 'PNG')!, { headers: { cookie: [...owner.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    assert.equal(png.status, 200);
    const image = decodePng(Buffer.from(await png.arrayBuffer()));
    assert.deepEqual([image.width, image.text], [smallest, spring.qrUrl], 'the smallest size decodes');
  });

  test('a viewer reads both pages and sees the QR preview, without the Edit link action', async () => {
    const viewer = await new AdminClient(t.url).signIn(VIEWER, PASSWORD, '/admin/analytics');
    const analytics = await viewer.get('/admin/analytics?range=30d');
    assert.equal(analytics.status, 200);
    assert.deepEqual(cardsOf(analytics.text), countsOf(await api('/api/v1/stats?from=2030-05-17&to=2030-06-15')));
    assert.equal(tableRows(analytics.text, 'top-links')?.length, 2);

    const page = await viewer.get(`/admin/links/${spring.id}`);
    assert.equal(page.status, 200);
    assert.deepEqual(cardsOf(page.text), { human: 8, qr: 1, bots: 1, total: 9 });
    assert.ok(previewSrc(page.text), 'the QR preview');
    assert.equal((await viewer.get(previewSrc(page.text)!)).status, 200);
    assert.doesNotMatch(page.text, /Edit link/);
    assert.doesNotMatch(page.text, new RegExp(`href="/admin/links/${spring.id}/edit"`));
    assert.match((await owner.get(`/admin/links/${spring.id}`)).text, new RegExp(`<a class="btn btn-secondary" href="/admin/links/${spring.id}/edit">Edit link</a>`), 'the owner has it');

    // A link without a code yet: the viewer gets no Create button, and the server refuses the POST anyway.
    const fresh = await viewer.get(`/admin/links/${guide.id}`);
    assert.doesNotMatch(fresh.text, /Create QR code/);
    assert.match(fresh.text, /a member of the workspace can create it here/);
    assert.equal((await viewer.post(`/admin/links/${guide.id}/qr`, {})).status, 403);
    assert.equal((await viewer.get(`/admin/links/${guide.id}/qr?format=svg`)).status, 403, 'nor through the image route');
    assert.equal((await t.store.db.row<{ qr_generated_at: number | null }>('select qr_generated_at from links where id = ?', guide.id))!.qr_generated_at, null);
  });

  test('another workspace’s link or a malformed id: 404 on every link route, nothing counted', async () => {
    for (const id of [globexLink.id, 'lnk_short', 'not-a-link', 'lnk_00000000000000000000']) {
      const routes = [
        await owner.get(`/admin/links/${id}`),
        await owner.get(`/admin/links/${id}?range=7d`),
        await owner.get(`/admin/links/${id}/qr?format=svg`),
        await owner.get(`/admin/links/${id}/qr?format=png&download=1`),
        await owner.post(`/admin/links/${id}/qr`, {}),
      ];
      for (const [i, res] of routes.entries()) {
        assert.equal(res.status, 404, `${id} route ${i}`);
        assert.match(res.text, /There is nothing here/, `${id} route ${i}: the 404 page`);
      }
    }
    assert.equal(await qrGeneratedAt(globexLink.id), null, 'the other workspace’s link got no QR code');
  });

  test('a plan with qrCodes: 1: the second link’s Create shows the plan’s message in a flash and counts nothing', async () => {
    await upsertPlan(t.store.db, TEST_OPERATOR, 'One QR', { features: {}, limits: { qrCodes: 1 } }, NOW);
    await createUser(t.store, TEST_OPERATOR, { email: 'kim@example.com', password: PASSWORD, workspace: 'Kiosk' });
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, (await requireWorkspace(t.store, 'Kiosk')).id, 'One QR', NOW);
    const kioskKey = await t.key({ workspace: 'Kiosk' });
    const first = await newLink(kioskKey, 'kiosk-1');
    const second = await newLink(kioskKey, 'kiosk-2');
    const kim = await new AdminClient(t.url).signIn('kim@example.com', PASSWORD);

    const page = await kim.get(`/admin/links/${first.id}`);
    assert.match(textOf(page.text, 'qr')!, /Creating it uses one of the 1 QR codes of the plan\./);
    assert.equal((await kim.post(`/admin/links/${first.id}/qr`, {})).status, 303);
    assert.notEqual(await qrGeneratedAt(first.id), null);

    await kim.get(`/admin/links/${second.id}`);
    const refused = await kim.post(`/admin/links/${second.id}/qr`, {});
    assert.equal(refused.status, 303);
    assert.equal(refused.headers.get('location'), `/admin/links/${second.id}#qr`);
    const back = await kim.get(`/admin/links/${second.id}`);
    const flash = /<div class="flash flash-error" role="alert" data-flash>([\s\S]*?)<\/div>/.exec(back.text);
    assert.ok(flash, 'an error flash');
    assert.equal(plain(flash[1]!), 'The "One QR" plan allows 1 qrCodes; this workspace has 1. Ask the instance admin for a larger plan.');
    assert.ok(hasCreateForm(back.text, second.id), 'still no code for this link');
    assert.equal(await qrGeneratedAt(second.id), null);
    assert.equal(await qrUsage(kioskKey), 1);
    assert.doesNotMatch((await kim.get(`/admin/links/${second.id}`)).text, /flash-error/, 'the flash is shown once');

    const image = await kim.get(`/admin/links/${second.id}/qr?format=png`);
    assert.equal(image.status, 403, 'nor can the image route make one');
    assert.equal(await qrGeneratedAt(second.id), null);
    assert.equal((await kim.get(`/admin/links/${first.id}/qr?format=png&size=1024`)).status, 200, 'the counted code stays free');
  });

  test('a plan without QR codes: the card says so, the image route is 403, Create counts nothing', async () => {
    await upsertPlan(t.store.db, TEST_OPERATOR, 'No QR', { features: { qr: false }, limits: {} }, NOW);
    await createUser(t.store, TEST_OPERATOR, { email: 'pat@example.com', password: PASSWORD, workspace: 'Paper' });
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, (await requireWorkspace(t.store, 'Paper')).id, 'No QR', NOW);
    const paperKey = await t.key({ workspace: 'Paper' });
    const flyer = await newLink(paperKey, 'flyer');
    const pat = await new AdminClient(t.url).signIn('pat@example.com', PASSWORD);

    const page = await pat.get(`/admin/links/${flyer.id}`);
    assert.equal(page.status, 200);
    assert.equal(textOf(page.text, 'qr'), 'QR code The "No QR" plan of this workspace does not include QR codes.');
    assert.ok(!hasCreateForm(page.text, flyer.id));
    assert.equal(previewSrc(page.text), undefined);
    assert.deepEqual(cardsOf(page.text), { human: 0, qr: 0, bots: 0, total: 0 }, 'analytics are still there');

    const image = await pat.get(`/admin/links/${flyer.id}/qr?format=svg`);
    assert.equal(image.status, 403);
    assert.match(plain(image.text), /The "No QR" plan of this workspace does not include qr\./);
    const create = await pat.post(`/admin/links/${flyer.id}/qr`, {});
    assert.equal(create.status, 303);
    assert.match(plain((await pat.get(`/admin/links/${flyer.id}`)).text), /does not include qr\./, 'the refusal as a flash');
    assert.equal(await qrGeneratedAt(flyer.id), null);
  });

  test('a plan without analytics: the Analytics page says so (200, no chart), the link page shows a notice and its QR card', async () => {
    await upsertPlan(t.store.db, TEST_OPERATOR, 'Basic', { features: { analytics: false }, limits: {} }, NOW);
    await createUser(t.store, TEST_OPERATOR, { email: 'quinn@example.com', password: PASSWORD, workspace: 'Quiet' });
    const quiet = (await requireWorkspace(t.store, 'Quiet')).id;
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, quiet, 'Basic', NOW);
    const quietKey = await t.key({ workspace: 'Quiet' });
    const hush = await newLink(quietKey, 'hush');
    await clicks('hush', 0, 2);
    await t.flushClicks();
    const quinn = await new AdminClient(t.url).signIn('quinn@example.com', PASSWORD, '/admin/analytics');

    const analytics = await quinn.get('/admin/analytics?range=7d');
    assert.equal(analytics.status, 200);
    assert.equal(textOf(analytics.text, 'empty-analytics'), 'Analytics are not part of this plan');
    assert.match(plain(analytics.text), /The "Basic" plan of this workspace does not include analytics\. Clicks are still counted on each link/);
    assert.doesNotMatch(analytics.text, /chart-card|id="stat-human"|id="top-links"/);

    const page = await quinn.get(`/admin/links/${hush.id}`);
    assert.equal(page.status, 200);
    assert.match(plain(page.text), /The "Basic" plan of this workspace does not include analytics\. The link still counts its human clicks: 2 in all\./);
    assert.doesNotMatch(page.text, /chart-card|id="stat-human"|id="facet-table-|id="recent-clicks"/);
    assert.ok(hasCreateForm(page.text, hush.id), 'QR codes are still part of the plan');
    assert.equal((await quinn.post(`/admin/links/${hush.id}/qr`, {})).status, 303);
    assert.notEqual(await qrGeneratedAt(hush.id), null);
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, quiet, 'default', NOW);
    assert.deepEqual(cardsOf((await quinn.get(`/admin/links/${hush.id}`)).text), { human: 2, qr: 0, bots: 0, total: 2 }, 'the clicks were recorded all along');
  });
});

describe('admin analytics presets when the clock is on a whole hour', () => {
  const ON_THE_HOUR = Date.UTC(2030, 5, 15, 14);
  const clock = fakeClock(ON_THE_HOUR);
  let t: TestServer;

  before(async () => {
    t = await startTestServer({ clock });
  });
  after(() => t.close());

  test('a click made right now counts in the last 24 hours and 7 days, as in the last 30 days', async () => {
    await createUser(t.store, TEST_OPERATOR, { email: OWNER, password: PASSWORD, workspace: 'Acme' });
    const key = await t.key({ workspace: 'Acme' });
    const link = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/now', slug: 'now' } })).json as ApiLink;
    assert.equal((await t.request('GET', '/now', { headers: { 'user-agent': DESKTOP } })).status, 302);
    await t.flushClicks();
    const owner = await new AdminClient(t.url).signIn(OWNER, PASSWORD, '/admin/analytics');
    for (const range of ['30d', '24h', '7d']) {
      assert.equal(cardValue((await owner.get(`/admin/analytics?range=${range}`)).text, 'human'), 1, `analytics, ${range}`);
      assert.equal(cardValue((await owner.get(`/admin/links/${link.id}?range=${range}`)).text, 'human'), 1, `link page, ${range}`);
    }
  });
});
