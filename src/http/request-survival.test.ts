/**
 * No request can end the server process: bodies over the limit (declared or chunked), clients that
 * go away mid-body or mid-response, on the API (with a key, where the request log runs), the admin
 * forms and /setup. The server runs as a real `linkqr serve` child process, so a crash is an exit.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { runCli, type ServerProcess, spawnServer, tempDataDir } from '../testing/harness.js';

interface Answer {
  status: number;
  head: string;
  body: string;
}

const OVER_LIMIT = 70_000;

/** Sends a raw HTTP/1.1 request and reads the answer (or whatever arrived before the server closed). */
function exchange(base: string, head: string, body: Buffer | Buffer[]): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let received = '';
    let answer: Answer | undefined;
    // Done once the whole answer is in (by its Content-Length): the connection may stay open.
    socket.on('data', (d) => {
      received += d.toString('latin1');
      const split = received.indexOf('\r\n\r\n');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(received);
      const length = /\r\ncontent-length: (\d+)/i.exec(received.slice(0, split));
      if (match && split !== -1 && length && received.length - split - 4 >= Number(length[1])) {
        answer = { status: Number(match[1]), head: received.slice(0, split), body: received.slice(split + 4) };
        socket.destroy();
      }
    });
    // The server may close while the body is still being sent: that is allowed, the answer counts.
    socket.on('error', () => {});
    socket.on('close', () => {
      if (answer) return resolve(answer);
      reject(new Error(`no whole HTTP answer; received ${JSON.stringify(received.slice(0, 200))}`));
    });
    socket.on('connect', async () => {
      socket.write(head);
      for (const part of Array.isArray(body) ? body : [body]) {
        if (socket.destroyed) break;
        socket.write(part);
        await new Promise((r) => setImmediate(r));
      }
      // The test reads until the server answers (then closes) or closes. A server that waits for
      // more forever gets the end of the request after a minute, and the test fails on its answer.
      setTimeout(() => socket.end(), 60_000).unref();
    });
  });
}

/**
 * Sends the start of a body that would never end (declared 100 MB, or chunked forever): 1 MB, then
 * waits without ending the request. Only a server that refuses once the limit is passed can answer:
 * one that reads a refused body to its end waits for the rest and never does. (Counting the bytes
 * sent before the answer does not tell these apart: the kernel buffers up to tens of MB on loopback
 * while a busy server has not yet answered.) Then the server must close the connection, not keep
 * taking the body behind its answer: `closedAfterMs` is how long that took (up to 10 s).
 */
function streamUntilAnswered(base: string, head: string, chunked: boolean): Promise<{ status: number; sentBytes: number; closedAfterMs?: number }> {
  const { hostname, port } = new URL(base);
  const piece = Buffer.alloc(16_384, 0x61);
  const framed = chunked ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]) : piece;
  const sendAtMost = 1_048_576;
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let received = '';
    let sent = 0;
    let status = 0;
    let answeredAt = 0;
    let done = false;
    const finish = (closedAfterMs?: number) => {
      if (done) return;
      done = true;
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ status, sentBytes: sent, closedAfterMs });
    };
    let giveUp = setTimeout(() => finish(), 30_000);
    socket.on('data', (d) => {
      if (status !== 0) return;
      received += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(received);
      if (!m) return;
      status = Number(m[1]);
      answeredAt = performance.now();
      clearTimeout(giveUp);
      giveUp = setTimeout(() => finish(), 10_000);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (status !== 0) return finish(performance.now() - answeredAt);
      if (!done) reject(new Error(`closed without an answer after ${sent} bytes`));
    });
    socket.on('connect', async () => {
      socket.write(head);
      while (status === 0 && !done && sent < sendAtMost) {
        if (!socket.write(framed)) await new Promise((r) => socket.once('drain', r));
        sent += piece.length;
      }
    });
  });
}

