import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { ROOT, startTestServer, TEST_OPERATOR, type TestServer } from '../../../testing/harness.js';
import { apiContract } from '../../../testing/contract.js';
import { findWorkspaceByName } from '../../../workspaces/workspaces.repo.js';
import { setWorkspacePlan, upsertPlan } from '../../../workspaces/plans.js';
import { bindApi } from '../router.js';
import { API_ERROR_CODE_LIST, API_ERROR_CODES } from './error-codes.js';
import { OPERATIONS } from './operations.js';
import { type BeyondSchemaRule, fieldMatches } from './rules.js';

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

  test("the README's list of error codes names every code, after its status", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const list = /`validation_failed`,[\s\S]*?`storage_unavailable` \(503/.exec(readme)?.[0];
    assert.ok(list, 'the README lists the error codes from validation_failed to storage_unavailable');
    for (const code of API_ERROR_CODE_LIST) {
      const at = list.indexOf(`\`${code}\``);
      assert.ok(at >= 0, `the README's list names ${code}`);
      const shown: string | undefined = /\((\d{3})/.exec(list.slice(at))?.[1];
      assert.equal(Number(shown), API_ERROR_CODES[code].status, `${code}: the status after it in the README`);
    }
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

describe('the document is as strict as the server, and says what its schemas cannot', () => {
  let t: TestServer;
  let doc: any;
  let key: string;
  before(async () => {
    t = await startTestServer({ env: { LINKQR_API_RATE_LIMIT: '0', LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' } });
    doc = (await t.request('GET', '/api/v1/openapi.json')).json;
    key = await t.key();
  });
  after(() => t.close());

  const queryParameter = (path: string, name: string) => doc.paths[path].get.parameters.find((p: any) => p.name === name).schema;

  test('upper-case hex colours are valid by the document, as the server takes them (regex flags do not reach JSON Schema)', async () => {
    const link = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/colours' } })).json;
    for (const name of ['fg', 'bg']) {
      const validate = apiContract().validator(queryParameter('/links/{id}/qr', name));
      for (const colour of ['1F2937', '#1f2937', '#ABCDEF']) assert.ok(validate(colour), `${name}=${colour}`);
      assert.equal(validate('1f293g'), false);
    }
    const res = await t.request('GET', `/api/v1/links/${link.id}/qr?fg=1F2937&bg=%23FFFFFF`, { key });
    assert.equal(res.status, 200, res.text);
  });

  test('white space around a value: the document and the server judge the value as sent, then the server trims it', async () => {
    const validate = apiContract().validator({ $ref: '#/components/schemas/CreateLinkRequest' });
    const cases: [string, Record<string, unknown>][] = [
      ['a URL with spaces around', { url: '  https://example.com/spaced  ' }],
      ['a title of 200 characters with spaces around', { url: 'https://example.com/t', title: ` ${'t'.repeat(200)} ` }],
      ['a title of 198 characters with spaces around', { url: 'https://example.com/t', title: ` ${'t'.repeat(198)} ` }],
      ['a tag of 50 characters with spaces around', { url: 'https://example.com/t', tags: [` ${'g'.repeat(50)} `] }],
      ['a tag of 48 characters with spaces around', { url: 'https://example.com/t', tags: [` ${'g'.repeat(48)} `] }],
      ['a blank tag', { url: 'https://example.com/t', tags: ['   '] }],
    ];
    for (const [name, body] of cases) {
      const res = await t.request('POST', '/api/v1/links', { key, body });
      assert.equal(res.status === 201, validate(body), `${name}: the server answered ${res.status}, the document says ${validate(body) ? 'valid' : 'invalid'}`);
      if (res.status === 201 && typeof body.title === 'string') assert.equal(res.json.title, body.title.trim());
      if (res.status === 201 && name.startsWith('a URL')) assert.equal(res.json.url, 'https://example.com/spaced');
    }
  });

  // zod (4.6) counts code points as JSON Schema does; this keeps it so.
  test('lengths count characters as JSON Schema does: an emoji is one, not two UTF-16 units', async () => {
    // The URL's own limit is on its percent-encoded form (a listed rule): its emoji is counted in the title and tags.
    const body = { url: `https://example.com/${'p'.repeat(2028)}`, title: `${'t'.repeat(199)}😀`, tags: [`${'g'.repeat(49)}😀`] };
    assert.ok(apiContract().validator({ $ref: '#/components/schemas/CreateLinkRequest' })(body), 'valid by the document');
    const res = await t.request('POST', '/api/v1/links', { key, body });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.title, body.title);
    const tooLong = await t.request('POST', '/api/v1/links', { key, body: { ...body, title: `${body.title}x` } });
    assert.deepEqual(tooLong.json.errors, [{ field: 'title', message: 'must be at most 200 characters' }]);
  });

  test('every rule listed beyond the schemas is how the server refuses a request breaking it', async () => {
    const rules: BeyondSchemaRule[] = doc.info['x-rules'];
    const operationIds = new Set(OPERATIONS.map((o) => o.operationId));
    for (const rule of rules) {
      assert.ok(rule.operations.length > 0 && rule.operations.every((id) => operationIds.has(id)), `${rule.id}: operations`);
      assert.ok(doc.info.description.includes(rule.rule), `${rule.id}: listed in info.description for people`);
    }

    const link = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/rules', slug: 'rules' } })).json;
    const longLink = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/long', slug: 'l'.repeat(64) } })).json;
    const disabled = await t.request('POST', '/api/v1/webhooks', { key, body: { url: 'http://127.0.0.1:1/hook', events: ['webhook.test'], enabled: false } });
    const tight = await t.key({ workspace: 'Tight' });
    await upsertPlan(t.store.db, TEST_OPERATOR, 'tight', { features: { qr: false }, limits: { links: 0 } }, Date.now());
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, (await findWorkspaceByName(t.store.db, 'Tight'))!.id, 'tight', Date.now());
    const metered = await t.key({ workspace: 'Metered' });
    await upsertPlan(t.store.db, TEST_OPERATOR, 'metered', { features: {}, limits: { apiRequestsPerMinute: 1 } }, Date.now());
    await setWorkspacePlan(t.store.db, TEST_OPERATOR, (await findWorkspaceByName(t.store.db, 'Metered'))!.id, 'metered', Date.now());

    const breaking: Record<string, () => Promise<{ status: number; json: any }>> = {
      'link-url': () => t.request('POST', '/api/v1/links', { key, body: { url: 'https:' } }),
      // 300 CJK characters: far under 2,048 as written, 2,700 once percent-encoded.
      'link-url-encoded-length': () => t.request('POST', '/api/v1/links', { key, body: { url: `https://example.com/${'漢'.repeat(300)}` } }),
      'expires-in-future': () => t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/', expiresAt: '2001-01-01T00:00:00Z' } }),
      'webhook-url': () => t.request('POST', '/api/v1/webhooks', { key, body: { url: 'https://receiver.invalid/hook', events: ['link.created'] } }),
      'range-order': () => t.request('GET', `/api/v1/links/${link.id}/stats?from=2030-01-02&to=2030-01-01`, { key }),
      'range-buckets': () => t.request('GET', `/api/v1/links/${link.id}/stats?from=2000-01-01&to=2030-01-01&interval=hour`, { key }),
      'whole-hours': () => t.request('GET', '/api/v1/stats?from=2030-01-01T10:30:00Z&to=2030-01-02', { key }),
      'qr-contrast': () => t.request('GET', `/api/v1/links/${link.id}/qr?fg=ffffff&bg=000000`, { key }),
      'qr-size': () => t.request('GET', `/api/v1/links/${longLink.id}/qr?size=64&margin=16`, { key }),
      'qr-logo-image': () =>
        t.request('PUT', `/api/v1/links/${link.id}/qr-logo`, {
          key,
          headers: { 'content-type': 'image/svg+xml' },
          rawBody: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><script>alert(1)</script></svg>',
        }),
      'slug-unique': () => t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/again', slug: 'rules' } }),
      'target-condition': () => t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/', targets: [{ url: 'https://example.com/all' }] } }),
      'imports-at-a-time': async () => {
        const busy = await t.key({ workspace: 'Busy' });
        const workspaceId = (await findWorkspaceByName(t.store.db, 'Busy'))!.id;
        for (let i = 0; i < 3; i++) {
          // Waiting, as a long import leaves them: leased far ahead, so the runner leaves them alone.
          await t.store.db.exec(
            "insert into imports (id, workspace_id, format, dry_run, status, lease_until, created_at, updated_at) values (?, ?, 'csv', 1, 'queued', ?, ?, ?)",
            `imp_busy${i}0000000000000000`.slice(0, 24), workspaceId, Date.now() + 3_600_000, Date.now(), Date.now(),
          );
        }
        return t.request('POST', '/api/v1/imports', { key: busy, body: { format: 'csv', data: 'url\nhttps://example.com/' } });
      },
      'link-domain': () => t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/', domain: 'not-added.example' } }),
      'domain-hostname': () => t.request('POST', '/api/v1/domains', { key, body: { hostname: '10.0.0.1' } }),
      'domain-verified': async () => {
        const domain = (await t.request('POST', '/api/v1/domains', { key, body: { hostname: 'unproven.example' } })).json;
        return t.request('POST', `/api/v1/domains/${domain.id}/verify`, { key });
      },
      'domain-unique': async () => {
        await t.request('POST', '/api/v1/domains', { key, body: { hostname: 'rules.example' } });
        return t.request('POST', '/api/v1/domains', { key: tight, body: { hostname: 'RULES.example' } });
      },
      'domain-empty-to-delete': async () => {
        const domain = (await t.request('POST', '/api/v1/domains', { key, body: { hostname: 'busy.example' } })).json;
        await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/', domain: 'busy.example' } });
        return t.request('DELETE', `/api/v1/domains/${domain.id}`, { key });
      },
      'webhook-enabled': () => t.request('POST', `/api/v1/webhooks/${disabled.json.id}/test`, { key }),
      'idempotency-key-once': async () => {
        const headers = { 'idempotency-key': 'rules-once' };
        await t.request('POST', '/api/v1/links', { key, headers, body: { url: 'https://example.com/first' } });
        return t.request('POST', '/api/v1/links', { key, headers, body: { url: 'https://example.com/second' } });
      },
      'plan-limits': () => t.request('POST', '/api/v1/links', { key: tight, body: { url: 'https://example.com/' } }),
      'plan-features': () => t.request('GET', `/api/v1/links/${link.id}/qr`, { key: tight }),
      'rate-limits': async () => {
        await t.request('GET', '/api/v1/me', { key: metered });
        return t.request('GET', '/api/v1/me', { key: metered });
      },
    };
    assert.deepEqual(Object.keys(breaking).sort(), rules.map((r) => r.id).sort(), 'a request breaking each listed rule');
    for (const rule of rules) {
      const res = await breaking[rule.id]!();
      const { status, code, fields, message } = rule.refusal;
      assert.equal(res.status, status, `${rule.id}: ${JSON.stringify(res.json)}`);
      assert.equal(res.json.code, code, rule.id);
      if (fields) {
        const named = res.json.errors.filter((e: { field: string; message: string }) => fields.some((f) => fieldMatches(f, e.field)) && new RegExp(message!).test(e.message));
        assert.equal(named.length, 1, `${rule.id}: the refusal names the rule (${JSON.stringify(res.json.errors)})`);
      }
    }
  });

  test('rules JSON Schema can express are in the schemas', () => {
    const contract = apiContract();
    const valid = (schema: object, value: unknown) => contract.validator(schema)(value);
    const body = (name: string) => ({ $ref: `#/components/schemas/${name}` });
    for (const [path, name, min, max] of [['/links', 'limit', 1, 100], ['/stats', 'limit', 1, 100], ['/links/{id}/qr', 'size', 64, 2048], ['/links/{id}/qr', 'margin', 0, 16]] as const) {
      const schema = queryParameter(path, name);
      assert.equal(schema.type, 'integer', `${path} ${name}`);
      assert.deepEqual([schema.minimum, schema.maximum], [min, max], `${path} ${name}`);
    }
    for (const [value, ok] of [['2026-11-01', true], ['2026-11-01T14:00:00Z', true], ['2026-11-01T14:00:00.5+05:30', true], ['2026-02-30', false], ['2026-11-01T14:00Z', false], ['yesterday', false]] as const) {
      assert.equal(valid(queryParameter('/links/{id}/stats', 'from'), value), ok, `from=${value}`);
    }
    for (const [value, ok] of [['https://example.com/', true], ['HTTP://example.com/', true], ['', false], ['ftp://example.com/', false], ['https://exa\tmple.com/', false]] as const) {
      assert.equal(valid(body('CreateLinkRequest'), { url: value }), ok, `url=${JSON.stringify(value)}`);
      assert.equal(valid(body('CreateLinkRequest'), { url: 'https://example.com/', expiredUrl: value }), ok, `expiredUrl=${JSON.stringify(value)}`);
    }
    for (const slug of ['admin', 'API', 'Well-Known', '_']) assert.equal(valid(body('CreateLinkRequest'), { url: 'https://example.com/', slug }), false, `slug=${slug}`);
    assert.equal(valid(body('CreateLinkRequest'), { url: 'https://example.com/', slug: 'admins' }), true);
    for (const tag of ['', ' ', 'a,b']) assert.equal(valid(body('CreateLinkRequest'), { url: 'https://example.com/', tags: [tag] }), false, `tag=${JSON.stringify(tag)}`);
    assert.equal(valid(body('UpdateLinkRequest'), {}), false);
    assert.equal(valid(body('UpdateWebhookRequest'), {}), false);
    assert.equal(valid(body('CreateWebhookRequest'), { url: ' ', events: ['link.created'] }), false);
    const idempotencyKey = doc.paths['/links'].post.parameters.find((p: any) => p.name === 'Idempotency-Key').schema;
    for (const [value, ok] of [['retry-1', true], ['a b', true], [' a', false], ['a ', false], ['é', false], ['k'.repeat(255), true], ['k'.repeat(256), false]] as const) {
      assert.equal(valid(idempotencyKey, value), ok, `Idempotency-Key ${JSON.stringify(value)}`);
    }
  });
});

describe('the served document states the webhook retry schedule of this server', () => {
  const retriesOf = (doc: any) => doc.webhooks['link.created'].post.description.match(/Retries after ([^(]*) \(±20%\)/)?.[1];

  test('the default schedule', async () => {
    const t = await startTestServer();
    try {
      assert.equal(retriesOf((await t.request('GET', '/api/v1/openapi.json')).json), '5s, 5m, 30m, 2h, 5h, 10h, 14h, 20h, 24h');
    } finally {
      await t.close();
    }
  });

  test('a custom LINKQR_WEBHOOK_RETRY_SCHEDULE, also on /docs/api', async () => {
    const t = await startTestServer({ env: { LINKQR_WEBHOOK_RETRY_SCHEDULE: '1s,90s,2m,3h,1d,40d,250ms' } });
    try {
      assert.equal(retriesOf((await t.request('GET', '/api/v1/openapi.json')).json), '1s, 90s, 2m, 3h, 24h, 40d, 250ms');
      const page = await t.request('GET', '/docs/api');
      assert.match(page.text, /Retries after 1s, 90s, 2m, 3h, 24h, 40d, 250ms \(±20%\)/);
    } finally {
      await t.close();
    }
  });
});

/** METHOD /path of every route of the /api/v1 router, read from Express's own stack. */
function listApiRoutes(t: TestServer): string[] {
  const router = bindApi(t.server.deps, () => '127.0.0.1') as unknown as { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
  return router.stack.flatMap((layer) =>
    layer.route ? Object.keys(layer.route.methods).filter((m) => m !== '_all').map((m) => `${m.toUpperCase()} ${layer.route!.path}`) : [],
  );
}
