import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { eventually, http, runCli, spawnServer, tempDataDir } from '../testing/harness.js';

// Needs a fresh bundle: `npm run build` (npm test does it first).

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

interface LogLine {
  msg: string;
  method?: string;
  path?: string;
  status?: number;
  clicksWritten?: number;
}

const logLines = (output: string): LogLine[] =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

/** Reads the database file directly, as an operator would after the process is gone. */
function readDb<T>(dataDir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(join(dataDir, 'linkqr.db'));
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/**
 * Sends a request's headers, then half its body once the server has read them (it answers
 * `Expect: 100-continue` when it has); `started` settles then. `finish()` sends the rest and
 * resolves with the response.
 */
function slowRequest(base: string, method: string, path: string, headers: Record<string, string>, body: string, agent: Agent) {
  const cut = Math.floor(body.length / 2);
  const req = httpRequest(base + path, {
    method,
    agent,
    headers: { ...headers, 'content-length': String(Buffer.byteLength(body)), expect: '100-continue' },
  });
  const started = new Promise<void>((resolve) => req.on('continue', () => req.write(body.slice(0, cut), () => resolve())));
  const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
  });
  req.flushHeaders();
  return {
    started,
    async finish() {
      await started;
      req.end(body.slice(cut));
      return response;
    },
  };
}

