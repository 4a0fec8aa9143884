import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { manualTimers, type Timers } from '../lib/timers.js';
import { clientResponsesFrom } from '../testing/client-responses.js';
import { eventually } from '../testing/harness.js';
import { AddressGuard, type ResolveAll } from './address-guard.js';
import { createSender, parseRetryAfter, type AttemptResult, type Sender, type SenderOptions } from './sender.js';
import { generateWebhookSecret, webhookHeaders } from './signing.js';

/** Self-signed for DNS:receiver.test and IP:127.0.0.1, valid 2000–2100. Test-only key. */
const TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgpNVw4fTl3dKBqR1M
xXlNxxpSu7AAIARigBXVvGJt2pWhRANCAAQNPhjrgfc1uceG0oTnznQmgiQGzMR+
kqN8p71MKuYkD0V1iyxLaQNj+WxN4jtaqyYMzV2ZEk3r7oDRjwa6f6Xu
-----END PRIVATE KEY-----`;
const TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIBcTCCARagAwIBAgIBATAKBggqhkjOPQQDAjAYMRYwFAYDVQQDDA1yZWNlaXZl
ci50ZXN0MCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAYMRYwFAYD
VQQDDA1yZWNlaXZlci50ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEDT4Y
64H3NbnHhtKE5850JoIkBszEfpKjfKe9TCrmJA9FdYssS2kDY/lsTeI7WqsmDM1d
mRJN6+6A0Y8Gun+l7qNPME0wHgYDVR0RBBcwFYINcmVjZWl2ZXIudGVzdIcEfwAA
ATAMBgNVHRMBAf8EAjAAMB0GA1UdDgQWBBTvxNzYXz9o4PtJsbwrbedlNCNLfTAK
BggqhkjOPQQDAgNJADBGAiEApInBkS8KFjGCT80ikJDHTgil44PSZ1I80A8GsvGp
L0kCIQCFjT1IuR3ZDfrgghtnbCabCnDW+3WjfocUplS1Po8RcQ==
-----END CERTIFICATE-----`;

const LOCAL = ['127.0.0.1/32'];
// The timeouts of the tests about timeouts, whose timers the tests move by hand (manualTimers).
const CONNECT_MS = 300;
const TOTAL_MS = 600;
/** A sender for the tests about timeouts: nothing times out until the test moves its clock. */
const timedSender = (timers: Timers, opts: Partial<SenderOptions> = {}) =>
  sender({ connectTimeoutMs: CONNECT_MS, totalTimeoutMs: TOTAL_MS, timers, ...opts });

interface Received {
  method: string;
  url: string;
  rawHeaders: string[];
  body: Buffer;
}

