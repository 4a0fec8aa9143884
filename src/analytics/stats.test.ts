import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { fakeClock, type HttpResult, startTestServer, TEST_BACKEND, tempDataDir, TEST_OPERATOR, type TestServer } from '../testing/harness.js';
import { createTestDatabase } from '../testing/postgres.js';
import { setWorkspacePlan, upsertPlan } from '../workspaces/plans.js';
import { findWorkspaceByName } from '../workspaces/workspaces.repo.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const ms = (isoTime: string) => {
  const t = Date.parse(isoTime);
  assert.ok(!Number.isNaN(t), isoTime);
  return t;
};
const iso = (t: number) => new Date(t).toISOString();

/** Agents and the device, browser and OS each must be counted under. */
const AGENTS = {
  chromeWindows: {
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
    device: 'desktop', browser: 'Chrome', os: 'Windows',
  },
  firefoxWindows: {
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0',
    device: 'desktop', browser: 'Firefox', os: 'Windows',
  },
  firefoxLinux: {
    ua: 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
    device: 'desktop', browser: 'Firefox', os: 'Linux',
  },
  safariMac: {
    ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
    device: 'desktop', browser: 'Safari', os: 'macOS',
  },
  iphone: {
    ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    device: 'mobile', browser: 'Safari', os: 'iOS',
  },
  android: {
    ua: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
    device: 'mobile', browser: 'Chrome', os: 'Android',
  },
  ipad: {
    ua: 'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    device: 'tablet', browser: 'Safari', os: 'iOS',
  },
  googlebot: { ua: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', device: 'bot', browser: 'Googlebot', os: 'Other' },
  slackbot: { ua: 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)', device: 'bot', browser: 'Slackbot', os: 'Other' },
  facebook: { ua: 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)', device: 'bot', browser: 'facebookexternalhit', os: 'Other' },
  twitterbot: { ua: 'Twitterbot/1.0', device: 'bot', browser: 'Twitterbot', os: 'Other' },
  curl: { ua: 'curl/8.5.0', device: 'bot', browser: 'curl', os: 'Other' },
} as const;
type AgentName = keyof typeof AGENTS;
const BROWSER_AGENTS: AgentName[] = ['chromeWindows', 'firefoxWindows', 'firefoxLinux', 'safariMac', 'iphone', 'android', 'ipad'];
const BOT_AGENTS: AgentName[] = ['googlebot', 'slackbot', 'facebook', 'twitterbot', 'curl'];

/** One request to a short URL. No agent means no user-agent header at all. */
interface Visit {
  method?: 'GET' | 'HEAD';
  agent?: AgentName;
  qr?: boolean;
  referer?: string;
  /** The client address, sent in X-Forwarded-For (the servers here trust loopback proxies). */
  client?: string;
}

/** Referrers and the site each should be counted under. */
const REFERRERS: { url: string; host: string | null }[] = [
  { url: 'https://www.google.com/search?q=linkqr', host: 'google.com' },
  { url: 'https://Google.com/', host: 'google.com' },
  { url: 'https://news.ycombinator.com/item?id=1', host: 'news.ycombinator.com' },
  { url: 'https://t.co/abc', host: 't.co' },
  { url: 'android-app://com.slack/', host: null },
];
const hostOf = (referer: string | undefined) => (referer === undefined ? null : REFERRERS.find((r) => r.url === referer)!.host);

/** What a visit must be counted as: the test's own oracle, independent of the classifier. */
function expectedClass(v: Visit) {
  const agent = v.agent && AGENTS[v.agent];
  const bot = v.method === 'HEAD' || !agent || agent.device === 'bot';
  return {
    bot,
    qr: v.qr === true,
    device: bot ? 'bot' : agent!.device,
    browser: agent?.browser ?? 'Other',
    os: agent?.os ?? 'Other',
    referrer: hostOf(v.referer),
  };
}

/** Plain node:http, so that a request can go without any user-agent header (fetch always sends one). */
function visit(base: string, slug: string, v: Visit): Promise<number> {
  const headers: Record<string, string> = {};
  if (v.agent) headers['user-agent'] = AGENTS[v.agent].ua;
  if (v.referer) headers.referer = v.referer;
  if (v.client) headers['x-forwarded-for'] = v.client;
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/${slug}${v.qr ? '?qr=1' : ''}`, { method: v.method ?? 'GET', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

function assertProblem(res: HttpResult, status: number, code: string, fields?: string[]) {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json\b/);
  assert.equal(res.json.status, status);
  assert.equal(res.json.code, code, res.text);
  for (const k of ['type', 'title', 'detail']) assert.equal(typeof res.json[k], 'string', `problem has ${k}`);
  if (fields) {
    assert.ok(Array.isArray(res.json.errors), res.text);
    assert.deepEqual([...new Set(res.json.errors.map((e: { field: string }) => e.field))].sort(), [...fields].sort(), res.text);
  }
  return res.json;
}

const qs = (params: Record<string, string>) => {
  const s = new URLSearchParams(params).toString();
  return s ? `?${s}` : '';
};

interface FacetCount {
  value: string | null;
  total: number;
  human: number;
}
interface SeriesPoint {
  t: string;
  total: number;
  human: number;
  qr: number;
}
interface LinkStats {
  linkId: string;
  from: string;
  to: string;
  interval: 'hour' | 'day';
  total: number;
  human: number;
  bots: number;
  qr: number;
  series: SeriesPoint[];
  referrers: FacetCount[];
  devices: FacetCount[];
  browsers: FacetCount[];
  os: FacetCount[];
  countries: FacetCount[];
}
const LINK_STATS_FIELDS = ['bots', 'browsers', 'countries', 'devices', 'from', 'human', 'interval', 'linkId', 'os', 'qr', 'referrers', 'series', 'to', 'total'];

/** One server with a fake clock; clicks are made by real requests at chosen instants. */
class Bench {
  t!: TestServer;
  key!: string;
  readonly clock = fakeClock(Date.UTC(2030, 0, 1));

  async start(opts: { dataDir?: string; env?: Record<string, string> } = {}) {
    this.t = await startTestServer({ clock: this.clock, dataDir: opts.dataDir, env: { LINKQR_TRUST_PROXY: 'loopback', ...opts.env } });
    this.key = await this.t.key();
  }

  async link(key = this.key, title: string | null = null): Promise<{ id: string; slug: string; url: string; title: string | null }> {
    const res = await this.t.request('POST', '/api/v1/links', { key, body: { url: `https://example.com/${Math.random()}`, title } });
    assert.equal(res.status, 201, res.text);
    return res.json;
  }

  async click(slug: string, at: number, v: Visit = { agent: 'chromeWindows' }) {
    this.clock.set(at);
    const status = await visit(this.t.url, slug, v);
    assert.equal(status, 302, `visit of /${slug} at ${iso(at)}`);
  }

  get(path: string, key = this.key) {
    return this.t.request('GET', path, { key });
  }

  async stats(linkId: string, params: Record<string, string>, key = this.key): Promise<LinkStats> {
    const res = await this.get(`/api/v1/links/${linkId}/stats${qs(params)}`, key);
    assert.equal(res.status, 200, `${JSON.stringify(params)}: ${res.text}`);
    return res.json;
  }
}

