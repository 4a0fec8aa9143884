// Webhook delivery: deliveries/s to a local receiver and change→receiver latency, against a plain
// loop of HTTP POSTs from Node to the same receiver in the same run; then the same receiver's
// latency while other workspaces' endpoints hang.
// Targets: >= 2,000 deliveries/s, p50 <= 20 ms; beside hanging endpoints p50 <= 50 ms, p99 <= 500 ms.
//   npm run build && node scripts/bench/webhooks.mjs
//   (BENCH_WEBHOOK_BACKLOG, BENCH_WEBHOOK_RATE, BENCH_WEBHOOK_SECONDS, BENCH_WEBHOOK_BURST,
//    BENCH_WEBHOOK_FAIR_SECONDS, BENCH_WEBHOOK_FAIR_RATE, BENCH_WEBHOOK_HANG_RATE,
//    BENCH_SERVER_CORE, BENCH_LOAD_CORE; BENCH_BIN runs another build, for before/after)
//
// LinkQR runs on the server core. The receiver is a separate node:http process on the load core;
// it timestamps each arrival. This process (the API client) is pinned to the load core too. Phases:
//   drain   : a backlog of deliveries, all due at once (held back with 503 + Retry-After, then made
//             due): the dispatcher alone, one endpoint, so at most 8 attempts in flight.
//   steady  : links created at a fixed rate: latency from the change (event timestamp) and from
//             the 201 to the receiver.
//   burst   : links created as fast as the API takes them, delivered meanwhile.
//   baseline: a keep-alive loop of POSTs with the same body, headers and concurrency (8), from a
//             Node process on the server core, to the same receiver.
//   fairness: 20 endpoints in three other workspaces (7, 7, 6) point at a receiver that never
//             answers (a second process on the load core); for BENCH_WEBHOOK_FAIR_SECONDS those
//             workspaces create links at BENCH_WEBHOOK_HANG_RATE/s each (every link a delivery to
//             each of their endpoints) while the healthy endpoint's workspace creates links at
//             BENCH_WEBHOOK_FAIR_RATE/s: its commit→receiver latency (event timestamp to arrival,
//             the event row is committed with the link). Long enough for the hanging attempts to
//             time out (15 s) and be retried. Then the hanging endpoints are deleted: how long
//             until no attempt to them is left open.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { fmt, freePort, LOAD_CORE, openBenchSql, SERVER_CORE, startLinkqr } from './lib.mjs';

const BACKLOG = Number(process.env.BENCH_WEBHOOK_BACKLOG ?? 20_000);
const RATE = Number(process.env.BENCH_WEBHOOK_RATE ?? 1_000);
const STEADY_SECONDS = Number(process.env.BENCH_WEBHOOK_SECONDS ?? 5);
const BURST = Number(process.env.BENCH_WEBHOOK_BURST ?? 10_000);
const FAIR_SECONDS = Number(process.env.BENCH_WEBHOOK_FAIR_SECONDS ?? 40);
const FAIR_RATE = Number(process.env.BENCH_WEBHOOK_FAIR_RATE ?? 20);
const HANG_RATE = Number(process.env.BENCH_WEBHOOK_HANG_RATE ?? 5);
const HANGING_WORKSPACES = [['Hanging A', 7], ['Hanging B', 7], ['Hanging C', 6]];
const PER_ENDPOINT = 8; // the dispatcher's default bound per endpoint
const API_CONCURRENCY = 32;

const epochMs = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => `${x.toFixed(1)} ms`;