interface Receiver {
  port: number;
  url: string;
  connections: number;
  /** Connections the client has closed. */
  closed: number;
  requests: Received[];
}

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A real HTTP(S) receiver on 127.0.0.1 that records connections and requests. */
async function receiver(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void,
  opts: { tls?: boolean } = {},
): Promise<Receiver> {
  const server = opts.tls ? https.createServer({ key: TLS_KEY, cert: TLS_CERT }) : http.createServer();
  const state: Receiver = { port: 0, url: '', connections: 0, closed: 0, requests: [] };
  server.on(opts.tls ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    state.connections++;
    socket.on('close', () => state.closed++);
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      state.requests.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${state.port}`;
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return state;
}

/** A raw TCP listener for receivers that misbehave below HTTP. */
async function tcpReceiver(onSocket: (socket: net.Socket) => void): Promise<{ port: number; connections: number }> {
  const sockets = new Set<net.Socket>();
  const state = { port: 0, connections: 0 };
  const server = net.createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return state;
}

function sender(opts: Partial<SenderOptions> = {}): Sender {
  const s = createSender({
    guard: new AddressGuard(LOCAL),
    userAgent: 'LinkQR-Webhooks/test',
    // Far beyond what any test waits for: a busy machine (a TLS handshake under load) never meets them.
    connectTimeoutMs: 60_000,
    totalTimeoutMs: 120_000,
    ...opts,
  });
  cleanups.push(() => s.close());
  return s;
}

const post = (s: Sender, url: string, body = '{"type":"webhook.test"}', headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  s.send({ url, headers, body });

/** A resolver that answers `receiver.test` with 127.0.0.1, as a real DNS name would. */
const receiverDns: ResolveAll = async (hostname) => {
  if (hostname !== 'receiver.test') throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return [{ address: '127.0.0.1', family: 4 } satisfies LookupAddress];
};

/** The result fields a scenario pins down (durations vary). */
const summary = (r: AttemptResult) => ({ outcome: r.outcome, statusCode: r.statusCode, errorClass: r.errorClass, retryAfterMs: r.retryAfterMs, responseExcerpt: r.responseExcerpt });

describe('webhook sender: what the receiver answered', () => {
  const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
  const SCENARIOS: Array<{ name: string; status: number; headers?: Record<string, string>; body?: string; expect: Partial<ReturnType<typeof summary>> }> = [
    { name: '200 with a body', status: 200, body: 'thanks', expect: { outcome: 'success', statusCode: 200, errorClass: null, responseExcerpt: 'thanks' } },
    { name: '204 no content', status: 204, expect: { outcome: 'success', statusCode: 204, errorClass: null, responseExcerpt: '' } },
    { name: '202 accepted', status: 202, body: '{"queued":true}', expect: { outcome: 'success', statusCode: 202, responseExcerpt: '{"queued":true}' } },
    { name: '410 gone', status: 410, body: 'unsubscribe', expect: { outcome: 'gone', statusCode: 410, errorClass: 'http_error', responseExcerpt: 'unsubscribe' } },
    { name: '429 with Retry-After seconds', status: 429, headers: { 'retry-after': '7' }, expect: { outcome: 'throttled', statusCode: 429, retryAfterMs: 7_000 } },
    {
      name: '503 with an HTTP-date Retry-After',
      status: 503,
      headers: { 'retry-after': new Date(NOW + 120_000).toUTCString() },
      expect: { outcome: 'throttled', statusCode: 503, retryAfterMs: 120_000 },
    },
    { name: '503 without Retry-After', status: 503, expect: { outcome: 'throttled', statusCode: 503, retryAfterMs: null } },
    { name: '429 with an unparsable Retry-After', status: 429, headers: { 'retry-after': 'soon' }, expect: { outcome: 'throttled', retryAfterMs: null } },
    { name: 'Retry-After on a 500 is not a throttle', status: 500, headers: { 'retry-after': '7' }, body: 'boom', expect: { outcome: 'failure', errorClass: 'http_error', retryAfterMs: null, responseExcerpt: 'boom' } },
    { name: '404', status: 404, body: 'no such hook', expect: { outcome: 'failure', statusCode: 404, errorClass: 'http_error', responseExcerpt: 'no such hook' } },
    { name: '304 counts as a redirect', status: 304, expect: { outcome: 'failure', statusCode: 304, errorClass: 'redirect' } },
    { name: 'UTF-8 body', status: 400, body: 'champ «url» invalide — 😀', expect: { outcome: 'failure', errorClass: 'http_error', responseExcerpt: 'champ «url» invalide — 😀' } },
  ];

  test('status codes map to outcomes, with the excerpt and Retry-After', async () => {
    const r = await receiver((req, res) => {
      const scenario = SCENARIOS[Number(req.url?.slice(1))]!;
      res.writeHead(scenario.status, scenario.headers).end(scenario.body);
    });
    const s = sender({ clock: { now: () => NOW } });
    for (const [i, scenario] of SCENARIOS.entries()) {
      const result = await post(s, `${r.url}/${i}`);
      const got = summary(result);
      const picked = Object.fromEntries(Object.keys(scenario.expect).map((k) => [k, got[k as keyof typeof got]]));
      assert.deepEqual(picked, scenario.expect, scenario.name);
      assert.equal(result.errorDetail === null, result.outcome === 'success', scenario.name);
    }
    assert.equal(r.requests.length, SCENARIOS.length);
  });

  test('a 302 is a failure and its Location target receives nothing', async () => {
    const target = await receiver((_req, res) => res.end('should not be reached'));
    const r = await receiver((_req, res) => res.writeHead(302, { location: `${target.url}/elsewhere` }).end('moved'));
    const result = await post(sender(), `${r.url}/hook`);
    assert.deepEqual(summary(result), { outcome: 'failure', statusCode: 302, errorClass: 'redirect', retryAfterMs: null, responseExcerpt: 'moved' });
    assert.match(result.errorDetail ?? '', /redirecting to http:\/\/127\.0\.0\.1:\d+\/elsewhere\. Webhooks do not follow redirects/);
    assert.equal(target.connections, 0);
    assert.equal(target.requests.length, 0);
  });

  test('the request carries exactly the given headers and body bytes, and the receiver verifies the signature', async () => {
    const secret = generateWebhookSecret();
    let verified: unknown;
    const r = await receiver((req, res, body) => {
      verified = new Webhook(secret).verify(body.toString('utf8'), req.headers as Record<string, string>);
      res.writeHead(204).end();
    });
    const body = JSON.stringify({ type: 'link.created', timestamp: '2030-01-01T00:00:00.000Z', data: { title: 'Café ☕ «ok»', url: 'https://example.com/?a=1&b=2' } });
    const headers = webhookHeaders({ msgId: 'evt_0123456789', timestampSeconds: Math.floor(Date.now() / 1000), body, secrets: [secret], userAgent: 'LinkQR-Webhooks/1.2.3' });
    const result = await sender().send({ url: `${r.url}/hooks/in?source=linkqr`, headers, body });

    assert.equal(result.outcome, 'success');
    assert.deepEqual(verified, JSON.parse(body));
    const [got] = r.requests;
    assert.ok(got);
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/hooks/in?source=linkqr');
    assert.ok(got.body.equals(Buffer.from(body, 'utf8')));
    const pairs = new Map<string, string>();
    for (let i = 0; i < got.rawHeaders.length; i += 2) pairs.set(got.rawHeaders[i]!, got.rawHeaders[i + 1]!);
    const added = { Host: `127.0.0.1:${r.port}`, Connection: 'keep-alive', 'content-length': String(Buffer.byteLength(body)) };
    assert.deepEqual(Object.fromEntries(pairs), { ...headers, ...added });
  });

  test('user-agent is filled in only when the headers lack one, and content-length always matches the body', async () => {
    const r = await receiver((_req, res) => res.end());
    const s = sender();
    await s.send({ url: r.url, headers: { 'x-a': '1', 'Content-Length': '1' }, body: 'héllo' });
    await s.send({ url: r.url, headers: { 'User-Agent': 'Custom/1' }, body: '' });
    assert.equal(headerOf(r.requests[0]!, 'user-agent'), 'LinkQR-Webhooks/test');
    assert.equal(headerOf(r.requests[0]!, 'content-length'), '6');
    assert.equal(r.requests[0]!.body.toString(), 'héllo');
    assert.equal(headerOf(r.requests[1]!, 'user-agent'), 'Custom/1');
    assert.equal(r.requests[1]!.rawHeaders.filter((h) => h.toLowerCase() === 'user-agent').length, 1);
  });
});

function headerOf(req: Received, name: string): string | undefined {
  const i = req.rawHeaders.findIndex((h, j) => j % 2 === 0 && h.toLowerCase() === name);
  return i < 0 ? undefined : req.rawHeaders[i + 1];
}

describe('webhook sender: bounded responses', () => {
  const FIVE_MB = Buffer.alloc(5 * 1024 * 1024, 'x');

  test('a 5 MB body is cut at 20,000 bytes, and memory does not grow with it', async () => {
    const r = await receiver((_req, res) => {
      res.on('error', () => {});
      res.writeHead(500, { 'content-length': FIVE_MB.length }).end(FIVE_MB);
    });
    const s = sender();
    const first = await post(s, r.url);
    assert.equal(first.outcome, 'failure');
    assert.equal(first.statusCode, 500);
    assert.equal(first.responseExcerpt, 'x'.repeat(20_000));
    assert.equal(Buffer.byteLength(first.responseExcerpt), 20_000);

    const rssBefore = process.memoryUsage().rss;
    const ATTEMPTS = 20;
    for (let i = 0; i < ATTEMPTS; i++) {
      const result = await post(s, r.url);
      assert.equal(result.responseExcerpt.length, 20_000);
    }
    const grownMb = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
    // Buffering the bodies would be 100 MB; allow for allocator noise only.
    assert.ok(grownMb < 25, `RSS grew by ${grownMb.toFixed(1)} MB over ${ATTEMPTS} attempts`);
  });

  test('a body that never ends still gives an answer as soon as 20,000 bytes are in', async () => {
    const chunk = Buffer.alloc(16 * 1024, 'y');
    const r = await receiver((_req, res) => {
      res.on('error', () => {});
      res.writeHead(200);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    // Its timers never move: the answer can only come from the bytes.
    const result = await post(timedSender(manualTimers()), r.url);
    assert.deepEqual(summary(result), { outcome: 'success', statusCode: 200, errorClass: null, retryAfterMs: null, responseExcerpt: 'y'.repeat(20_000) });
  });

  test('a multi-byte character cut at the limit is dropped, not turned into U+FFFD', async () => {
    const r = await receiver((_req, res) => res.writeHead(400).end(`${'a'.repeat(9)}é and more`));
    const result = await post(sender({ maxResponseBytes: 10 }), r.url);
    assert.equal(result.responseExcerpt, 'a'.repeat(9));
  });
});

describe('webhook sender: network failures', () => {
  test('a receiver that never answers times out at the total timeout', async () => {
    const r = await receiver(() => {});
    const timers = manualTimers();
    const sent = post(timedSender(timers), r.url);
    await eventually(() => r.requests.length === 1);
    timers.advance(TOTAL_MS);
    const result = await sent;
    assert.equal(result.outcome, 'failure');
    assert.equal(result.errorClass, 'timeout');
    assert.equal(result.statusCode, null);
    assert.equal(result.durationMs, TOTAL_MS, 'cut off by the total timeout, not before');
    assert.match(result.errorDetail ?? '', /did not answer within 0\.6 s/);
  });

  test('a status line followed by a stalled body is answered by its status when the total timeout hits', async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
    });
    const timers = manualTimers();
    const read = clientResponsesFrom(r.port);
    cleanups.push(read.stop);
    const sent = post(timedSender(timers), r.url);
    // The timeout lands once the sender has the status line and the start of the body.
    await eventually(() => read.count === 1 && read.bodyBytes === 'partial'.length);
    timers.advance(TOTAL_MS);
    const result = await sent;
    assert.deepEqual(summary(result), { outcome: 'success', statusCode: 200, errorClass: null, retryAfterMs: null, responseExcerpt: 'partial' });
    assert.equal(result.durationMs, TOTAL_MS);
  });

  test('an aborted attempt ends at once as cancelled, whatever came of the answer, and drops its connection', async () => {
    const hanging = await receiver(() => {});
    const stalled = await receiver((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
    });
    // Its timers never move: the attempt can only end by the abort.
    const s = timedSender(manualTimers());
    for (const r of [hanging, stalled]) {
      const controller = new AbortController();
      const sent = s.send({ url: r.url, headers: {}, body: '{}' }, controller.signal);
      await eventually(() => r.requests.length === 1);
      controller.abort();
      const result = await sent;
      assert.deepEqual([result.outcome, result.statusCode, result.errorClass], ['failure', null, 'cancelled']);
      await eventually(() => r.closed === 1);
    }
    const aborted = AbortSignal.abort();
    assert.equal((await s.send({ url: hanging.url, headers: {}, body: '{}' }, aborted)).errorClass, 'cancelled');
    assert.equal(hanging.requests.length, 1, 'an attempt aborted before it starts sends nothing');
  });

  test('a receiver that accepts and closes the connection is connection_reset', async () => {
    const tcp = await tcpReceiver((socket) => socket.destroy());
    const result = await post(sender(), `http://127.0.0.1:${tcp.port}/`);
    assert.equal(result.errorClass, 'connection_reset');
    assert.equal(result.outcome, 'failure');
    // A fresh connection that fails is not retried.
    assert.equal(tcp.connections, 1);
  });

  test('a closed port is connection_refused', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const result = await post(timedSender(manualTimers()), `http://127.0.0.1:${port}/`);
    assert.equal(result.errorClass, 'connection_refused');
  });

  test('an answer that is not HTTP is a protocol_error', async () => {
    const tcp = await tcpReceiver((socket) => socket.once('data', () => socket.end('SSH-2.0-OpenSSH_9.6\r\n')));
    const result = await post(sender(), `http://127.0.0.1:${tcp.port}/`);
    assert.equal(result.errorClass, 'protocol_error');
  });

  test('a name that does not resolve is dns, and a resolver that hangs is connect_timeout', async () => {
    const silent: ResolveAll = () => new Promise(() => {});
    const unknown = await post(sender({ guard: new AddressGuard(LOCAL, { resolve: receiverDns }) }), 'http://nowhere.test/');
    assert.equal(unknown.errorClass, 'dns');
    const timers = manualTimers();
    const hanging = post(timedSender(timers, { guard: new AddressGuard(LOCAL, { resolve: silent }) }), 'http://receiver.test/');
    await eventually(() => timers.pending === 2); // the total and the connect timeouts
    timers.advance(CONNECT_MS);
    const hung = await hanging;
    assert.equal(hung.errorClass, 'connect_timeout');
    assert.equal(hung.durationMs, CONNECT_MS);
  });

  test('malformed requests are failures, never exceptions', async () => {
    const r = await receiver((_req, res) => res.end());
    const s = sender();
    const cases: Array<[string, Record<string, string>, string]> = [
      [r.url, { 'x-bad': 'line\nbreak' }, 'invalid_request'],
      [r.url, { 'bad name': 'x' }, 'invalid_request'],
      ['not a url', {}, 'invalid_url'],
      ['ftp://127.0.0.1/', {}, 'invalid_url'],
    ];
    for (const [url, headers, errorClass] of cases) {
      const result = await s.send({ url, headers, body: '{}' });
      assert.equal(result.outcome, 'failure', url);
      assert.equal(result.errorClass, errorClass, `${url} ${JSON.stringify(headers)}`);
    }
    assert.equal(r.requests.length, 0);
  });
});

