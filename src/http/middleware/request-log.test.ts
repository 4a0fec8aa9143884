import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually, startTestServer, type TestServer } from '../../testing/harness.js';

interface LogLine {
  level: number;
  msg: string;
  method?: string;
  path?: string;
  status?: number;
  ms?: number;
  reqId?: string;
}

const INFO = 30;
const DEBUG = 20;

describe('request log: API and admin requests at info, static files at debug', () => {
  for (const level of ['info', 'debug'] as const) {
    describe(`LINKQR_LOG_LEVEL=${level}`, () => {
      let t: TestServer;
      before(async () => {
        t = await startTestServer({ env: { LINKQR_LOG_LEVEL: level } });
      });
      after(() => t.close());
      const requestLines = () => t.logs.map((l) => JSON.parse(l) as LogLine).filter((l) => l.msg === 'request');
      /** Requests `path`; returns the response and a finder of its log line (by the id the server answered with). */
      const get = async (path: string) => {
        const res = await t.request('GET', path);
        const id = res.headers.get('x-request-id');
        assert.ok(id, `no x-request-id on ${path}`);
        return { res, line: () => requestLines().find((l) => l.reqId === id) };
      };
      // The line is written when the exchange is over, which may be just after the client has the answer.
      const lineOf = async (path: string) => {
        const { res, line } = await get(path);
        return { res, line: await eventually(line) };
      };

      test('an API request: one line at info with method, path, status and time', async () => {
        const { res, line } = await lineOf('/api/v1/me');
        assert.equal(res.status, 401);
        assert.ok(line, 'logged');
        assert.deepEqual({ level: line.level, method: line.method, path: line.path, status: line.status }, { level: INFO, method: 'GET', path: '/api/v1/me', status: 401 });
        assert.equal(typeof line.ms, 'number');
      });

      test('an admin page: one line at info', async () => {
        const { res, line } = await lineOf('/admin/login');
        assert.equal(res.status, 200);
        assert.equal(line?.level, INFO);
      });

      test(`a static file: ${level === 'info' ? 'no line at info' : 'one line at debug'}`, async () => {
        const asset = await get('/public/admin.css');
        assert.equal(asset.res.status, 200);
        if (level === 'debug') {
          assert.equal((await eventually(asset.line)).level, DEBUG);
          return;
        }
        // A request after it is logged: the static file's line would be there by now.
        await lineOf('/api/v1/me');
        assert.equal(asset.line(), undefined, 'static files are not logged at info');
      });
    });
  }
});