// ---- child: the receiver ---------------------------------------------------------------------
if (process.argv[2] === '--receiver') {
  const port = Number(process.argv[3]);
  let arrivals = []; // [link id, arrival epoch ms, event time epoch ms, webhook-id]
  let mode = { status: 200, retryAfter: undefined };
  let throttled = 0;
  let lastBody = '';
  let lastHeaders = {};
  http
    .createServer((req, res) => {
      if (req.url === '/stats') return void res.end(JSON.stringify({ arrivals, throttled }));
      // What the waits poll: the whole list, stringified every 100 ms while thousands arrive, took
      // the receiver's core from the deliveries (the baseline's POSTs were never polled so).
      if (req.url === '/count') return void res.end(JSON.stringify({ arrivals: arrivals.length, throttled }));
      if (req.url === '/sample') return void res.end(JSON.stringify({ body: lastBody, headers: lastHeaders }));
      if (req.url === '/reset') {
        arrivals = [];
        throttled = 0;
        return void res.end('{}');
      }
      if (req.url.startsWith('/mode')) {
        const q = new URL(req.url, 'http://x').searchParams;
        mode = { status: Number(q.get('status')), retryAfter: q.get('retryAfter') ?? undefined };
        return void res.end('{}');
      }
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const at = epochMs();
        if (mode.status !== 200) {
          throttled++;
          res.writeHead(mode.status, mode.retryAfter ? { 'retry-after': mode.retryAfter } : {}).end();
          return;
        }
        const body = Buffer.concat(chunks).toString();
        lastBody = body;
        lastHeaders = req.headers;
        const id = /"data":\{"id":"([^"]+)"/.exec(body)?.[1];
        const eventAt = Date.parse(/"timestamp":"([^"]+)"/.exec(body)?.[1] ?? '');
        arrivals.push([id, at, eventAt, req.headers['webhook-id']]);
        res.writeHead(200, { 'content-length': 0 }).end();
      });
    })
    .listen(port, '127.0.0.1');
}

// ---- child: receivers that never answer, one per port ------------------------------------------
else if (process.argv[2] === '--hanging') {
  const stats = { received: 0, open: 0, maxOpen: 0 };
  const handle = (req, res) => {
    if (req.method === 'GET' && req.url === '/stats') return void res.end(JSON.stringify(stats));
    stats.received++;
    stats.maxOpen = Math.max(stats.maxOpen, ++stats.open);
    req.resume();
    req.socket.once('close', () => stats.open--);
  };
  // Each on a port of the system's choosing (ports picked in advance could be taken meanwhile, or
  // picked twice): the parent reads them from the first line of stdout.
  const count = Number(process.argv[3]);
  const ports = [];
  for (let i = 0; i < count; i++) {
    const server = http.createServer(handle);
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    ports.push(server.address().port);
  }
  process.stdout.write(`${JSON.stringify(ports)}\n`);
}