/** Every facet value with its counts, in an order that does not depend on how ties are broken. */
const byValue = (list: FacetCount[]) => [...list].sort((a, b) => String(a.value).localeCompare(String(b.value)));

function assertRanked(list: FacetCount[], what: string) {
  for (let i = 1; i < list.length; i++) assert.ok(list[i - 1]!.total >= list[i]!.total, `${what} is ordered by total: ${JSON.stringify(list)}`);
}

/** Hour buckets of one day with these non-zero points. */
function hourSeries(day: number, points: Record<number, [total: number, human: number, qr: number]>): SeriesPoint[] {
  return Array.from({ length: 24 }, (_, h) => {
    const [total, human, qr] = points[h] ?? [0, 0, 0];
    return { t: iso(day + h * HOUR), total, human, qr };
  });
}

describe('link stats: a known mix of clicks', () => {
  const bench = new Bench();
  let link: { id: string; slug: string };
  const day = ms('2030-03-10T00:00:00Z');
  const at = (hhmmss: string) => ms(`2030-03-10T${hhmmss}Z`);

  before(async () => {
    await bench.start();
    link = await bench.link();
    const mix: [string, Visit][] = [
      ['09:10:00', { agent: 'chromeWindows', referer: 'https://www.google.com/search?q=linkqr' }],
      ['09:20:00', { agent: 'chromeWindows', referer: 'https://news.ycombinator.com/item?id=1' }],
      ['09:30:00', { agent: 'firefoxWindows', referer: 'https://Google.com/' }],
      // Public addresses whose country the shipped IP database knows (Deutsche Telekom, Google).
      ['10:00:00.000', { agent: 'iphone', qr: true, client: '194.25.2.129' }],
      ['10:15:00.000', { agent: 'iphone', qr: true, client: '194.25.2.129' }],
      ['10:30:00', { agent: 'android', qr: true, client: '8.8.8.8' }],
      ['10:45:00', { agent: 'ipad', referer: 'android-app://com.slack/', client: '2003::1' }],
      ['10:59:59.999', { agent: 'safariMac', referer: 'https://www.google.com/search?q=linkqr' }],
      ['11:05:00', { method: 'HEAD', agent: 'chromeWindows' }],
      ['11:10:00', { agent: 'googlebot' }],
      ['11:20:00', { agent: 'slackbot', referer: 'https://app.slack.com/client' }],
      ['11:30:00', { agent: 'facebook' }],
      ['11:35:00', { agent: 'facebook' }],
      ['11:40:00', {}],
      ['11:50:00', { agent: 'twitterbot', referer: 'https://t.co/abc' }],
    ];
    for (const [time, v] of mix) await bench.click(link.slug, at(time), v);
    await bench.t.flushClicks();
  });
  after(() => bench.t.close());

  // 8 human clicks (09:10–10:59), then 7 bots: HEAD, crawler, previews, no agent.
  const totals = { total: 15, human: 8, bots: 7, qr: 3 };
  const referrers = [
    { value: null, total: 9, human: 4 },
    { value: 'google.com', total: 3, human: 3 },
    { value: 'app.slack.com', total: 1, human: 0 },
    { value: 'news.ycombinator.com', total: 1, human: 1 },
    { value: 't.co', total: 1, human: 0 },
  ];
  const devices = [
    { value: 'bot', total: 7, human: 0 },
    { value: 'desktop', total: 4, human: 4 },
    { value: 'mobile', total: 3, human: 3 },
    { value: 'tablet', total: 1, human: 1 },
  ];
  const browsers = [
    { value: 'Chrome', total: 4, human: 3 }, // the HEAD request with a Chrome agent is a bot, still Chrome
    { value: 'Safari', total: 4, human: 4 },
    { value: 'facebookexternalhit', total: 2, human: 0 },
    { value: 'Firefox', total: 1, human: 1 },
    { value: 'Googlebot', total: 1, human: 0 },
    { value: 'Other', total: 1, human: 0 },
    { value: 'Slackbot', total: 1, human: 0 },
    { value: 'Twitterbot', total: 1, human: 0 },
  ];
  const countries = [
    { value: null, total: 11, human: 4 },
    { value: 'DE', total: 3, human: 3 },
    { value: 'US', total: 1, human: 1 },
  ];
  const os = [
    { value: 'Other', total: 6, human: 0 },
    { value: 'Windows', total: 4, human: 3 },
    { value: 'iOS', total: 3, human: 3 },
    { value: 'Android', total: 1, human: 1 },
    { value: 'macOS', total: 1, human: 1 },
  ];

  test('the whole day, hour by hour (all from the rollups): exact totals, series and facet tables', async () => {
    const s = await bench.stats(link.id, { from: '2030-03-10', to: '2030-03-10', interval: 'hour' });
    assert.deepEqual(Object.keys(s).sort(), LINK_STATS_FIELDS);
    assert.deepEqual(s, {
      linkId: link.id,
      from: '2030-03-10T00:00:00.000Z',
      to: '2030-03-11T00:00:00.000Z',
      interval: 'hour',
      ...totals,
      series: hourSeries(day, { 9: [3, 3, 0], 10: [5, 5, 3], 11: [7, 0, 0] }),
      referrers,
      devices,
      browsers,
      os,
      countries,
    });
  });

  test('a range starting and ending inside hours (raw clicks at the edges) gives the same numbers', async () => {
    const s = await bench.stats(link.id, { from: '2030-03-10T09:05:00.000Z', to: '2030-03-10T11:55:00.000Z' });
    assert.equal(s.interval, 'hour', 'a range of 3 hours defaults to hours');
    assert.deepEqual({ from: s.from, to: s.to }, { from: '2030-03-10T09:05:00.000Z', to: '2030-03-10T11:55:00.000Z' });
    assert.deepEqual({ total: s.total, human: s.human, bots: s.bots, qr: s.qr }, totals);
    assert.deepEqual(s.series, [
      { t: '2030-03-10T09:00:00.000Z', total: 3, human: 3, qr: 0 },
      { t: '2030-03-10T10:00:00.000Z', total: 5, human: 5, qr: 3 },
      { t: '2030-03-10T11:00:00.000Z', total: 7, human: 0, qr: 0 },
    ]);
    assert.deepEqual({ referrers: s.referrers, devices: s.devices, browsers: s.browsers, os: s.os, countries: s.countries }, { referrers, devices, browsers, os, countries });
  });

  test('by day, with empty days around', async () => {
    const s = await bench.stats(link.id, { from: '2030-03-09', to: '2030-03-11', interval: 'day' });
    assert.deepEqual(s.series, [
      { t: '2030-03-09T00:00:00.000Z', total: 0, human: 0, qr: 0 },
      { t: '2030-03-10T00:00:00.000Z', total: 15, human: 8, qr: 3 },
      { t: '2030-03-11T00:00:00.000Z', total: 0, human: 0, qr: 0 },
    ]);
    assert.deepEqual({ total: s.total, human: s.human, bots: s.bots, qr: s.qr }, totals);
    const sum = (k: 'total' | 'human' | 'qr') => s.series.reduce((n, p) => n + p[k], 0);
    assert.deepEqual({ total: sum('total'), human: sum('human'), qr: sum('qr') }, { total: 15, human: 8, qr: 3 });
  });

  test('a range cutting through hours counts exactly the clicks inside it', async () => {
    // [10:15:00.000, 11:20:00.000): the iPhone at 10:15 is in, the Slackbot at 11:20 is out.
    const s = await bench.stats(link.id, { from: '2030-03-10T10:15:00.000Z', to: '2030-03-10T11:20:00.000Z' });
    assert.deepEqual({ total: s.total, human: s.human, bots: s.bots, qr: s.qr }, { total: 6, human: 4, bots: 2, qr: 2 });
    assert.deepEqual(s.series, [
      { t: '2030-03-10T10:00:00.000Z', total: 4, human: 4, qr: 2 },
      { t: '2030-03-10T11:00:00.000Z', total: 2, human: 0, qr: 0 },
    ]);
    assert.deepEqual(s.devices, [
      { value: 'bot', total: 2, human: 0 },
      { value: 'mobile', total: 2, human: 2 },
      { value: 'desktop', total: 1, human: 1 },
      { value: 'tablet', total: 1, human: 1 },
    ]);
    assert.deepEqual(s.referrers, [
      { value: null, total: 5, human: 3 },
      { value: 'google.com', total: 1, human: 1 },
    ]);
  });

  test('without from/to: the 30 days up to the end of today (UTC), by day', async () => {
    bench.clock.set(ms('2030-03-20T15:30:00.250Z'));
    const s = await bench.stats(link.id, {});
    assert.deepEqual({ from: s.from, to: s.to, interval: s.interval }, { from: '2030-02-19T00:00:00.000Z', to: '2030-03-21T00:00:00.000Z', interval: 'day' });
    assert.equal(s.series.length, 30, 'thirty whole days');
    assert.equal(s.series[0]!.t, '2030-02-19T00:00:00.000Z');
    assert.deepEqual(s.series.find((p) => p.t === '2030-03-10T00:00:00.000Z'), { t: '2030-03-10T00:00:00.000Z', total: 15, human: 8, qr: 3 });
    assert.deepEqual({ total: s.total, human: s.human, bots: s.bots, qr: s.qr }, totals);
  });

  test('facet tables list the top 10 values by total', async () => {
    const many = await bench.link();
    const hosts = Array.from({ length: 12 }, (_, i) => `h${String(i + 1).padStart(2, '0')}.example`);
    const referred = [...hosts, 'h12.example', 'h12.example'];
    for (const [i, host] of referred.entries()) await bench.click(many.slug, at('12:00:00') + i, { agent: 'firefoxLinux', referer: `https://${host}/` });
    await bench.t.flushClicks();
    for (const params of [{ from: '2030-03-10', to: '2030-03-10' }, { from: '2030-03-10T11:59:00Z', to: '2030-03-10T12:01:00Z' }]) {
      const s = await bench.stats(many.id, params);
      assert.equal(s.total, 14);
      assert.deepEqual(s.referrers, [
        { value: 'h12.example', total: 3, human: 3 },
        ...hosts.slice(0, 9).map((value) => ({ value, total: 1, human: 1 })),
      ]);
      assert.deepEqual(s.browsers, [{ value: 'Firefox', total: 14, human: 14 }]);
    }
  });

  test('the default interval is hours up to 3 days, days beyond', async () => {
    const three = await bench.stats(link.id, { from: '2030-03-08', to: '2030-03-10' });
    assert.equal(three.interval, 'hour');
    assert.equal(three.series.length, 72);
    const four = await bench.stats(link.id, { from: '2030-03-08T00:00:00Z', to: '2030-03-11T00:00:00.001Z' });
    assert.equal(four.interval, 'day');
    assert.equal(four.series.length, 4);
  });
});