function connectionRefused(base: string): Promise<string> {
  return new Promise((resolve) => {
    const req = httpRequest(`${base}/healthz`, { agent: false }, (res) => {
      res.resume();
      resolve(`answered ${res.statusCode}`);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}


describe('serve: graceful shutdown', () => {
  let dataDir: string;
  let key: string;
  before(async () => {
    dataDir = tempDataDir();
    const user = await runCli(['user', 'create', '--email', 'owner@example.com', '--password-stdin', '--role', 'owner', '--workspace', 'Acme'], {
      dataDir,
      stdin: 'a long enough password 42\n',
    });
    assert.equal(user.code, 0, user.stderr);
    const created = await runCli(['key', 'create', '--workspace', 'Acme', '--name', 'shutdown test', '--scopes', 'links:read,links:write'], {
      dataDir,
    });
    assert.equal(created.code, 0, created.stderr);
    key = created.stdout.trim();
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  let linkId: string;

  test('SIGTERM right after a burst of 300 clicks: exit code 0 and every answered click is in the database', async () => {
    const server = await spawnServer(dataDir);
    let stopped = false;
    try {
      const created = await http(server.url, 'POST', '/api/v1/links', { key, body: { url: 'https://example.com/burst' } });
      assert.equal(created.status, 201, created.text);
      linkId = created.json.id;

      const results = await Promise.all(
        Array.from({ length: 300 }, () => http(server.url, 'GET', `/${created.json.slug}`, { headers: { 'user-agent': CHROME } })),
      );
      assert.ok(results.every((r) => r.status === 302));

      stopped = true;
      const { code, output } = await server.stop('SIGTERM');
      assert.equal(code, 0, output);
      const lines = logLines(output);
      assert.ok(lines.some((l) => l.msg === 'shutting down'), output);
      assert.ok(lines.some((l) => l.msg === 'stopped'), output);
    } finally {
      if (!stopped) await server.stop('SIGKILL');
    }

    const stored = readDb(dataDir, (db) => ({
      rows: (db.prepare('select count(*) as n from clicks where link_id = ? and bot = 0').get(linkId) as { n: number }).n,
      link: db.prepare('select clicks, total_clicks from links where id = ?').get(linkId),
    }));
    assert.equal(stored.rows, 300);
    assert.deepEqual(stored.link, { clicks: 300, total_clicks: 300 });
  });

  test('SIGTERM in the middle of sustained click traffic: every acknowledged click is stored', async () => {
    const server = await spawnServer(dataDir);
    const agent = new Agent({ keepAlive: true, maxSockets: 20 });
    let stopping: ReturnType<typeof server.stop> | undefined;
    let acknowledged = 0;
    let sent = 0;
    let stormLink: { id: string; slug: string };
    try {
      const created = await http(server.url, 'POST', '/api/v1/links', { key, body: { url: 'https://example.com/storm' } });
      assert.equal(created.status, 201, created.text);
      stormLink = created.json;
      const click = () =>
        new Promise<number>((resolve, reject) => {
          httpRequest(`${server.url}/${stormLink.slug}`, { agent, headers: { 'user-agent': CHROME } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode!));
          })
            .on('error', reject)
            .end();
        });
      // 20 clients click in a loop; the signal goes out once 200 clicks were answered, while the others are on the wire.
      const client = async () => {
        while (sent < 800) {
          sent++;
          try {
            if ((await click()) === 302) acknowledged++;
          } catch {
            return; // refused or reset: not acknowledged
          }
          if (acknowledged >= 200 && !stopping) stopping = server.stop('SIGTERM');
        }
      };
      await Promise.all(Array.from({ length: 20 }, client));
    } finally {
      agent.destroy();
      if (!stopping) await server.stop('SIGKILL');
    }
    const { code, output } = await stopping!;
    assert.equal(code, 0, output);
    assert.ok(acknowledged >= 200);

    const stored = readDb(dataDir, (db) => ({
      rows: (db.prepare('select count(*) as n from clicks where link_id = ?').get(stormLink.id) as { n: number }).n,
      counted: (db.prepare('select clicks from links where id = ?').get(stormLink.id) as { clicks: number }).clicks,
    }));
    assert.ok(stored.rows >= acknowledged, `${stored.rows} rows for ${acknowledged} acknowledged clicks`);
    assert.equal(stored.counted, stored.rows, 'the counter matches the rows');
  });

  test('after a restart the API reports the clicks written at shutdown', async () => {
    assert.ok(linkId, 'runs after the burst test');
    const server = await spawnServer(dataDir);
    try {
      const res = await http(server.url, 'GET', `/api/v1/links/${linkId}`, { key });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.clicks, 300);
      assert.notEqual(res.json.lastClickedAt, null);
    } finally {
      assert.equal((await server.stop('SIGTERM')).code, 0);
    }
  });

  /**
   * Starts the server, leaves an idle keep-alive connection open, sends the headers and half the
   * body of a POST, sends SIGTERM, checks that new connections are refused, then sends the rest.
   */
  async function sigtermDuringRequest(slug: string, agent: Agent) {
    const server = await spawnServer(dataDir);
    const idle = new Agent({ keepAlive: true });
    let stopping: ReturnType<typeof server.stop> | undefined;
    try {
      const warm = await new Promise<number>((resolve, reject) => {
        httpRequest(`${server.url}/healthz`, { agent: idle }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        })
          .on('error', reject)
          .end();
      });
      assert.equal(warm, 200);

      const body = JSON.stringify({ url: `https://example.com/${slug}`, slug, title: 'sent across the shutdown' });
      const slow = slowRequest(server.url, 'POST', '/api/v1/links', { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body, agent);
      await slow.started; // the server has the headers and half the body

      stopping = server.stop('SIGTERM');
      // The signal is handled once the listener is closed: probes are answered until then.
      const newConnection = await eventually(async () => {
        const outcome = await connectionRefused(server.url);
        return outcome === 'ECONNREFUSED' && outcome;
      });
      const res = await slow.finish();
      const stopped = await stopping;
      agent.destroy();
      idle.destroy();
      // A client that keeps its connection open (as browsers and proxies do) must not hold the
      // exit up for the force-close grace (10 s): the server says when that grace ran out.
      const forceClosed = logLines(stopped.output).some((l) => l.msg === 'closing the connections still open after the shutdown grace');
      return { newConnection, res, forceClosed, ...stopped };
    } finally {
      agent.destroy();
      idle.destroy();
      if (!stopping) await server.stop('SIGKILL');
    }
  }

  test('a request in flight when SIGTERM arrives still completes; new connections are refused meanwhile', async () => {
    const r = await sigtermDuringRequest('in-flight', new Agent({ keepAlive: false }));
    assert.match(r.newConnection, /ECONNREFUSED/);
    assert.equal(r.res.status, 201, r.res.text);
    assert.equal(JSON.parse(r.res.text).slug, 'in-flight');
    assert.equal(r.code, 0, r.output);
    assert.equal(r.forceClosed, false, 'exited without waiting for the force-close grace');

    const lines = logLines(r.output);
    const at = (pred: (l: LogLine) => boolean) => lines.findIndex(pred);
    const shuttingDown = at((l) => l.msg === 'shutting down');
    const answered = at((l) => l.msg === 'request' && l.method === 'POST' && l.path === '/api/v1/links' && l.status === 201);
    const stoppedAt = at((l) => l.msg === 'stopped');
    assert.ok(shuttingDown !== -1 && shuttingDown < answered && answered < stoppedAt, 'answered after the signal, before the stop');
    assert.deepEqual(
      readDb(dataDir, (db) => db.prepare(`select slug from links where slug = 'in-flight'`).get()),
      { slug: 'in-flight' },
    );
  });

  test(
    "a keep-alive client's in-flight request completes without holding the exit up for the force-close grace (10 s)",
    async () => {
      const r = await sigtermDuringRequest('in-flight-keep-alive', new Agent({ keepAlive: true }));
      assert.equal(r.res.status, 201, r.res.text);
      assert.equal(r.code, 0, r.output);
      assert.equal(r.forceClosed, false, 'the idle keep-alive connections were closed as they went idle, not after the grace');
    },
  );
});
