import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startTestServer, type TestServer } from '../../../testing/harness.js';
import { apiContract } from '../../../testing/contract.js';
import { bindApi } from '../router.js';
import { API_ERROR_CODE_LIST } from './error-codes.js';
import { OPERATIONS } from './operations.js';

describe('GET /api/v1/openapi.json', () => {
  let t: TestServer;
  let doc: any;
  before(async () => {
    t = await startTestServer();
    const res = await t.request('GET', '/api/v1/openapi.json');
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    doc = res.json;
  });
  after(() => t.close());

  test('is a valid OpenAPI 3.1 document (an independent validator)', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    assert.equal(validator.version, '3.1');
    assert.deepEqual(result.errors ?? [], [], JSON.stringify(result.errors, null, 1)?.slice(0, 2000));
    assert.equal(result.valid, true);
  });

  test('needs no key, and names this server', async () => {
    assert.equal(doc.servers[0].url, `${t.url}/api/v1`);
    assert.deepEqual(doc.paths['/openapi.json'].get.security, []);
  });

  test('documents every route Express serves under /api/v1, and no other', () => {
    const documented = OPERATIONS.map((o) => `${o.method.toUpperCase()} ${o.path.replace(/\{(\w+)\}/g, ':$1')}`).sort();
    assert.deepEqual(listApiRoutes(t).sort(), documented);
  });

  test('every operation documents its scope, the problem responses with their codes, and the rate-limit headers', () => {
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        const what = `${method.toUpperCase()} ${path}`;
        assert.ok(op.operationId && op.summary, what);
        if (path !== '/openapi.json') {
          assert.ok('x-scope' in op, `${what}: scope`);
          for (const status of ['401', '403', '429', '500']) {
            assert.ok(op.responses[status], `${what}: ${status}`);
            assert.deepEqual(op.responses[status].content['application/problem+json'].schema, { $ref: '#/components/schemas/Problem' }, `${what} ${status}`);
          }
        }
        for (const [status, response] of Object.entries<any>(op.responses)) {
          if (status === '304') continue;
          assert.ok(response.headers?.['RateLimit-Remaining'], `${what} ${status}: rate-limit headers`);
        }
      }
    }
    assert.deepEqual(doc.components.schemas.Problem.properties.code.enum, API_ERROR_CODE_LIST);
  });

  test('webhooks: all five event types with their data shapes and examples', () => {
    assert.deepEqual(Object.keys(doc.webhooks).sort(), ['link.clicked', 'link.created', 'link.deleted', 'link.updated', 'webhook.test']);
    for (const [type, item] of Object.entries<any>(doc.webhooks)) {
      const body = item.post.requestBody.content['application/json'];
      assert.equal(body.example.type, type);
      assert.ok(body.schema.$ref, type);
    }
    assert.deepEqual(Object.keys(doc.components.schemas['Event_link_clicked'].properties.data.properties), ['link', 'click']);
  });

  test('every example validates against the schema it illustrates', () => {
    const contract = apiContract();
    const examples: [string, { schema: object; example?: unknown }][] = [];
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        const body = op.requestBody?.content['application/json'];
        if (body?.example) examples.push([`${method} ${path} request`, body]);
        for (const [status, r] of Object.entries<any>(op.responses)) {
          const json = r.content?.['application/json'];
          if (json?.example) examples.push([`${method} ${path} ${status}`, json]);
        }
      }
    }
    for (const [type, item] of Object.entries<any>(doc.webhooks)) examples.push([type, item.post.requestBody.content['application/json']]);
    assert.ok(examples.length >= 8, `examples found: ${examples.map(([w]) => w).join(', ')}`);
    for (const [what, media] of examples) {
      const validate = contract.validator(media.schema);
      assert.ok(validate(media.example), `${what}: ${JSON.stringify(validate.errors)}`);
    }
    // And the validator is not vacuous: a wrong example fails.
    assert.equal(contract.validator({ $ref: '#/components/schemas/Link' })({ ...doc.paths['/links'].post.responses['201'].content['application/json'].example, clicks: -1 }), false);
  });
});

/** METHOD /path of every route of the /api/v1 router, read from Express's own stack. */
function listApiRoutes(t: TestServer): string[] {
  const router = bindApi(t.server.deps, () => '127.0.0.1') as unknown as { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
  return router.stack.flatMap((layer) =>
    layer.route ? Object.keys(layer.route.methods).filter((m) => m !== '_all').map((m) => `${m.toUpperCase()} ${layer.route!.path}`) : [],
  );
}