describe('link stats: UTC day and hour boundaries to the millisecond', () => {
  const bench = new Bench();
  let link: { id: string; slug: string };
  const clicks = {
    lastOfMarch: ms('2030-03-31T23:59:59.999Z'),
    firstOfApril: ms('2030-04-01T00:00:00.000Z'),
    quarterPast: ms('2030-04-01T10:15:00.000Z'),
    quarterPastAndOne: ms('2030-04-01T10:15:00.001Z'),
    lastOfApril1: ms('2030-04-01T23:59:59.999Z'),
    firstOfApril2: ms('2030-04-02T00:00:00.000Z'),
  };

  before(async () => {
    await bench.start();
    link = await bench.link();
    for (const at of Object.values(clicks)) await bench.click(link.slug, at);
    await bench.t.flushClicks();
  });
  after(() => bench.t.close());

  const count = async (params: Record<string, string>) => (await bench.stats(link.id, params)).total;

  test('23:59:59.999 and 00:00:00.000 land in their own days and hours', async () => {
    const march31 = await bench.stats(link.id, { from: '2030-03-31', to: '2030-03-31', interval: 'hour' });
    assert.deepEqual(march31.series, hourSeries(ms('2030-03-31T00:00:00Z'), { 23: [1, 1, 0] }));
    const april1 = await bench.stats(link.id, { from: '2030-04-01', to: '2030-04-01', interval: 'hour' });
    assert.deepEqual(april1.series, hourSeries(ms('2030-04-01T00:00:00Z'), { 0: [1, 1, 0], 10: [2, 2, 0], 23: [1, 1, 0] }));
    assert.equal(april1.total, 4);
    const days = await bench.stats(link.id, { from: '2030-03-31', to: '2030-04-02', interval: 'day' });
    assert.deepEqual(
      days.series.map((p) => [p.t, p.total]),
      [['2030-03-31T00:00:00.000Z', 1], ['2030-04-01T00:00:00.000Z', 4], ['2030-04-02T00:00:00.000Z', 1]],
    );
  });

  test('a date as `to` includes that whole day; a time as `to` is exclusive', async () => {
    assert.equal(await count({ from: '2030-04-01', to: '2030-04-01' }), 4);
    assert.equal(await count({ from: '2030-03-31T23:59:59.999Z', to: '2030-04-01T00:00:00.000Z' }), 1);
    assert.equal(await count({ from: '2030-03-31T23:59:59.999Z', to: '2030-04-01T00:00:00.001Z' }), 2);
    assert.equal(await count({ from: '2030-04-01T00:00:00.000Z', to: '2030-04-01T23:59:59.999Z' }), 3);
    const s = await bench.stats(link.id, { from: '2030-04-01T10:15:00.001Z', to: '2030-04-02' });
    assert.deepEqual({ total: s.total, to: s.to }, { total: 3, to: '2030-04-03T00:00:00.000Z' });
  });

  test('from and to at arbitrary milliseconds inside an hour', async () => {
    assert.equal(await count({ from: '2030-04-01T10:15:00.001Z', to: '2030-04-01T10:15:00.002Z' }), 1, 'only the click at .001');
    assert.equal(await count({ from: '2030-04-01T10:15:00.000Z', to: '2030-04-01T10:15:00.001Z' }), 1, 'only the click at .000');
    assert.equal(await count({ from: '2030-04-01T10:15:00.000Z', to: '2030-04-01T10:15:00.002Z' }), 2);
    assert.equal(await count({ from: '2030-04-01T10:14:59.999Z', to: '2030-04-01T10:15:00.000Z' }), 0);
    assert.equal(await count({ from: '2030-04-01T10:15:00.002Z', to: '2030-04-01T23:59:59.999Z' }), 0);
    // Everything but the first millisecond of the day: the click at 00:00:00.000 is out.
    assert.equal(await count({ from: '2030-04-01T00:00:00.001Z', to: '2030-04-02T00:00:00.000Z' }), 3);
    const single = await bench.stats(link.id, { from: '2030-04-01T10:15:00.001Z', to: '2030-04-01T10:15:00.002Z' });
    assert.deepEqual(single.series, [{ t: '2030-04-01T10:00:00.000Z', total: 1, human: 1, qr: 0 }]);
  });

  test('times with an offset are read in their zone and answered in UTC', async () => {
    // 00:00Z to 22:00Z on 1 April: the click at midnight and the two at 10:15.
    const s = await bench.stats(link.id, { from: '2030-04-01T01:00:00+01:00', to: '2030-04-02T00:00:00+02:00' });
    assert.deepEqual({ from: s.from, to: s.to, total: s.total }, { from: '2030-04-01T00:00:00.000Z', to: '2030-04-01T22:00:00.000Z', total: 3 });
  });
});