describe('webhook sender: address guard', () => {
  test('a blocked address is refused before any connection', async () => {
    const r = await receiver((_req, res) => res.end());
    const none = sender({ guard: new AddressGuard([], { resolve: receiverDns }) });
    const wrongNet = sender({ guard: new AddressGuard(['10.0.0.0/8'], { resolve: receiverDns }) });
    const LOOPBACK = /127\.0\.0\.1 is a loopback address.*LINKQR_WEBHOOK_ALLOWED_CIDRS/;
    const cases: Array<[Sender, string, RegExp]> = [
      [none, `${r.url}/`, LOOPBACK], // plain http to a loopback literal
      [none, `https://127.0.0.1:${r.port}/`, LOOPBACK],
      [none, `https://[::ffff:127.0.0.1]:${r.port}/`, LOOPBACK],
      [none, `https://receiver.test:${r.port}/`, LOOPBACK], // a name resolving to loopback, refused at connect time
      [none, `http://receiver.test:${r.port}/`, /must use https:\/\/.*LINKQR_WEBHOOK_ALLOWED_CIDRS, which is empty/],
      [wrongNet, `${r.url}/`, LOOPBACK],
      [wrongNet, `https://receiver.test:${r.port}/`, LOOPBACK],
      [wrongNet, `http://receiver.test:${r.port}/`, /^Refused to connect to receiver\.test: 127\.0\.0\.1 is a loopback address/],
    ];
    // Each URL first through a sender that allows it: what one sender keeps of a URL it let through
    // is its own, and twice, so that a URL a sender refused once is refused again.
    const allowing = sender({ guard: new AddressGuard(LOCAL, { resolve: receiverDns }) });
    for (const [, url] of cases) if (!url.startsWith('https')) assert.equal((await post(allowing, url)).outcome, 'success', url);
    const allowed = r.connections;
    for (const round of [1, 2]) {
      for (const [s, url, reason] of cases) {
        const result = await post(s, url);
        assert.equal(result.outcome, 'failure', `${url} (round ${round})`);
        assert.equal(result.errorClass, 'blocked_address', `${url} (round ${round})`);
        assert.match(result.errorDetail ?? '', reason, `${url} (round ${round})`);
      }
    }
    assert.equal(r.connections, allowed);
  });

  test('a host name that resolves elsewhere later is checked again at its next connection, though its URL passed before', async () => {
    // Each answer closes its connection, so every send connects anew (and resolves the name).
    const r = await receiver((_req, res) => res.setHeader('connection', 'close').end('ok'));
    let address = '127.0.0.1';
    const rebinding: ResolveAll = async () => [{ address, family: 4 }];
    const s = sender({ guard: new AddressGuard(LOCAL, { resolve: rebinding }) });
    const url = `http://receiver.test:${r.port}/in`;
    assert.equal((await post(s, url)).outcome, 'success');
    address = '169.254.169.254';
    const refused = await post(s, url);
    assert.equal(refused.errorClass, 'blocked_address');
    assert.match(refused.errorDetail ?? '', /169\.254\.169\.254/);
    assert.equal(r.requests.length, 1);
  });

  test('a host name resolving into an allowed CIDR is dialled through the pinned lookup', async () => {
    const r = await receiver((_req, res) => res.end('ok'));
    const s = sender({ guard: new AddressGuard(LOCAL, { resolve: receiverDns }) });
    const result = await post(s, `http://receiver.test:${r.port}/in`);
    assert.equal(result.outcome, 'success');
    assert.equal(headerOf(r.requests[0]!, 'host'), `receiver.test:${r.port}`);
  });
});

