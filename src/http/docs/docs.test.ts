import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from '../../testing/harness.js';
import { API_ERROR_CODE_LIST } from '../api/openapi/error-codes.js';
import { OPERATIONS } from '../api/openapi/operations.js';

describe('/docs/api: the API reference', () => {
  let t: TestServer;
  let html: string;
  let headers: Headers;
  before(async () => {
    t = await startTestServer();
    const res = await fetch(`${t.url}/docs/api`);
    assert.equal(res.status, 200);
    headers = res.headers;
    html = await res.text();
  });
  after(() => t.close());

  test('a page of this server under the pages’ CSP, whose only script is the colour scheme chooser', () => {
    assert.match(headers.get('content-type') ?? '', /^text\/html/);
    assert.match(headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.deepEqual(html.match(/<script[^>]*>/gi), [`<script src="${/<script src="([^"]+)"/.exec(html)![1]}">`]);
    assert.match(html, /<script src="\/public\/theme\.js\?v=[\w-]+"><\/script>/);
    assert.ok(html.includes(`${t.url}/api/v1`), 'the base URL of this server');
    assert.ok(html.includes('href="/api/v1/openapi.json"'));
  });

  test('every operation, with its scope', () => {
    for (const op of OPERATIONS) {
      assert.ok(html.includes(`id="${op.operationId}"`), op.operationId);
      if (typeof op.scope === 'string' && op.scope !== 'public') assert.ok(html.includes(`Scope <code>${op.scope}</code>`), `${op.operationId}: scope`);
    }
  });

  test('every error code has the anchor its problem `type` points at', async () => {
    for (const code of API_ERROR_CODE_LIST) assert.ok(html.includes(`id="problem-${code}"`), code);
    const key = await t.key();
    const problem = (await t.request('GET', '/api/v1/links/lnk_00000000000000000000', { key })).json;
    assert.equal(problem.type, '/docs/api#problem-not_found');
    assert.ok(html.includes(`id="${problem.type.split('#')[1]}"`));
  });

  test('webhook payloads of all five events, and the schemas they use', () => {
    for (const type of ['link.created', 'link.updated', 'link.deleted', 'link.clicked', 'webhook.test']) assert.ok(html.includes(`id="webhook-${type}"`), type);
    for (const schema of ['Link', 'Problem', 'LinkStats', 'WebhookEndpointWithSecret', 'CreateLinkRequest']) assert.ok(html.includes(`id="schema-${schema}"`), schema);
  });
});