// ---- child: the baseline sender --------------------------------------------------------------
else if (process.argv[2] === '--baseline') {
  const [url, n, concurrency, sampleJson] = [process.argv[3], Number(process.argv[4]), Number(process.argv[5]), process.argv[6]];
  const sample = JSON.parse(sampleJson);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const headers = {};
  for (const h of ['content-type', 'user-agent', 'webhook-id', 'webhook-timestamp', 'webhook-signature']) headers[h] = sample.headers[h];
  const body = Buffer.from(sample.body);
  headers['content-length'] = String(body.length);
  const rtts = [];
  let next = 0;
  const post = () =>
    new Promise((resolve, reject) => {
      const started = performance.now();
      const req = http.request(url, { method: 'POST', agent, headers }, (res) => {
        res.resume();
        res.on('end', () => {
          rtts.push(performance.now() - started);
          resolve();
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  const worker = async () => {
    while (next++ < n) await post();
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  process.stdout.write(JSON.stringify({ seconds, p50: pct(rtts, 50), p99: pct(rtts, 99) }));
}

// ---- the benchmark ---------------------------------------------------------------------------
else {
  execFileSync('taskset', ['-a', '-cp', LOAD_CORE, String(process.pid)], { stdio: 'ignore' });
  const port = await freePort();
  const receiverUrl = `http://127.0.0.1:${port}`;
  const receiverProc = spawn('taskset', ['-c', LOAD_CORE, process.execPath, import.meta.filename, '--receiver', String(port)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // Children must not outlive a failed run.
  let l;
  let hangingProc;
  process.on('exit', () => {
    receiverProc.kill();
    hangingProc?.kill();
    l?.child.kill();
  });
  // Once more on a dropped connection: after the baseline blocks this process for seconds, fetch
  // can pick a kept-alive socket the receiver has just closed (its 5 s keep-alive timeout).
  const control = async (path) => {
    try {
      return await (await fetch(`${receiverUrl}${path}`)).json();
    } catch {
      return (await fetch(`${receiverUrl}${path}`)).json();
    }
  };
  const untilUp = async (url) => {
    for (let i = 0; ; i++) {
      try {
        return await (await fetch(url)).json();
      } catch (e) {
        if (i > 100) throw e;
        await sleep(50);
      }
    }
  };
  await untilUp(`${receiverUrl}/reset`);

  l = await startLinkqr('links:read,links:write,webhooks:read,webhooks:write', { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32', ...(process.env.BENCH_SERVER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS } : {}) });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const api = (method, path, body, key = l.key) =>
    new Promise((resolve, reject) => {
      const text = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(`${l.url}${path}`, {
        method,
        agent,
        headers: { authorization: `Bearer ${key}`, ...(text ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {}) },
      });
      req.on('response', (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, at: epochMs(), json: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
      });
      req.on('error', reject);
      req.end(text);
    });
  let seq = 0;
  const createLink = async (key = l.key) => {
    const res = await api('POST', '/api/v1/links', { url: `https://example.com/landing/${++seq}?utm_source=bench`, tags: ['bench'] }, key);
    if (res.status !== 201) throw new Error(`create link: ${res.status} ${JSON.stringify(res.json)}`);
    return { id: res.json.id, at: res.at };
  };
  /** n links, `API_CONCURRENCY` requests at a time. */
  const createMany = async (n) => {
    const made = [];
    let left = n;
    await Promise.all(
      Array.from({ length: API_CONCURRENCY }, async () => {
        while (left-- > 0) made.push(await createLink());
      }),
    );
    return made;
  };
  const waitForArrivals = async (n, timeoutMs = 120_000, { partial = false } = {}) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { arrivals } = await control('/count');
      if (arrivals >= n || (partial && Date.now() > deadline)) return (await control('/stats')).arrivals;
      if (Date.now() > deadline) throw new Error(`only ${arrivals} of ${n} deliveries arrived`);
      await sleep(100);
    }
  };

  await api('GET', '/api/v1/me'); // warm the key's verification cache
  const endpoint = await api('POST', '/api/v1/webhooks', { url: `${receiverUrl}/hooks`, events: ['link.created'] });
  if (endpoint.status !== 201) throw new Error(`create endpoint: ${endpoint.status} ${JSON.stringify(endpoint.json)}`);

  // drain: every delivery is answered 503 + Retry-After: 1 h, then all are made due at once.
  await control('/mode?status=503&retryAfter=3600');
  const fillStart = performance.now();
  await createMany(BACKLOG);
  const fillSeconds = (performance.now() - fillStart) / 1000;
  for (;;) {
    if ((await control('/count')).throttled >= BACKLOG) break;
    await sleep(100);
  }
  await sleep(300); // the last outcomes are recorded (group commit)
  await control('/mode?status=200');
  await control('/reset');
  const db = await openBenchSql(l);
  // The server's CPU time (user + system, /proc in 10 ms ticks): steadier than the rate when other
  // processes share the cores.
  const serverCpuMs = () => {
    const fields = readFileSync(`/proc/${l.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  };
  const cpuBefore = serverCpuMs();
  const made = await db.run(`update webhook_deliveries set next_attempt_at = ? where status = 'pending'`, Date.now());
  await db.close();
  if (made !== BACKLOG) throw new Error(`expected ${BACKLOG} pending deliveries, found ${made}`);
  const drained = await waitForArrivals(BACKLOG);
  const drainCpuUs = ((serverCpuMs() - cpuBefore) * 1000) / BACKLOG;
  const drainTimes = drained.map((a) => a[1]);
  const drainSeconds = (Math.max(...drainTimes) - Math.min(...drainTimes)) / 1000;
  const drainRate = BACKLOG / drainSeconds;
  const drainUnique = new Set(drained.map((a) => a[3])).size;

  // steady: RATE links/s, open loop.
  await control('/reset');
  const steadyN = RATE * STEADY_SECONDS;
  const created = [];
  const steadyStart = performance.now();
  const pending = [];
  for (let i = 0; i < steadyN; i++) {
    const due = steadyStart + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    pending.push(createLink().then((c) => created.push(c)));
  }
  await Promise.all(pending);
  const steady = await waitForArrivals(steadyN);
  const createdAt = new Map(created.map((c) => [c.id, c.at]));
  const fromChange = steady.map((a) => a[1] - a[2]);
  const from201 = steady.map((a) => a[1] - createdAt.get(a[0]));

  // burst: as fast as the API takes them, delivered meanwhile.
  await control('/reset');
  const burstStart = epochMs();
  const burstMade = await createMany(BURST);
  const burstCreatedSeconds = (epochMs() - burstStart) / 1000;
  const burst = await waitForArrivals(BURST);
  const burstSeconds = (Math.max(...burst.map((a) => a[1])) - burstStart) / 1000;
  const burstFromChange = burst.map((a) => a[1] - a[2]);

  // baseline: the same body and headers, POSTed by a plain keep-alive loop from Node, 8 at a time.
  const sample = await control('/sample');
  await control('/reset');
  const baselineN = BACKLOG;
  const base = JSON.parse(
    execFileSync('taskset', ['-c', SERVER_CORE, process.execPath, import.meta.filename, '--baseline', `${receiverUrl}/hooks`, String(baselineN), String(PER_ENDPOINT), JSON.stringify(sample)]).toString(),
  );
  const baseArrivals = (await control('/count')).arrivals;
  const baseRate = baselineN / base.seconds;

  // fairness: 20 hanging endpoints in three workspaces that keep creating links, beside the healthy one.
  // Each hanging endpoint is its own receiver (port), as different customers' receivers would be.
  const hangingCount = HANGING_WORKSPACES.reduce((n, [, endpoints]) => n + endpoints, 0);
  hangingProc = spawn('taskset', ['-c', LOAD_CORE, process.execPath, import.meta.filename, '--hanging', String(hangingCount)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const hangPorts = await new Promise((resolve, reject) => {
    let out = '';
    hangingProc.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))));
    });
    hangingProc.on('exit', (code) => reject(new Error(`the hanging receivers exited with ${code}`)));
  });
  const hangStatsUrl = `http://127.0.0.1:${hangPorts[0]}/stats`;
  await untilUp(hangStatsUrl);
  const hanging = [];
  for (const [name, endpoints] of HANGING_WORKSPACES) {
    l.cli('workspace', 'create', name);
    const key = l.cli('key', 'create', '--workspace', name, '--name', 'bench', '--scopes', 'links:write,webhooks:write');
    for (let i = 0; i < endpoints; i++) {
      const res = await api('POST', '/api/v1/webhooks', { url: `http://127.0.0.1:${hangPorts[hanging.length]}/hooks`, events: ['link.created'] }, key);
      if (res.status !== 201) throw new Error(`create hanging endpoint: ${res.status} ${JSON.stringify(res.json)}`);
      hanging.push({ key, id: res.json.id });
    }
  }
  await control('/reset');
  const streams = [{ key: l.key, rate: FAIR_RATE, healthy: true }, ...[...new Set(hanging.map((h) => h.key))].map((key) => ({ key, rate: HANG_RATE }))];
  const fairStart = performance.now();
  const fairJobs = [];
  let fairN = 0;
  await Promise.all(
    streams.map(async (stream) => {
      const n = Math.round(stream.rate * FAIR_SECONDS);
      if (stream.healthy) fairN = n;
      for (let i = 0; i < n; i++) {
        const wait = fairStart + (i * 1000) / stream.rate - performance.now();
        if (wait > 1) await sleep(wait);
        fairJobs.push(createLink(stream.key));
      }
    }),
  );
  await Promise.all(fairJobs);
  // The old dispatcher can leave the healthy endpoint waiting behind the hanging backlog for minutes.
  const fairArrivals = await waitForArrivals(fairN, 60_000, { partial: true });
  const fairUnique = new Map(fairArrivals.map((a) => [a[3], a[1] - a[2]])); // first arrival per event
  const fairLatency = [...fairUnique.values(), ...Array(Math.max(0, fairN - fairUnique.size)).fill(Infinity)];
  const hangStats = await (await fetch(hangStatsUrl)).json();
  const deletedAt = performance.now();
  for (const h of hanging) await api('DELETE', `/api/v1/webhooks/${h.id}`, undefined, h.key);
  const deleteMs = performance.now() - deletedAt;
  let freedMs = Infinity;
  for (const until = Date.now() + 30_000; Date.now() < until; await sleep(20)) {
    if ((await (await fetch(hangStatsUrl)).json()).open === 0) {
      freedMs = performance.now() - deletedAt;
      break;
    }
  }

  await l.stop();
  receiverProc.kill('SIGTERM');
  hangingProc.kill('SIGTERM');
  agent.destroy();

  const bodyBytes = Buffer.byteLength(sample.body);
  console.log(`webhooks benchmark, ${process.env.BENCH_POSTGRES_URL ? "PostgreSQL" : "SQLite"} (one endpoint, ${PER_ENDPOINT} attempts in flight at most, ${bodyBytes}-byte link.created bodies):`);
  console.log(`  drain     : ${fmt(BACKLOG)} due deliveries in ${drainSeconds.toFixed(2)} s = ${fmt(drainRate)} deliveries/s, ${fmt(drainCpuUs)} µs of server CPU each (${fmt(drainUnique)} unique webhook-ids)`);
  console.log(`              (backlog built with ${fmt(BACKLOG)} API creates + 503 attempts in ${fillSeconds.toFixed(1)} s)`);
  console.log(`  steady    : ${fmt(steadyN)} links at ${fmt(RATE)}/s: change→receiver p50 ${ms(pct(fromChange, 50))}, p99 ${ms(pct(fromChange, 99))}; 201→receiver p50 ${ms(pct(from201, 50))}, p99 ${ms(pct(from201, 99))}`);
  console.log(`  burst     : ${fmt(BURST)} links created in ${burstCreatedSeconds.toFixed(2)} s (${fmt(burstMade.length / burstCreatedSeconds)}/s), all delivered after ${burstSeconds.toFixed(2)} s = ${fmt(BURST / burstSeconds)} deliveries/s; change→receiver p50 ${ms(pct(burstFromChange, 50))}, p99 ${ms(pct(burstFromChange, 99))}`);
  console.log(`  baseline  : plain Node keep-alive POST loop, ${PER_ENDPOINT} at a time: ${fmt(baseRate)} POSTs/s, round trip p50 ${ms(base.p50)}, p99 ${ms(base.p99)} (${fmt(baseArrivals)} arrived)`);
  console.log(`  ratios    : drain ${(drainRate / baseRate).toFixed(2)}x the baseline's rate; burst ${(BURST / burstSeconds / baseRate).toFixed(2)}x; steady p50 ${(pct(fromChange, 50) / base.p50).toFixed(1)}x the baseline round trip`);
  const [fairP50, fairP99] = [pct(fairLatency, 50), pct(fairLatency, 99)];
  console.log(
    `  fairness  : ${hanging.length} hanging endpoints in ${HANGING_WORKSPACES.length} workspaces (${fmt(HANG_RATE)} links/s each) for ${FAIR_SECONDS} s: the healthy endpoint's ${fmt(fairN)} links at ${fmt(FAIR_RATE)}/s, commit→receiver p50 ${ms(fairP50)}, p99 ${ms(fairP99)}, max ${ms(Math.max(...fairLatency))}${fairUnique.size < fairN ? ` (${fmt(fairN - fairUnique.size)} not arrived 60 s after the last link)` : ''}`,
  );
  console.log(`              hanging receiver: ${fmt(hangStats.received)} requests, at most ${fmt(hangStats.maxOpen)} open at once; after deleting the endpoints (${ms(deleteMs)}), none open after ${ms(freedMs)}`);
  console.log(`  target    : >= 2,000 deliveries/s (drain: ${drainRate >= 2000 ? 'met' : 'NOT met'}), p50 <= 20 ms (steady: ${pct(fromChange, 50) <= 20 ? 'met' : 'NOT met'}), beside hanging endpoints p50 <= 50 ms and p99 <= 500 ms (${fairP50 <= 50 && fairP99 <= 500 ? 'met' : 'NOT met'})`);
  process.exitCode = drainUnique === BACKLOG && baseArrivals === baselineN && fairUnique.size === fairN ? 0 : 1;
}
