// Fills a data dir with links and clicks for benchmarks, through the same code the server
// writes with (link rows, the click recorder, its classification and rollups).
//   node --import tsx scripts/seed.ts --data-dir DIR [--links 2000] [--clicks 10000000]
//        [--hot-link-clicks 1000000] [--days 90] [--workspace Bench]
// The first link is the "hot" one; the other clicks spread over the rest with a Zipf-like skew.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { openStore } from '../src/store.js';
import { ClickRecorder } from '../src/clicks/click-recorder.js';
import { loadConfig } from '../src/config.js';
import { newId } from '../src/lib/ids.js';
import { createLogger } from '../src/lib/logger.js';
import { diskAssets } from '../src/lib/assets.js';
import { createCountryLookup } from '../src/geo/country-lookup.js';
import { insertLink } from '../src/links/links.repo.js';
import { newLinkRow } from '../src/links/links.service.js';
import { TEST_OPERATOR } from '../src/testing/harness.js';
import { createWorkspace } from '../src/workspaces/workspaces.service.js';
import { findWorkspaceByName } from '../src/workspaces/workspaces.repo.js';

const { values: args } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    links: { type: 'string', default: '2000' },
    clicks: { type: 'string', default: '10000000' },
    'hot-link-clicks': { type: 'string', default: '1000000' },
    days: { type: 'string', default: '90' },
    workspace: { type: 'string', default: 'Bench' },
  },
});
if (!args['data-dir']) throw new Error('--data-dir is required');
const linkCount = Number(args.links);
const clickCount = Number(args.clicks);
const hotClicks = Math.min(Number(args['hot-link-clicks']), clickCount);
const days = Number(args.days);

// A fixed seed: every run builds the same data.
let seed = 0x5eed;
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;

const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
  'Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1',
];
const BOTS = ['Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'facebookexternalhit/1.1'];
const REFERRERS = [undefined, undefined, 'https://news.ycombinator.com/', 'https://www.google.com/', 'https://t.co/abc', 'https://www.linkedin.com/feed/', 'https://mail.example.com/'];

const dataDir = args['data-dir'];

// CommonJS (no top-level await): the script is one async function.
async function main() {
  const log = createLogger('warn');
  const store = await openStore(loadConfig({ LINKQR_DATA_DIR: dataDir, LINKQR_LOG_LEVEL: 'warn' }), { log, applyPending: true });
  const { db } = store;
  const now = Date.now();
  const workspace =
    (await findWorkspaceByName(db, args.workspace)) ?? (await createWorkspace({ db, clock: store.clock }, TEST_OPERATOR, args.workspace));

  const started = performance.now();
  const linkIds: string[] = [];
  const LINK_CHUNK = 50_000;
  // Random 7-character slugs, as the API makes them: among a million, two alike are likely (about
  // one run in seven), and the API would try another, so the seed does too.
  const slugs = new Set<string>();
  for (let i = 0; i < linkCount; i += LINK_CHUNK) {
    await db.tx(async (t) => {
      for (let j = i; j < Math.min(linkCount, i + LINK_CHUNK); j++) {
        let link;
        do link = newLinkRow(workspace.id, TEST_OPERATOR, { url: `https://example.com/landing/${j}`, title: `Bench link ${j}` }, now);
        while (slugs.has(link.slug));
        slugs.add(link.slug);
        // Its id dated back to the first click, as a link made then would have.
        const row = { ...link, id: newId('lnk', now - days * 86_400_000) };
        await insertLink(t, row);
        linkIds.push(row.id);
      }
    });
  }
  console.error(`${linkCount.toLocaleString('en-US')} links in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const salt = randomBytes(32);
  const countries = createCountryLookup({ assets: diskAssets() });
  const recorder = new ClickRecorder(
    // Past days' salts are gone on a real server; here one throwaway salt gives every click a visitor hash.
    { db, log, visitorSalts: { saltFor: () => salt }, keepUserAgent: () => false, countryOf: (ip) => countries.country(ip) },
    { flushDelayMs: 3_600_000, maxBatch: Number.MAX_SAFE_INTEGER, maxBuffered: Number.MAX_SAFE_INTEGER },
  );
  const spanMs = days * 86_400_000;
  const from = now - spanMs;
  const BATCH = 50_000;
  // Zipf-like: link k (1-based among the rest) gets a share proportional to 1/k^0.8.
  const others = linkIds.slice(1);
  const weights = others.map((_, k) => 1 / Math.pow(k + 1, 0.8));
  const cumulative: number[] = [];
  weights.reduce((sum, w, k) => (cumulative[k] = sum + w), 0);
  const totalWeight = cumulative[cumulative.length - 1] ?? 1;
  const otherLink = () => {
    const x = random() * totalWeight;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return others[lo]!;
  };

  const clickStart = performance.now();
  // Clicks arrive in time order, as they do in production: walk the span in BATCH-sized steps.
  for (let written = 0; written < clickCount; written += BATCH) {
    const n = Math.min(BATCH, clickCount - written);
    for (let i = 0; i < n; i++) {
      const index = written + i;
      const at = Math.floor(from + (index / clickCount) * spanMs + random() * 1000);
      const hot = others.length === 0 || random() < hotClicks / clickCount;
      const bot = random() < 0.1;
      const head = bot && random() < 0.3;
      recorder.record({
        linkId: hot ? linkIds[0]! : otherLink(),
        workspaceId: workspace.id,
        at,
        bot,
        qr: random() < 0.15,
        referrer: pick(REFERRERS),
        userAgent: bot && !head ? pick(BOTS) : pick(AGENTS),
        // Public addresses of many networks, so clicks spread over countries as real ones do.
        ip: `${23 + Math.floor(random() * 190)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 250)}`,
      });
    }
    await recorder.flush();
    if ((written / BATCH) % 20 === 0) console.error(`${(written + n).toLocaleString('en-US')} clicks…`);
  }
  await recorder.close();
  const seconds = (performance.now() - clickStart) / 1000;
  console.error(`${clickCount.toLocaleString('en-US')} clicks in ${seconds.toFixed(1)} s (${Math.round(clickCount / seconds).toLocaleString('en-US')}/s)`);
  db.sqlite.exec('PRAGMA optimize');
  console.log(JSON.stringify({ workspace: workspace.name, hotLinkId: linkIds[0], links: linkCount, clicks: clickCount }));
  db.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