describe('webhook sender: connections', () => {
  test('each URL goes to its own receiver, path and query, also past the number of URLs a sender keeps', async () => {
    const receivers = [await receiver((_req, res) => res.end()), await receiver((_req, res) => res.end())];
    const s = sender();
    // 300 URLs (more than the 256 a sender keeps), the same paths on two receivers, then the first ones again.
    const urls = Array.from({ length: 300 }, (_, i) => `${receivers[i % 2]!.url}/hooks/${i >> 1}?n=${i >> 1}`);
    const sent = [...urls, ...urls.slice(0, 10)];
    for (const url of sent) assert.equal((await post(s, url)).outcome, 'success', url);
    for (const r of receivers) {
      assert.deepEqual(
        r.requests.map((q) => q.url),
        sent.filter((u) => u.startsWith(`${r.url}/`)).map((u) => u.slice(r.url.length)),
      );
    }
  });

  test('200 sequential sends to one receiver reuse one kept-alive connection', async () => {
    const r = await receiver((_req, res) => res.end('ok'));
    const s = sender();
    for (let i = 0; i < 200; i++) {
      const result = await post(s, `${r.url}/${i}`);
      assert.equal(result.outcome, 'success');
    }
    assert.equal(r.requests.length, 200);
    assert.ok(r.connections <= 2, `${r.connections} connections`);
  });

  test('concurrent sends are capped at maxSocketsPerOrigin connections', async () => {
    const r = await receiver((_req, res) => setTimeout(() => res.end('ok'), 5));
    const s = sender({ maxSocketsPerOrigin: 4 });
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => post(s, `${r.url}/${i}`)));
    assert.ok(results.every((x) => x.outcome === 'success'));
    assert.ok(r.connections <= 4, `${r.connections} connections`);
  });

  test('requests queued behind maxSocketsPerOrigin take over connected sockets without piling up listeners', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      // Each request moves the clock past the connect timeout: a connect timer wrongly started for a
      // handed-over (already connected) socket would fire and fail its attempt.
      const timers = manualTimers();
      const r = await receiver((_req, res) => {
        timers.advance(CONNECT_MS);
        setTimeout(() => res.end('ok'), 2);
      });
      const s = timedSender(timers, { maxSocketsPerOrigin: 1, totalTimeoutMs: 3_600_000 });
      const results = await Promise.all(Array.from({ length: 60 }, () => post(s, r.url)));
      assert.deepEqual(new Set(results.map((x) => x.errorClass)), new Set([null]));
      assert.equal(r.connections, 1);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings, []);
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('a kept-alive connection the receiver dropped is retried once on a new one', async () => {
    // Answers the first request on each connection, then drops the connection on the next.
    const tcp = await tcpReceiver((socket) => {
      let served = 0;
      socket.on('data', () => {
        if (served++ === 0) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
        else socket.destroy();
      });
    });
    const s = sender();
    const url = `http://127.0.0.1:${tcp.port}/`;
    assert.equal((await post(s, url)).outcome, 'success');
    assert.equal((await post(s, url)).outcome, 'success');
    assert.equal(tcp.connections, 2);
  });

  test('close() drops pooled connections, and later sends fail without throwing', async () => {
    const r = await receiver((_req, res) => res.end('ok'));
    const s = sender();
    assert.equal((await post(s, r.url)).outcome, 'success');
    assert.deepEqual([r.connections, r.closed], [1, 0]);
    s.close();
    await eventually(() => r.closed === 1);
    const result = await post(s, r.url);
    assert.equal(result.errorClass, 'sender_closed');
    assert.equal(r.connections, 1);
  });
});