/** Writes part of a request, then drops the connection. */
function abortMidBody(base: string, head: string, partial: Buffer): Promise<void> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(head);
      socket.write(partial, () => setTimeout(() => socket.destroy(), 20));
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
}

/** Sends a whole request, then drops the connection as soon as the first bytes of the answer arrive. */
function abortMidResponse(base: string, head: string, body = ''): Promise<void> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(head + body));
    socket.once('data', () => socket.destroy());
    socket.on('error', () => {});
    socket.on('close', () => resolve());
  });
}

const chunked = (total: number, size = 8_192): Buffer[] => {
  const parts: Buffer[] = [];
  for (let sent = 0; sent < total; sent += size) {
    const n = Math.min(size, total - sent);
    parts.push(Buffer.from(`${n.toString(16)}\r\n${' '.repeat(n)}\r\n`));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return parts;
};

describe('no request ends the server process', () => {
  let dataDir: string;
  let server: ServerProcess;
  let key: string;

  before(async () => {
    dataDir = tempDataDir();
    assert.equal((await runCli(['workspace', 'create', 'Acme'], { dataDir })).code, 0);
    // The weakest scope is enough to reach the request log, where the crash was.
    const created = await runCli(['key', 'create', '--workspace', 'Acme', '--name', 'reader', '--scopes', 'links:read'], { dataDir });
    assert.equal(created.code, 0, created.stderr);
    key = created.stdout.trim();
    // No user yet: /setup is open and its form is parsed.
    server = await spawnServer(dataDir);
  });

  after(async () => {
    await server?.stop('SIGKILL').catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
  });

  const host = () => new URL(server.url).host;
  const targets = () => [
    // A route the key lacks the scope for: the body is read (and refused) before the scope is checked.
    { name: 'API with a key', path: '/api/v1/webhooks', type: 'application/json', auth: `Authorization: Bearer ${key}\r\n`, api: true },
    { name: 'API link create', path: '/api/v1/links', type: 'application/json', auth: `Authorization: Bearer ${key}\r\n`, api: true },
    { name: 'admin sign-in form', path: '/admin/login', type: 'application/x-www-form-urlencoded', auth: '', api: false },
    { name: 'admin page form', path: '/admin/links', type: 'application/x-www-form-urlencoded', auth: '', api: false },
    { name: 'setup form', path: '/setup', type: 'application/x-www-form-urlencoded', auth: '', api: false, referrerPolicy: 'no-referrer' },
  ];

  const assertTooLarge = (target: { api: boolean; referrerPolicy?: string }, answer: Answer) => {
    assert.equal(answer.status, 413, answer.head);
    // The setup page's URL carries its token: its error pages send no referrer either.
    if (target.referrerPolicy) assert.match(answer.head, new RegExp(`\r\nreferrer-policy: ${target.referrerPolicy}\r\n`, 'i'));
    if (target.api) {
      assert.match(answer.head, /content-type: application\/problem\+json/i);
      assert.equal(JSON.parse(answer.body).code, 'payload_too_large');
    } else {
      assert.match(answer.head, /content-type: text\/html/i);
      assert.match(answer.body, /larger than/);
    }
  };

  test('a body over the limit with a Content-Length answers 413 on every form and API route', async () => {
    for (const t of targets()) {
      const head = `POST ${t.path} HTTP/1.1\r\nHost: ${host()}\r\n${t.auth}Content-Type: ${t.type}\r\nContent-Length: ${OVER_LIMIT}\r\n\r\n`;
      assertTooLarge(t, await exchange(server.url, head, Buffer.alloc(OVER_LIMIT, 0x20)));
    }
  });

  test('a chunked body over the limit answers 413 on every form and API route, and the server lives on', async () => {
    for (const t of targets()) {
      const head = `POST ${t.path} HTTP/1.1\r\nHost: ${host()}\r\n${t.auth}Content-Type: ${t.type}\r\nTransfer-Encoding: chunked\r\n\r\n`;
      assertTooLarge(t, await exchange(server.url, head, chunked(OVER_LIMIT)));
      const health = await fetch(`${server.url}/healthz`);
      assert.equal(health.status, 200, `the server died after a chunked body to the ${t.name}`);
    }
  });

  test('a body that would never end is refused at once, not read to its end (declared 100 MB, or chunked forever)', async () => {
    for (const t of targets()) {
      for (const chunked of [false, true]) {
        const framing = chunked ? 'Transfer-Encoding: chunked' : 'Content-Length: 100000000';
        const head = `POST ${t.path} HTTP/1.1\r\nHost: ${host()}\r\n${t.auth}Content-Type: ${t.type}\r\n${framing}\r\n\r\n`;
        const { status, sentBytes, closedAfterMs } = await streamUntilAnswered(server.url, head, chunked);
        assert.equal(status, 413, `${t.name}, ${framing}: no answer after ${sentBytes} bytes and 30 s`);
        // The server lingers (2 s) so that its 413 is read, then closes: the body goes no further.
        assert.ok(closedAfterMs !== undefined, `${t.name}, ${framing}: the connection was still open 10 s after the 413`);
      }
    }
  });

  test('a compressed form or JSON body is refused 415, not inflated (and no error is logged)', async () => {
    for (const t of targets()) {
      for (const encoding of ['gzip', 'deflate', 'br']) {
        const head = `POST ${t.path} HTTP/1.1\r\nHost: ${host()}\r\n${t.auth}Content-Type: ${t.type}\r\nContent-Encoding: ${encoding}\r\nContent-Length: 1\r\n\r\n`;
        const answer = await exchange(server.url, head, Buffer.from('x'));
        assert.equal(answer.status, 415, `${t.name} ${encoding}: ${answer.head}`);
      }
    }
  });

  test('clients that go away mid-body or mid-response leave the server serving', async () => {
    for (const t of targets()) {
      const declared = `POST ${t.path} HTTP/1.1\r\nHost: ${host()}\r\n${t.auth}Content-Type: ${t.type}\r\nContent-Length: 5000\r\n\r\n`;
      await abortMidBody(server.url, declared, Buffer.alloc(1_000, 0x20));
      const streamed = `POST ${t.path} HTTP/1.1\r\nHost: ${host()}\r\n${t.auth}Content-Type: ${t.type}\r\nTransfer-Encoding: chunked\r\n\r\n`;
      await abortMidBody(server.url, streamed, Buffer.concat(chunked(3_000).slice(0, 1)));
      const body = t.api ? '{"url":"https://example.com/a"}' : 'email=a%40example.com&password=x';
      const whole = `POST ${t.path} HTTP/1.1\r\nHost: ${host()}\r\n${t.auth}Content-Type: ${t.type}\r\nContent-Length: ${body.length}\r\n\r\n`;
      await abortMidResponse(server.url, whole, body);
    }
    // A large answer (the OpenAPI document, the API reference page) cut off after its first bytes.
    for (const path of ['/api/v1/openapi.json', '/docs/api', '/admin/login', '/setup']) {
      await abortMidResponse(server.url, `GET ${path} HTTP/1.1\r\nHost: ${host()}\r\nAuthorization: Bearer ${key}\r\n\r\n`);
    }
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    const me = await fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(me.status, 200);
  });

  test('after all of it, the server stops cleanly and logged every exchange, the cut-off ones as aborted', async () => {
    const { output } = await server.peek();
    assert.doesNotMatch(output, /TypeError|uncaught|unhandled error/i);
    const lines = output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; status?: number; aborted?: boolean; path?: string; ip?: string });
    const requests = lines.filter((l) => l.msg === 'request');
    assert.ok(requests.some((l) => l.status === 413 && l.path === '/api/v1/webhooks' && l.ip === '127.0.0.1'));
    assert.ok(requests.some((l) => l.aborted === true), 'no request was logged as aborted');
    const stopped = await server.stop('SIGTERM');
    assert.equal(stopped.code, 0, stopped.output.slice(-2_000));
  });
});
