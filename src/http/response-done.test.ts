import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createLogger } from '../lib/logger.js';
import { eventually, ROOT } from '../testing/harness.js';
import { loggedStatus, onResponseDone } from './response-done.js';

describe('onResponseDone', () => {
  test('a handler that throws is logged, and the process (this test) lives on', async () => {
    const lines: string[] = [];
    const log = createLogger('info', { write: (line: string) => void lines.push(line) });
    const ran: boolean[] = [];
    const server = http.createServer((_req, res) => {
      onResponseDone(res, log, (finished) => {
        ran.push(finished);
        // What the request log did when the socket was gone.
        throw new TypeError("Cannot read properties of null (reading 'remoteAddress')");
      });
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } });
    assert.equal(await res.text(), 'ok');
    await new Promise<void>((r) => server.close(() => r()));
    assert.deepEqual(ran, [true]);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /a handler run after the response failed/);
    assert.match(lines[0]!, /remoteAddress/);
  });

  test('a client that leaves before the answer is reported as not finished, logged as 499', async () => {
    const seen: { finished: boolean; status: number }[] = [];
    const log = createLogger('silent');
    let arrived!: () => void;
    const arrival = new Promise<void>((r) => (arrived = r));
    const server = http.createServer((_req, res) => {
      onResponseDone(res, log, (finished) => seen.push({ finished, status: loggedStatus(res, finished) }));
      arrived();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const controller = new AbortController();
    const pending = fetch(`http://127.0.0.1:${port}/`, { signal: controller.signal }).catch(() => undefined);
    await arrival;
    controller.abort();
    await pending;
    await eventually(() => seen.length > 0);
    await new Promise<void>((r) => server.close(() => r()));
    assert.deepEqual(seen, [{ finished: false, status: 499 }]);
  });
});

describe('listeners on requests, responses and sockets', () => {
  // The class of bug "a throw in an event handler ends the process" stays closed only if every
  // such listener goes through onResponseDone. The webhook sender is the one exception: it is an
  // HTTP client whose listeners only settle the attempt's promise (src/webhooks/sender.test.ts).
  const ALLOWED = new Set(['src/http/response-done.ts', 'src/webhooks/sender.ts']);
  // Listeners on the server itself (listen errors), on child processes, on a PostgreSQL pool or
  // connection or on the CLI's own output (src/main.ts) are not per request.
  const LISTENER = /(?<!\bserver|\bchild|\bpool|\bconnection|\bprocess|\bprocess\.stdout)\.(?:on|once|addListener|prependListener|prependOnceListener)\(\s*['"](?:finish|close|end|error|data|aborted|timeout|drain|pipe|unpipe|readable)['"]/;

  test('server code registers them only through onResponseDone', () => {
    const offenders: string[] = [];
    for (const file of readdirSync(join(ROOT, 'src'), { recursive: true }).map(String)) {
      if (!file.endsWith('.ts') || file.endsWith('.test.ts') || file.startsWith('testing/') || file.startsWith('browser/')) continue;
      const path = `src/${file}`;
      if (ALLOWED.has(path)) continue;
      readFileSync(join(ROOT, path), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (LISTENER.test(line)) offenders.push(`${path}:${i + 1}: ${line.trim()}`);
        });
    }
    assert.deepEqual(offenders, []);
  });
});
