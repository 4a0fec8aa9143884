import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { HOLDER_FILE } from '../db/data-dir-lock.js';
import { http, runCli, serveExpectingFailure, spawnServer, tempDataDir } from '../testing/harness.js';

// Runs the built bundle (`npm run build` first).

describe('one server per data dir', () => {
  const dataDir = tempDataDir();
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('a second serve on the same data dir refuses to start, naming the first; CLI commands keep working beside it', async () => {
    assert.equal((await runCli(['workspace', 'create', 'Acme'], { dataDir })).code, 0);
    const first = await spawnServer(dataDir);
    try {
      const second = await serveExpectingFailure(dataDir);
      assert.equal(second.listened, false, `two servers on one data dir:\n${second.output}`);
      assert.equal(second.code, 1, second.output);
      assert.match(
        second.stderr,
        new RegExp(`^linkqr: another linkqr server \\(pid ${first.pid}, started \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\) is using ${dataDir}; stop it or use another --data-dir\\n$`),
      );

      // The CLI goes through SQLite's own locking of the database, not the server's lock.
      const key = await runCli(['key', 'create', '--workspace', 'Acme', '--name', 'beside', '--scopes', 'links:read,links:write'], { dataDir });
      assert.equal(key.code, 0, key.stderr);
      for (const args of [['workspace', 'list'], ['key', 'list', '--workspace', 'Acme'], ['migrate', '--status'], ['audit', '--workspace', 'Acme'], ['backup', join(dataDir, 'copy.db')]]) {
        const r = await runCli(args, { dataDir });
        assert.equal(r.code, 0, `linkqr ${args.join(' ')}: ${r.stderr}`);
      }
      // Applying migrations is the one thing the CLI may not do under a running server.
      const migrate = await runCli(['migrate'], { dataDir });
      assert.equal(migrate.code, 1, migrate.stderr);
      assert.match(migrate.stderr, new RegExp(`^linkqr: another linkqr server \\(pid ${first.pid}, .* is using ${dataDir}`));
      // And the server sees what the CLI made.
      const res = await http(first.url, 'POST', '/api/v1/links', { key: key.stdout.trim(), body: { url: 'https://example.com/' } });
      assert.equal(res.status, 201, res.text);
    } finally {
      const stopped = await first.stop('SIGTERM');
      assert.equal(stopped.code, 0, stopped.output);
    }
    assert.equal(existsSync(join(dataDir, HOLDER_FILE)), false, 'a clean stop leaves no holder behind');
  });

  test('after a kill -9 the lock is gone with the process: the next serve starts, and says the last one did not stop cleanly', async () => {
    const first = await spawnServer(dataDir);
    assert.equal((await first.stop('SIGKILL')).code, null);
    const next = await spawnServer(dataDir);
    try {
      const { output } = await next.peek();
      assert.match(output, new RegExp(`"pid":${first.pid},.*"msg":"the previous server on this data dir did not stop cleanly`));
    } finally {
      assert.equal((await next.stop('SIGTERM')).code, 0);
    }
    const clean = await spawnServer(dataDir);
    const { output } = await clean.stop('SIGTERM');
    assert.doesNotMatch(output, /did not stop cleanly/, 'after a clean stop, no warning');
  });
});