/** A tiny seeded PRNG (mulberry32): the same clicks and ranges on every run. */
function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface MadeClick extends ReturnType<typeof expectedClass> {
  linkId: string;
  at: number;
}

/** Counts the clicks of a link in [from, to) the slow, obvious way. */
function bruteForce(clicks: MadeClick[], linkId: string, from: number, to: number, interval: 'hour' | 'day') {
  const step = interval === 'hour' ? HOUR : DAY;
  const first = Math.floor(from / step) * step;
  const series: SeriesPoint[] = [];
  for (let t = first; t < to; t += step) series.push({ t: iso(t), total: 0, human: 0, qr: 0 });
  const facets = { referrers: new Map<string | null, FacetCount>(), devices: new Map(), browsers: new Map(), os: new Map() };
  const inRange = clicks.filter((c) => c.linkId === linkId && c.at >= from && c.at < to);
  for (const c of inRange) {
    const p = series[Math.floor((c.at - first) / step)]!;
    p.total++;
    if (!c.bot) p.human++;
    if (c.qr) p.qr++;
    for (const [facet, value] of [['referrers', c.referrer], ['devices', c.device], ['browsers', c.browser], ['os', c.os]] as const) {
      const m = facets[facet] as Map<string | null, FacetCount>;
      const f = m.get(value) ?? { value, total: 0, human: 0 };
      f.total++;
      if (!c.bot) f.human++;
      m.set(value, f);
    }
  }
  const human = inRange.filter((c) => !c.bot).length;
  return {
    total: inRange.length,
    human,
    bots: inRange.length - human,
    qr: inRange.filter((c) => c.qr).length,
    series,
    referrers: [...facets.referrers.values()],
    devices: [...facets.devices.values()],
    browsers: [...facets.browsers.values()],
    os: [...facets.os.values()],
  };
}

/**
 * The database a restarted server finds again: on SQLite the data dir holds it; on PostgreSQL
 * (LINKQR_TEST_BACKEND=postgres) it is made here, since the harness drops a server's own with it.
 * `env` is for every start; drop() after the last.
 */
async function lastingDatabase(): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  if (TEST_BACKEND !== 'postgres') return { env: {}, drop: async () => {} };
  const database = await createTestDatabase();
  return { env: { LINKQR_DATABASE_URL: database.url }, drop: () => database.drop() };
}