describe('webhook sender: https', () => {
  const trusted = (resolve: ResolveAll = receiverDns) => sender({ guard: new AddressGuard(LOCAL, { resolve }), extraCa: [TLS_CERT] });

  test('delivers over TLS to a trusted certificate, by name and by IP literal, reusing the connection', async () => {
    const r = await receiver((_req, res) => res.end('secure'), { tls: true });
    const s = trusted();
    for (const url of [`https://receiver.test:${r.port}/a`, `https://receiver.test:${r.port}/b`, `https://127.0.0.1:${r.port}/c`]) {
      const result = await post(s, url);
      assert.deepEqual([result.outcome, result.responseExcerpt], ['success', 'secure'], url);
    }
    assert.equal(r.connections, 2); // one per origin name: receiver.test and 127.0.0.1
  });

  test('an untrusted certificate, or https to a plain-http port, is tls', async () => {
    const secure = await receiver((_req, res) => res.end(), { tls: true });
    const plain = await receiver((_req, res) => res.end());
    const untrusting = sender();
    const untrusted = await post(untrusting, `https://127.0.0.1:${secure.port}/`);
    assert.equal(untrusted.errorClass, 'tls');
    assert.match(untrusted.errorDetail ?? '', /self.signed/i);
    const wrongProtocol = await post(trusted(), `https://127.0.0.1:${plain.port}/`);
    assert.equal(wrongProtocol.errorClass, 'tls');
    assert.equal(secure.requests.length + plain.requests.length, 0);
  });

  test('a TLS handshake that never completes is connect_timeout', async () => {
    const tcp = await tcpReceiver(() => {}); // accepts TCP, never speaks TLS
    const timers = manualTimers();
    const sent = post(timedSender(timers, { guard: new AddressGuard(LOCAL, { resolve: receiverDns }), extraCa: [TLS_CERT] }), `https://127.0.0.1:${tcp.port}/`);
    await eventually(() => tcp.connections === 1);
    timers.advance(CONNECT_MS);
    const result = await sent;
    assert.equal(result.errorClass, 'connect_timeout');
    assert.equal(result.durationMs, CONNECT_MS);
    assert.match(result.errorDetail ?? '', /within 0\.3 s/);
  });
});

describe('parseRetryAfter', () => {
  const NOW = Date.UTC(2030, 0, 1, 0, 0, 0);
  const CASES: Array<[string | undefined, number | null]> = [
    [undefined, null],
    ['7', 7_000],
    ['0', 0],
    [' 120 ', 120_000],
    ['-1', null],
    ['1.5', null],
    ['7.5', null], // Date.parse would read this as a date
    ['soon', null],
    ['', null],
    ['Tue, 01 Jan 2030 00:01:30 GMT', 90_000], // IMF-fixdate
    ['Tuesday, 01-Jan-30 00:00:10 GMT', 10_000], // RFC 850
    ['Tue Jan  1 00:00:05 2030', 5_000], // asctime, no zone: GMT
    ['Mon, 31 Dec 2029 23:00:00 GMT', 0], // already past
    ['Tue, 99 Foo 2030 00:00:00 GMT', null],
  ];
  test('delay-seconds and HTTP-dates, nothing else', () => {
    for (const [value, want] of CASES) assert.equal(parseRetryAfter(value, NOW), want, String(value));
  });
});
