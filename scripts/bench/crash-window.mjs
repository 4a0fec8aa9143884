// The crash window: how many answered clicks a kill -9 loses, and how recent they were.
// Clients keep-alive a link without maxClicks in a loop; the server is killed at a random moment;
// its database is read afterwards. The window is given as the lost clicks divided by the rate
// (the milliseconds of traffic lost), and as "kill time - newest stored click" (wall clock, same
// host): an upper bound that also counts any time the busy machine did not run the server.
//   npm run build && taskset -c 1 node scripts/bench/crash-window.mjs   (BENCH_ROUNDS, BENCH_CONNECTIONS)
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { BROWSER_UA, CONNECTIONS, fmt, ROOT, startLinkqr } from './lib.mjs';

const Database = createRequire(join(ROOT, 'package.json'))('better-sqlite3');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const results = [];
for (let round = 1; round <= ROUNDS; round++) {
  const l = await startLinkqr();
  const link = await fetch(`${l.url}/api/v1/links`, {
    method: 'POST',
    headers: { authorization: `Bearer ${l.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'https://example.com/landing' }),
  }).then((r) => r.json());

  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const answeredAt = [];
  let killed = false;
  const once = () =>
    new Promise((resolve) => {
      request(`${l.url}/${link.slug}`, { agent, headers: { 'user-agent': BROWSER_UA } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
        res.on('error', () => resolve(0));
      })
        .on('error', () => resolve(0))
        .end();
    });
  const client = async () => {
    while (!killed) {
      const status = await once();
      if (status === 302) answeredAt.push(performance.now());
      else if (status === 0) return;
    }
  };
  const clients = Array.from({ length: CONNECTIONS }, client);
  await sleep(1_000 + Math.random() * 1_000);
  const killedAt = Date.now();
  l.child.kill('SIGKILL');
  killed = true;
  await Promise.all(clients);
  agent.destroy();
  await new Promise((r) => (l.child.exitCode !== null || l.child.signalCode !== null ? r() : l.child.once('exit', r)));

  const db = new Database(join(l.dataDir, 'linkqr.db'));
  const { stored, newest } = db.prepare('select count(*) as stored, max(clicked_at) as newest from clicks where link_id = ?').get(link.id);
  db.close();
  rmSync(l.dataDir, { recursive: true, force: true });

  const answered = answeredAt.length;
  const lost = Math.max(0, answered - stored);
  const windowMs = lost > 0 ? killedAt - newest : 0;
  const seconds = (answeredAt.at(-1) - answeredAt[0]) / 1000;
  const trafficMs = (lost / (answered / seconds)) * 1000;
  results.push({ lost, trafficMs, windowMs });
  console.log(
    `round ${round}: ${fmt(answered)} answered (${fmt(answered / seconds)}/s), ${fmt(stored)} stored, ${lost} lost = ` +
      `${trafficMs.toFixed(1)} ms of traffic (wall-clock bound ${windowMs} ms)`,
  );
}
const max = (key) => Math.max(...results.map((r) => r[key]));
console.log(
  `\ncrash window over ${ROUNDS} kills: at most ${max('lost')} clicks, ${max('trafficMs').toFixed(1)} ms of traffic (wall-clock bound ${max('windowMs')} ms)`,
);