describe('link stats: seeded random clicks against a brute-force count', () => {
  const dataDir = tempDataDir();
  let database: Awaited<ReturnType<typeof lastingDatabase>> | undefined;
  const bench = new Bench();
  const start = ms('2030-05-01T00:00:00Z');
  const end = start + 5 * DAY;
  const made: MadeClick[] = [];
  const links: { id: string; slug: string }[] = [];
  const random = mulberry32(20_300_501);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;

  // No click at these midnights or the ms before them: there, whole days can be compared with ranges 1 ms wider.
  const quietMidnights = [start + DAY, start + 3 * DAY, end];
  const quiet = (t: number) => quietMidnights.some((m) => t === m || t === m - 1);
  /** Times that stress the edges: exact hours and days, the ms before them, and repeats of one ms. */
  const edgyInstant = () => {
    const r = random();
    const anyMs = start + Math.floor(random() * (end - start));
    if (r < 0.55 || made.length === 0) return anyMs;
    const hour = Math.floor(anyMs / HOUR) * HOUR;
    if (r < 0.65) return hour;
    if (r < 0.75) return hour + HOUR - 1;
    if (r < 0.8) return Math.floor(anyMs / DAY) * DAY;
    if (r < 0.85) return Math.floor(anyMs / DAY) * DAY - 1;
    return pick(made).at;
  };
  const randomInstant = () => {
    for (;;) {
      const at = edgyInstant();
      if (!quiet(at)) return at;
    }
  };
  const randomVisit = (): Visit => {
    const r = random();
    const referer = random() < 0.6 ? pick(REFERRERS).url : undefined;
    if (r < 0.1) return { method: 'HEAD', agent: pick(BROWSER_AGENTS), referer };
    if (r < 0.15) return { referer };
    if (r < 0.35) return { agent: pick(BOT_AGENTS), referer };
    // Only browsers arrive through the QR URL here: whether a bot's fetch of it counts as a scan is not pinned.
    return { agent: pick(BROWSER_AGENTS), qr: random() < 0.3, referer };
  };

  before(async () => {
    database = await lastingDatabase();
    await bench.start({ dataDir, env: database.env });
    links.push(await bench.link(), await bench.link());
    const count = 300 + Math.floor(random() * 300);
    for (let i = 0; i < count; i++) {
      const link = pick(links);
      const at = randomInstant();
      const v = randomVisit();
      await bench.click(link.slug, at, v);
      made.push({ linkId: link.id, at, ...expectedClass(v) });
    }
    await bench.t.flushClicks();
  });
  after(async () => {
    await bench.t?.close();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A bound as sent (ISO with ms, or a date) and the instant it means. */
  const randomBound = (end: boolean): { text: string; at: number } => {
    const r = random();
    const anyMs = start - 6 * HOUR + Math.floor(random() * (5 * DAY + 12 * HOUR));
    if (r < 0.1) {
      const day = Math.floor(anyMs / DAY) * DAY;
      return { text: iso(day).slice(0, 10), at: end ? day + DAY : day };
    }
    let at = anyMs;
    if (r < 0.3) at = Math.floor(anyMs / HOUR) * HOUR;
    else if (r < 0.6) at = pick(made).at + pick([-1, 0, 0, 1]);
    return { text: iso(at), at };
  };
  const randomRanges = (n: number) => {
    const ranges: { from: { text: string; at: number }; to: { text: string; at: number } }[] = [];
    while (ranges.length < n) {
      const from = randomBound(false);
      // A quarter are short: a few ms to a few hours, mostly inside one hour or across one edge.
      const short = from.at + 1 + Math.floor(random() * pick([10, 1_000, HOUR, 3 * HOUR]));
      const to = random() < 0.25 ? { text: iso(short), at: short } : randomBound(true);
      if (from.at < to.at) ranges.push({ from, to });
    }
    return ranges;
  };

  test('made a few hundred clicks of every kind', () => {
    assert.ok(made.length >= 300 && made.length < 600);
    for (const link of links) assert.ok(made.filter((c) => c.linkId === link.id).length > 100);
    assert.ok(made.some((c) => c.bot) && made.some((c) => !c.bot) && made.some((c) => c.qr));
    assert.ok(made.some((c, i) => made.findIndex((d) => d.at === c.at) !== i), 'some clicks share a millisecond');
  });

  test('every number of ~40 random ranges, by hour and by day, equals the brute-force count', async () => {
    for (const { from, to } of randomRanges(40)) {
      for (const link of links) {
        for (const interval of ['hour', 'day'] as const) {
          const what = `${link.id} ${from.text}..${to.text} by ${interval}`;
          const s = await bench.stats(link.id, { from: from.text, to: to.text, interval });
          const expected = bruteForce(made, link.id, from.at, to.at, interval);
          assert.deepEqual({ from: s.from, to: s.to, interval: s.interval }, { from: iso(from.at), to: iso(to.at), interval }, what);
          assert.deepEqual(
            { total: s.total, human: s.human, bots: s.bots, qr: s.qr },
            { total: expected.total, human: expected.human, bots: expected.bots, qr: expected.qr },
            what,
          );
          assert.deepEqual(s.series, expected.series, what);
          for (const facet of ['referrers', 'devices', 'browsers', 'os'] as const) {
            assert.ok(expected[facet].length <= 10, 'every value fits in the top 10');
            assert.deepEqual(byValue(s[facet]), byValue(expected[facet]), `${what}: ${facet}`);
            assertRanked(s[facet], `${what}: ${facet}`);
          }
        }
      }
    }
  });

  test('whole days and hours (rollups) and the same range 1 ms wider (raw edges) agree when that ms has no click', async () => {
    const candidates: { link: { id: string }; from: number; to: number; unit: number }[] = [];
    for (const link of links) {
      for (let from = start; from < end; from += DAY) {
        for (let to = from + DAY; to <= end; to += DAY) candidates.push({ link, from, to, unit: DAY });
      }
      for (let i = 0; i < 60; i++) {
        const from = start + Math.floor(random() * 110) * HOUR;
        candidates.push({ link, from, to: from + (1 + Math.floor(random() * 30)) * HOUR, unit: HOUR });
      }
    }
    const compared = new Map([[DAY, 0], [HOUR, 0]]);
    for (const { link, from, to, unit } of candidates) {
      const clicksIn = (a: number, b: number) => made.filter((c) => c.linkId === link.id && c.at >= a && c.at < b).length;
      if (compared.get(unit)! >= 8 || clicksIn(from - 1, from) + clicksIn(to, to + 1) > 0 || clicksIn(from, to) === 0) continue;
      const aligned = await bench.stats(link.id, { from: iso(from), to: iso(to), interval: 'hour' });
      const wider = await bench.stats(link.id, { from: iso(from - 1), to: iso(to + 1), interval: 'hour' });
      assert.equal(aligned.total, clicksIn(from, to));
      const { from: _f, to: _t, series, ...rest } = aligned;
      const { from: _wf, to: _wt, series: wideSeries, ...wideRest } = wider;
      // One more bucket in front (the hour holding from − 1 ms) and one at the end (to + 1 ms), both empty.
      assert.deepEqual(wideSeries[0], { t: iso(from - HOUR), total: 0, human: 0, qr: 0 });
      assert.deepEqual(wideSeries.at(-1), { t: iso(to), total: 0, human: 0, qr: 0 });
      assert.deepEqual(wideSeries.slice(1, -1), series);
      assert.deepEqual(wideRest, rest);
      compared.set(unit, compared.get(unit)! + 1);
    }
    assert.ok(compared.get(DAY)! >= 3 && compared.get(HOUR)! >= 8, `compared ${JSON.stringify([...compared])}`);
  });

  test('after a restart the rollups answer the same', async () => {
    const ranges = randomRanges(5);
    const before = [];
    for (const r of ranges) before.push(await bench.stats(links[0]!.id, { from: r.from.text, to: r.to.text }));
    await bench.t.close();
    await bench.start({ dataDir, env: database!.env });
    for (const [i, r] of ranges.entries()) assert.deepEqual(await bench.stats(links[0]!.id, { from: r.from.text, to: r.to.text }), before[i]);
  });
});

describe('workspace stats summary', () => {
  const bench = new Bench();
  let key: string;
  let l1: Awaited<ReturnType<Bench['link']>>;
  let l2: typeof l1;
  let l3: typeof l1;
  let deleted: typeof l1;
  const summary = async (params: Record<string, string>) => {
    const res = await bench.get(`/api/v1/stats${qs(params)}`, key);
    assert.equal(res.status, 200, res.text);
    return res.json;
  };
  const listed = (link: typeof l1) => ({ id: link.id, slug: link.slug, shortUrl: `${bench.t.url}/${link.slug}`, title: link.title, url: link.url });
  const human: Visit = { agent: 'chromeWindows' };
  // From an address the shipped IP database places in Germany.
  const qrScan: Visit = { agent: 'iphone', qr: true, client: '194.25.2.129' };
  const crawler: Visit = { agent: 'googlebot' };

  before(async () => {
    await bench.start();
    key = await bench.t.key({ workspace: 'Summary' });
    [l1, l2, l3, deleted] = [await bench.link(key, 'One'), await bench.link(key, 'Two'), await bench.link(key), await bench.link(key, 'Gone')];
    // Clicks of another workspace must not show up here.
    const elsewhere = await bench.link();
    await bench.click(elsewhere.slug, ms('2030-06-01T10:05:00Z'));

    const clicks: [string, typeof l1, Visit][] = [
      ['2030-06-01T10:10:00Z', l1, human],
      ['2030-06-01T10:20:00Z', l1, crawler],
      ['2030-06-01T10:30:00Z', l2, qrScan],
      ['2030-06-01T23:59:59.999Z', deleted, human],
      ['2030-06-01T23:59:59.999Z', deleted, human],
      ['2030-06-02T00:00:00.000Z', l1, human],
      ['2030-06-02T00:30:00Z', l3, { agent: 'slackbot' }],
      ['2030-06-02T00:40:00Z', l3, { agent: 'slackbot' }],
      ['2030-06-02T00:50:00Z', deleted, human],
      ['2030-06-02T13:00:00Z', l1, { ...human, client: '8.8.8.8' }],
      ['2030-06-02T13:01:00Z', l1, crawler],
      ['2030-06-02T13:02:00Z', l2, qrScan],
      ['2030-06-02T13:03:00Z', l2, human],
      ['2030-06-02T13:04:00Z', l3, human],
      ['2030-06-02T13:05:00Z', l3, {}],
      ['2030-06-02T13:06:00Z', l3, { method: 'HEAD', agent: 'chromeWindows' }],
      ['2030-06-02T13:07:00Z', deleted, human],
      ['2030-06-02T13:08:00Z', deleted, human],
    ];
    for (const [at, link, v] of clicks) await bench.click(link.slug, ms(at), v);
    await bench.t.flushClicks();
    const res = await bench.t.request('DELETE', `/api/v1/links/${deleted.id}`, { key });
    assert.equal(res.status, 204, res.text);
  });
  after(() => bench.t.close());

  test("countries: whole days from the workspace's rows by day, the hours of a partial day from its rows by hour; the clicks of links deleted since are counted, as in the totals", async () => {
    const days = await summary({ from: '2030-06-01', to: '2030-06-02' });
    assert.deepEqual(days.countries, [
      { value: null, total: 15, human: 9 },
      { value: 'DE', total: 2, human: 2 },
      { value: 'US', total: 1, human: 1 },
    ]);
    assert.equal(days.countries.reduce((n: number, c: { total: number }) => n + c.total, 0), days.total, 'every click has its country, known or not');
    const hour = await summary({ from: '2030-06-02T13:00:00Z', to: '2030-06-02T14:00:00Z' });
    assert.deepEqual(hour.countries, [
      { value: null, total: 7, human: 4 },
      { value: 'DE', total: 1, human: 1 },
      { value: 'US', total: 1, human: 1 },
    ]);
    // Whole days and partial ones together: 2030-06-01 10:00 to 2030-06-02 14:00.
    const mixed = await summary({ from: '2030-06-01T10:00:00Z', to: '2030-06-02T14:00:00Z' });
    assert.deepEqual(mixed.countries, days.countries);
    // A whole day (its rows by day) and a partial one (its rows by hour).
    const both = await summary({ from: '2030-06-01', to: '2030-06-02T14:00:00Z' });
    assert.deepEqual(both.countries, days.countries);
    // `to` is exclusive: the click at 13:00:00 exactly (from 8.8.8.8, the one in the US) is not in a range ending then.
    const before = await summary({ from: '2030-06-02T00:00:00Z', to: '2030-06-02T13:00:00Z' });
    assert.deepEqual(before.countries, [{ value: null, total: 4, human: 2 }]);
  });

  test('two whole days (daily rollup): totals include the deleted link, which is not listed', async () => {
    const s = await summary({ from: '2030-06-01', to: '2030-06-02', interval: 'day' });
    assert.deepEqual(Object.keys(s).sort(), ['bots', 'countries', 'from', 'human', 'interval', 'qr', 'series', 'to', 'topLinks', 'total']);
    assert.deepEqual(
      { from: s.from, to: s.to, interval: s.interval, total: s.total, human: s.human, bots: s.bots, qr: s.qr },
      { from: '2030-06-01T00:00:00.000Z', to: '2030-06-03T00:00:00.000Z', interval: 'day', total: 18, human: 12, bots: 6, qr: 2 },
    );
    assert.deepEqual(s.series, [
      { t: '2030-06-01T00:00:00.000Z', total: 5, human: 4, qr: 1 },
      { t: '2030-06-02T00:00:00.000Z', total: 13, human: 8, qr: 1 },
    ]);
    // By human clicks, then total: One (3 of 5) before Two (3 of 3), then the unnamed link (1 of 5).
    assert.deepEqual(s.topLinks, [
      { link: listed(l1), total: 5, human: 3, bots: 2, qr: 0 },
      { link: listed(l2), total: 3, human: 3, bots: 0, qr: 2 },
      { link: listed(l3), total: 5, human: 1, bots: 4, qr: 0 },
    ]);
  });

  test('limit caps topLinks; the deleted link does not take a place', async () => {
    assert.deepEqual((await summary({ from: '2030-06-01', to: '2030-06-02', limit: '2' })).topLinks.map((r: { link: { id: string } }) => r.link.id), [l1.id, l2.id]);
    assert.deepEqual((await summary({ from: '2030-06-01', to: '2030-06-02', limit: '1' })).topLinks.map((r: { link: { id: string } }) => r.link.id), [l1.id]);
  });

  /** Hour buckets from `from`, zeros but for these (total, human, qr) at the given hours. */
  const hours = (from: string, count: number, points: Record<string, [number, number, number]>) =>
    Array.from({ length: count }, (_, i) => {
      const t = iso(ms(from) + i * HOUR);
      const [total, human, qr] = points[t] ?? [0, 0, 0];
      return { t, total, human, qr };
    });
  // 10:00 on 1 June up to 01:00 on 2 June: One's clicks at 10:10, 10:20 and midnight, Two's scan, two Slackbots of the third link.
  const earlyHours = {
    '2030-06-01T10:00:00.000Z': [3, 2, 1],
    '2030-06-01T23:00:00.000Z': [2, 2, 0],
    '2030-06-02T00:00:00.000Z': [4, 2, 0],
  } satisfies Record<string, [number, number, number]>;
  const assertEarlyTopLinks = (s: { topLinks: unknown }) =>
    assert.deepEqual(s.topLinks, [
      { link: listed(l1), total: 3, human: 2, bots: 1, qr: 0 },
      { link: listed(l2), total: 1, human: 1, bots: 0, qr: 1 },
      { link: listed(l3), total: 2, human: 0, bots: 2, qr: 0 },
    ]);

  test('a range of hours inside two days (hourly rows only), hour by hour', async () => {
    const s = await summary({ from: '2030-06-01T10:00:00Z', to: '2030-06-02T01:00:00Z' });
    assert.equal(s.interval, 'hour');
    assert.deepEqual({ total: s.total, human: s.human, bots: s.bots, qr: s.qr }, { total: 9, human: 6, bots: 3, qr: 1 });
    assert.deepEqual(s.series, hours('2030-06-01T10:00:00Z', 15, earlyHours));
    assertEarlyTopLinks(s);
  });

  test('a whole day plus partial days at both edges (daily and hourly rollups together)', async () => {
    const s = await summary({ from: '2030-05-31T22:00:00Z', to: '2030-06-02T13:00:00Z' });
    assert.deepEqual({ total: s.total, human: s.human, bots: s.bots, qr: s.qr }, { total: 9, human: 6, bots: 3, qr: 1 });
    assert.deepEqual(s.series, hours('2030-05-31T22:00:00Z', 39, earlyHours));
    assertEarlyTopLinks(s);
  });

  test('one hour: ties on human clicks go to the link with more clicks in total', async () => {
    const s = await summary({ from: '2030-06-02T13:00:00Z', to: '2030-06-02T14:00:00Z' });
    assert.deepEqual({ total: s.total, human: s.human, bots: s.bots, qr: s.qr }, { total: 9, human: 6, bots: 3, qr: 1 });
    assert.deepEqual(s.series, [{ t: '2030-06-02T13:00:00.000Z', total: 9, human: 6, qr: 1 }]);
    assert.deepEqual(s.topLinks, [
      { link: listed(l2), total: 2, human: 2, bots: 0, qr: 1 },
      { link: listed(l3), total: 3, human: 1, bots: 2, qr: 0 },
      { link: listed(l1), total: 2, human: 1, bots: 1, qr: 0 },
    ]);
  });

  test('from and to must be whole UTC hours', async () => {
    for (const [params, field] of [
      [{ from: '2030-06-01T10:30:00Z', to: '2030-06-02T00:00:00Z' }, 'from'],
      [{ from: '2030-06-01T10:00:00.001Z', to: '2030-06-02T00:00:00Z' }, 'from'],
      [{ from: '2030-06-01T10:00:00Z', to: '2030-06-01T23:59:59.999Z' }, 'to'],
      [{ from: '2030-06-01T10:00:00+00:30', to: '2030-06-02T00:00:00Z' }, 'from'],
    ] as const) {
      assertProblem(await bench.get(`/api/v1/stats${qs(params)}`, key), 400, 'validation_failed', [field]);
    }
  });

  test('the deleted link has no stats of its own any more', async () => {
    assertProblem(await bench.get(`/api/v1/links/${deleted.id}/stats`, key), 404, 'not_found');
    assertProblem(await bench.get(`/api/v1/links/${deleted.id}/clicks`, key), 404, 'not_found');
  });
});

interface RawClick {
  id: string;
  at: string;
  bot: boolean;
  qr: boolean;
  referrer: string | null;
  referrerHost: string | null;
  device: string;
  browser: string;
  os: string;
  userAgent: string | null;
  visitor: string;
}

describe('raw clicks', () => {
  const bench = new Bench();
  let link: { id: string; slug: string };
  /** Each click's referrer names it: https://ref.example/<n>. */
  const made: { n: number; at: number; client: string; v: Visit }[] = [];
  const sameMs = ms('2030-07-01T12:00:00.500Z');
  const clients = ['203.0.113.7', '198.51.100.23'];

  const page = async (params: Record<string, string>) => {
    const res = await bench.get(`/api/v1/links/${link.id}/clicks${qs(params)}`);
    assert.equal(res.status, 200, res.text);
    for (const addr of ['127.0.0.1', '::1', ...clients]) assert.ok(!res.text.includes(addr), `no address in the response: ${res.text}`);
    return res.json as { data: RawClick[]; nextCursor: string | null };
  };
  const all = async (params: Record<string, string>, limit: number) => {
    const seen: RawClick[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const p = await page({ ...params, limit: String(limit), ...(after ? { after } : {}) });
      assert.ok(p.data.length <= limit);
      if (p.nextCursor) assert.equal(p.data.length, limit, 'a page before the last is full');
      if (after) assert.ok(p.data.length > 0, 'a cursor never leads to an empty page');
      seen.push(...p.data);
      after = p.nextCursor;
      pages++;
    } while (after && pages < 100);
    return seen;
  };
  const n = (c: RawClick) => Number(c.referrer!.split('/').pop());

  before(async () => {
    await bench.start();
    link = await bench.link();
    const visits: Visit[] = [
      { agent: 'chromeWindows' },
      { agent: 'iphone', qr: true },
      { method: 'HEAD', agent: 'firefoxLinux' },
      { agent: 'googlebot' },
      {},
    ];
    // 23 clicks over two days, five of them in one millisecond, from two clients.
    for (let i = 0; i < 23; i++) {
      const at = i < 5 ? sameMs : ms('2030-07-01T00:00:00Z') + (i - 5) * 2 * HOUR + i;
      const client = clients[i % 2]!;
      const v = { ...visits[i % visits.length]!, referer: `https://ref.example/${i}`, client };
      made.push({ n: i, at, client, v });
      await bench.click(link.slug, at, v);
      // Written at once, as the 25 ms batches do: the fake clock jumps hours, and a click written after its day (and its salt) is over gets no visitor.
      await bench.t.flushClicks();
    }
  });
  after(() => bench.t.close());

  /** Newest first; clicks in one millisecond in the reverse order they came in. */
  const newestFirst = (list: typeof made) => [...list].sort((a, b) => b.at - a.at || b.n - a.n);

  test('paging through every click: newest first, none twice, none missing', async () => {
    for (const limit of [1, 4, 7, 23, 100]) {
      const seen = await all({}, limit);
      assert.deepEqual(seen.map(n), newestFirst(made).map((c) => c.n), `limit ${limit}`);
      assert.equal(new Set(seen.map((c) => c.id)).size, made.length);
    }
  });

  test('each click as recorded, without its user agent by default', async () => {
    const seen = await all({}, 100);
    for (const c of seen) {
      assert.deepEqual(Object.keys(c).sort(), ['at', 'bot', 'browser', 'country', 'device', 'id', 'os', 'qr', 'referrer', 'referrerHost', 'userAgent', 'visitor']);
      const m = made.find((x) => x.n === n(c))!;
      const want = expectedClass({ ...m.v, referer: undefined });
      assert.deepEqual(
        { at: c.at, bot: c.bot, qr: c.qr, referrerHost: c.referrerHost, device: c.device, browser: c.browser, os: c.os, userAgent: c.userAgent },
        { at: iso(m.at), bot: want.bot, qr: want.qr, referrerHost: 'ref.example', device: want.device, browser: want.browser, os: want.os, userAgent: null },
      );
      assert.equal(typeof c.id, 'string');
    }
  });

  test('within a UTC day the same client is the same visitor and another client another; the next day both are new', async () => {
    const seen = await all({}, 100);
    const visitorOf = (client: string, day: string) =>
      new Set(seen.filter((c) => c.at.startsWith(day) && made.find((m) => m.n === n(c))!.client === client).map((c) => c.visitor));
    const visitors = ['2030-07-01', '2030-07-02'].flatMap((day) =>
      clients.map((client) => {
        const set = visitorOf(client, day);
        assert.equal(set.size, 1, `${client} on ${day}`);
        return [...set][0];
      }),
    );
    assert.ok(visitors.every((v) => typeof v === 'string' && v.length === 22));
    assert.equal(new Set(visitors).size, 4, 'two clients on two days: four visitors');
  });

  test('from/to narrow the list, to the millisecond', async () => {
    const inSameMs = await all({ from: iso(sameMs), to: iso(sameMs + 1) }, 2);
    assert.deepEqual(inSameMs.map(n), [4, 3, 2, 1, 0]);
    assert.deepEqual(await all({ from: iso(sameMs + 1), to: iso(sameMs + 2) }, 2), []);
    const from = ms('2030-07-01T10:00:00.010Z'); // the click made at i = 10 (10:00:00.010) is the first in
    const to = ms('2030-07-02T00:00:00.000Z');
    const window = await all({ from: iso(from), to: iso(to) }, 3);
    assert.deepEqual(window.map(n), newestFirst(made.filter((c) => c.at >= from && c.at < to)).map((c) => c.n));
    assert.equal(window.at(-1)!.at, '2030-07-01T10:00:00.010Z');
    const day2 = await all({ from: '2030-07-02', to: '2030-07-02' }, 50);
    assert.deepEqual(day2.map(n), newestFirst(made.filter((c) => c.at >= ms('2030-07-02T00:00:00Z'))).map((c) => c.n));
    assert.ok(day2.length > 0);
  });

  test('with keepUserAgents on, clicks recorded from then on keep their agent', async () => {
    const { deps } = bench.t.server;
    await deps.instanceSettings.update(TEST_OPERATOR, { keepUserAgents: true }, bench.clock.now());
    try {
      await bench.click(link.slug, ms('2030-07-03T08:00:00Z'), { agent: 'android', referer: 'https://ref.example/100', client: clients[0] });
      await bench.click(link.slug, ms('2030-07-03T08:00:01Z'), { referer: 'https://ref.example/101', client: clients[0] });
      await bench.t.flushClicks();
      const [noAgent, android, ...older] = await all({}, 100);
      assert.deepEqual([n(noAgent!), n(android!)], [101, 100]);
      assert.equal(android!.userAgent, AGENTS.android.ua);
      assert.equal(noAgent!.userAgent, null, 'a request without an agent has none to keep');
      assert.equal(android!.visitor, noAgent!.visitor, 'one client on one day: one visitor');
      assert.ok(older.every((c) => c.userAgent === null), 'clicks recorded before stay without one');
    } finally {
      await deps.instanceSettings.update(TEST_OPERATOR, { keepUserAgents: false }, bench.clock.now());
    }
  });
});

describe('analytics API errors', () => {
  const bench = new Bench();
  let link: { id: string; slug: string };
  let foreign: { id: string };
  const routes = (id: string) => [`/api/v1/links/${id}/stats`, `/api/v1/links/${id}/clicks`];

  before(async () => {
    await bench.start();
    link = await bench.link();
    foreign = await bench.link(await bench.t.key({ workspace: 'Elsewhere' }));
  });
  after(() => bench.t.close());

  test('an unknown link, a malformed id, and another workspace\'s link are all 404', async () => {
    for (const id of ['lnk_00000000000000000000', 'nope', foreign.id]) {
      for (const path of routes(id)) assertProblem(await bench.get(path), 404, 'not_found');
    }
  });

  const badTimes = ['yesterday', '2026-13-01', '2026-11-01T10:00:00', '2026-11-01 10:00:00Z', '1700000000000', '2026-11-01T25:00:00Z'];

  test('from/to that are not an ISO time with zone or a date', async () => {
    for (const bad of badTimes) {
      for (const field of ['from', 'to']) {
        const params = { from: '2026-10-01', to: '2026-11-02', [field]: bad };
        for (const path of [...routes(link.id), '/api/v1/stats']) {
          assertProblem(await bench.get(`${path}${qs(params)}`), 400, 'validation_failed', [field]);
        }
      }
    }
  });

  test('a date that does not exist is refused, not rolled over into the next month', async () => {
    // Date.parse('2026-02-30T00:00:00Z') is 2 March; the API should not silently answer for another day.
    for (const bad of ['2026-02-30', '2026-02-29', '2026-04-31T00:00:00Z']) {
      const res = await bench.get(`/api/v1/links/${link.id}/stats${qs({ from: bad, to: '2026-04-30' })}`);
      assert.equal(res.status, 400, `from=${bad} was read as ${res.json?.from}`);
      assertProblem(res, 400, 'validation_failed', ['from']);
    }
  });

  test('from must be before to', async () => {
    for (const params of [
      { from: '2030-01-02', to: '2030-01-01' }, // to=2030-01-01 is the end of that day: equal
      { from: '2030-01-01T10:00:00.001Z', to: '2030-01-01T10:00:00.001Z' },
      { from: '2030-01-01T10:00:00.002Z', to: '2030-01-01T10:00:00.001Z' },
    ]) {
      assertProblem(await bench.get(`/api/v1/links/${link.id}/stats${qs(params)}`), 400, 'validation_failed', ['from']);
      assertProblem(await bench.get(`/api/v1/stats${qs({ from: '2030-01-02T00:00:00Z', to: '2030-01-01T00:00:00Z' })}`), 400, 'validation_failed', ['from']);
    }
  });

  test('interval must be hour or day, and give at most 2,000 buckets', async () => {
    for (const interval of ['week', 'HOUR', '']) {
      assertProblem(await bench.get(`/api/v1/links/${link.id}/stats${qs({ interval })}`), 400, 'validation_failed', ['interval']);
      assertProblem(await bench.get(`/api/v1/stats${qs({ interval })}`), 400, 'validation_failed', ['interval']);
    }
    assertProblem(
      await bench.get(`/api/v1/links/${link.id}/stats${qs({ from: '2030-01-01', to: '2030-03-31', interval: 'hour' })}`),
      400, 'validation_failed', ['interval'],
    );
    assertProblem(await bench.get(`/api/v1/stats${qs({ from: '2030-01-01', to: '2030-03-31', interval: 'hour' })}`), 400, 'validation_failed', ['interval']);
    const from = ms('2030-01-01T00:00:00Z');
    const exactly = await bench.stats(link.id, { from: iso(from), to: iso(from + 2000 * HOUR), interval: 'hour' });
    assert.equal(exactly.series.length, 2000);
    const shifted = await bench.stats(link.id, { from: iso(from + 1), to: iso(from + 2000 * HOUR), interval: 'hour' });
    assert.equal(shifted.series.length, 2000, 'the first bucket starts at the hour holding from');
    assertProblem(
      await bench.get(`/api/v1/links/${link.id}/stats${qs({ from: iso(from), to: iso(from + 2000 * HOUR + 1), interval: 'hour' })}`),
      400, 'validation_failed', ['interval'],
    );
  });

  test('unknown query parameters and bad paging parameters', async () => {
    for (const path of [...routes(link.id), '/api/v1/stats']) {
      assertProblem(await bench.get(`${path}?form=2030-01-01`), 400, 'validation_failed', ['form']);
    }
    assertProblem(await bench.get(`/api/v1/links/${link.id}/stats?limit=5`), 400, 'validation_failed', ['limit']);
    assertProblem(await bench.get(`/api/v1/links/${link.id}/clicks?limit=0`), 400, 'validation_failed', ['limit']);
    assertProblem(await bench.get(`/api/v1/links/${link.id}/clicks?limit=101`), 400, 'validation_failed', ['limit']);
    assertProblem(await bench.get(`/api/v1/links/${link.id}/clicks?after=lnk_1`), 400, 'validation_failed', ['after']);
    assertProblem(await bench.get('/api/v1/stats?limit=0'), 400, 'validation_failed', ['limit']);
  });

  test('a key without analytics:read gets 403 insufficient_scope', async () => {
    const key = await bench.t.key({ scopes: ['links:read', 'links:write'] });
    for (const path of [...routes(link.id), '/api/v1/stats']) assertProblem(await bench.get(path, key), 403, 'insufficient_scope');
    for (const path of [...routes(link.id), '/api/v1/stats']) assertProblem(await bench.t.request('GET', path), 401, 'missing_api_key');
  });

  test('a workspace whose plan has analytics off gets 403 plan_feature_disabled', async () => {
    const key = await bench.t.key({ workspace: 'Frugal' });
    const own = await bench.link(key);
    const { db } = bench.t.store;
    const now = bench.clock.now();
    await upsertPlan(db, TEST_OPERATOR, 'No analytics', { features: { analytics: false }, limits: {} }, now);
    await setWorkspacePlan(db, TEST_OPERATOR, (await findWorkspaceByName(db, 'Frugal'))!.id, 'No analytics', now);
    for (const path of [...routes(own.id), '/api/v1/stats']) {
      const p = assertProblem(await bench.get(path, key), 403, 'plan_feature_disabled');
      assert.deepEqual({ feature: p.feature, plan: p.plan }, { feature: 'analytics', plan: 'No analytics' });
    }
    // Other workspaces keep their analytics.
    assert.equal((await bench.get(`/api/v1/links/${link.id}/stats`)).status, 200);
  });
});
