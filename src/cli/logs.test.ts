import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BIN, eventually, http, runCli, tempDataDir } from '../testing/harness.js';

// Runs the built bundle as an operator would (`npm run build` first).

/** `[12:34:56.789] INFO: ` (pino-pretty with the local time): the start of a readable log line. */
const PRETTY = /^\[\d\d:\d\d:\d\d\.\d{3}\] (TRACE|DEBUG|INFO|WARN|ERROR|FATAL): /;
const JSON_LINE = /^\{"level":\d+,"time":"[^"]+","app":"linkqr"/;

describe('LINKQR_LOG_FORMAT: readable lines for a person, JSON lines for a program', () => {
  const dirs: string[] = [];
  const dir = () => {
    const d = tempDataDir();
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A new database logs "migrations applied" at info: a log line to look at from any command. */
  const migrating = (env: Record<string, string>) => runCli(['workspace', 'create', 'Acme'], { dataDir: dir(), env: { LINKQR_LOG_LEVEL: 'info', ...env } });

  test('unset, to a pipe: JSON lines', async () => {
    const r = await migrating({});
    assert.equal(r.code, 0, r.stderr);
    const line = r.stderr.split('\n').find((l) => l.includes('migrations applied'));
    assert.match(line ?? '', JSON_LINE);
  });

  test('pretty: one readable line per event (time, level, message, then the other fields)', async () => {
    const r = await migrating({ LINKQR_LOG_FORMAT: 'pretty' });
    assert.equal(r.code, 0, r.stderr);
    const line = r.stderr.split('\n').find((l) => l.includes('migrations applied'));
    assert.match(line ?? '', /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: migrations applied \{"migrations":\["0001_initial",/);
    assert.doesNotMatch(r.stderr, /\x1b\[/, 'no colours when the log goes to a pipe');
    assert.match(r.stdout, /^wsp_\w+\n$/, 'stdout keeps only the result');
  });

  test('json wins over the flag-less default, and --log-format over LINKQR_LOG_FORMAT', async () => {
    const r = await runCli(['--log-format', 'json', 'workspace', 'create', 'Acme'], { dataDir: dir(), env: { LINKQR_LOG_LEVEL: 'info', LINKQR_LOG_FORMAT: 'pretty' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr.split('\n').find((l) => l.includes('migrations applied')) ?? '', JSON_LINE);
  });

  test('a bad value is one sentence naming the setting and the choices', async () => {
    const r = await runCli(['workspace', 'list'], { dataDir: dir(), env: { LINKQR_LOG_FORMAT: 'text' } });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'linkqr: Invalid configuration:\n  - LINKQR_LOG_FORMAT="text": must be pretty or json\n');
  });

  describe('unset, the format follows the stream the command logs to (stderr, for commands other than serve)', () => {
    // `script` runs the command on a pseudo-terminal; the shell inside redirects one stream to a file.
    const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
    const onTerminal = (redirect: string, outFile: string) => {
      const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} workspace create Acme ${redirect} ${JSON.stringify(outFile)}`;
      const r = spawnSync('script', ['-qec', command, '/dev/null'], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '', TERM: 'xterm', LINKQR_DATA_DIR: dir(), LINKQR_LOG_LEVEL: 'info' },
        timeout: 30_000,
      });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      return { terminal: r.stdout.replace(/\x1b\[[0-9;]*m/g, ''), file: readFileSync(outFile, 'utf8') };
    };

    test('stderr on a terminal, stdout into a file (KEY=$(linkqr …)): readable lines on the terminal', (t) => {
      if (!hasScript) return t.skip('no `script` (util-linux) to make a terminal');
      const { terminal, file } = onTerminal('>', join(dir(), 'out.txt'));
      assert.match(terminal, /\[\d\d:\d\d:\d\d\.\d{3}\] INFO: migrations applied/);
      assert.match(file, /^wsp_\w+\n$/);
    });

    test('stderr into a file, stdout on a terminal: JSON lines in the file', (t) => {
      if (!hasScript) return t.skip('no `script` (util-linux) to make a terminal');
      const { terminal, file } = onTerminal('2>', join(dir(), 'log.txt'));
      assert.match(file.split('\n').find((l) => l.includes('migrations applied')) ?? '', JSON_LINE);
      assert.match(terminal, /wsp_\w+/);
    });
  });

  describe('serve, pretty', () => {
    let output = '';
    let url = '';
    let stop: () => Promise<number | null>;
    before(async () => {
      const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
        env: { PATH: process.env.PATH ?? '', LINKQR_DATA_DIR: dir(), LINKQR_LOG_LEVEL: 'info', LINKQR_LOG_FORMAT: 'pretty' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<number | null>((r) => child.on('exit', r));
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      stop = async () => {
        child.kill('SIGTERM');
        return exited;
      };
      url = await eventually(() => /INFO: listening .*"url":"(http:\/\/[^"]+)"/.exec(output)?.[1]);
    });
    after(() => stop());

    test('a request is one line: method, path, status and time in the message, then the request id', async () => {
      const res = await http(url, 'GET', '/api/v1/me');
      assert.equal(res.status, 401);
      const id = res.headers.get('x-request-id')!;
      const line = await eventually(() => output.split('\n').find((l) => l.includes(id)));
      assert.match(line, new RegExp(`${PRETTY.source.slice(1)}request GET /api/v1/me 401 [\\d.]+ ms \\{.*"reqId":"${id}"`));
      assert.doesNotMatch(line, /"(method|path|status|ms)":/, 'the fields in the message are not repeated');
    });

    test('the setup link is printed for the person at the console, never in a log line', () => {
      const token = /\/setup\?token=([\w-]+)/.exec(output)?.[1];
      assert.ok(token, output);
      const lines = output.split('\n').filter((l) => l.includes(token));
      assert.equal(lines.length, 1);
      assert.doesNotMatch(lines[0]!, PRETTY);
      assert.ok(output.split('\n').some((l) => PRETTY.test(l) && l.includes('no user exists yet')), 'the log says where to look');
    });
  });
});
