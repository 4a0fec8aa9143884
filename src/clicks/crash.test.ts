import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { DB_FILE } from '../db/files.js';
import { http, runCli, type ServerProcess, spawnServer, tempDataDir } from '../testing/harness.js';

// Runs the built bundle as a child process (`npm run build` first), and kills it for real.

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const CLIENTS = 20;

/**
 * CLIENTS keep-alive clients request `/slug` in a loop until `stop()` says so, a 410 says the
 * link is used up, or the connection dies (the server was killed). Returns the 302s received.
 */
async function burst(base: string, slug: string, stop: (redirects: number) => boolean): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  let redirects = 0;
  const once = () =>
    new Promise<number>((resolve, reject) => {
      request(`${base}/${slug}`, { agent, headers: { 'user-agent': CHROME } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
  const client = async () => {
    while (!stop(redirects)) {
      let status: number;
      try {
        status = await once();
      } catch {
        return; // killed: whatever was in flight was not answered
      }
      if (status === 302) redirects++;
      else if (status === 410) return;
      else throw new Error(`unexpected status ${status}`);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  agent.destroy();
  return redirects;
}

describe('maxClicks across kill -9', () => {
  const dataDir = tempDataDir();
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('kills during bursts at a link with maxClicks 300: after the restarts it has answered at most 300 redirects, and counted each', async () => {
    assert.equal((await runCli(['workspace', 'create', 'Acme'], { dataDir })).code, 0);
    const made = await runCli(['key', 'create', '--workspace', 'Acme', '--name', 'crash', '--scopes', 'links:read,links:write'], { dataDir });
    assert.equal(made.code, 0, made.stderr);
    const key = made.stdout.trim();

    let server: ServerProcess = await spawnServer(dataDir);
    const link = await http(server.url, 'POST', '/api/v1/links', { key, body: { url: 'https://example.com/limited', maxClicks: 300 } });
    assert.equal(link.status, 201, link.text);

    let answered = 0;
    for (const killAt of [80, 160]) {
      // The kill lands while requests are in flight and clicks are being recorded.
      let killing: Promise<unknown> | undefined;
      answered += await burst(server.url, link.json.slug, (n) => {
        if (answered + n >= killAt && !killing) killing = server.stop('SIGKILL');
        return false;
      });
      await killing;
      server = await spawnServer(dataDir);
    }
    answered += await burst(server.url, link.json.slug, () => false);

    const after = await http(server.url, 'GET', `/api/v1/links/${link.json.id}`, { key });
    await server.stop('SIGTERM');
    const db = new Database(join(dataDir, DB_FILE), { readonly: true });
    const rows = (db.prepare('select count(*) as n from clicks where link_id = ? and bot = 0').get(link.json.id) as { n: number }).n;
    db.close();

    assert.ok(answered <= 300, `${answered} redirects answered for maxClicks 300`);
    // A click is written before its redirect leaves: those the kill cut off on the wire may be
    // counted without having been received, never the other way round.
    assert.ok(after.json.clicks >= answered, `${after.json.clicks} clicks counted for ${answered} redirects received`);
    assert.equal(after.json.clicks, 300, 'used up');
    assert.equal(rows, 300, 'one row per counted click');
  });
});
