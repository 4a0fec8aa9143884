/**
 * Requests generated from the OpenAPI document's own schemas (json-schema-faker), sent to a real
 * server with a key holding every scope: what the document calls valid must never be refused,
 * except by a rule the document lists as beyond its schemas (`info['x-rules']`, read here to
 * know which refusals are allowed). Path ids are real resources, so a 404 is a finding too.
 *   npm test: FUZZ_CASES (default 20) requests per operation, seed FUZZ_SEED (default 1).
 *   npm run fuzz: 300 per operation with a random seed (printed, to replay a failure).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALL_SCOPES, fakeClock, startTestServer, type TestServer } from '../../../testing/harness.js';
import { startReceiver } from '../../../testing/receiver.js';
import { apiContract } from '../../../testing/contract.js';
import { OPERATIONS, type Operation } from './operations.js';
import { fieldMatches } from './rules.js';

const CASES = Number(process.env.FUZZ_CASES ?? 20);
const SEED = Number(process.env.FUZZ_SEED ?? 1);

type Json = Record<string, any>;

interface Rule {
  id: string;
  operations: string[];
  refusal: { status: number; code: string; fields?: string[]; message?: string };
}

interface GeneratedRequest {
  path: string;
  headers: Record<string, string>;
  body?: unknown;
  /** A body that is not JSON: a QR logo. */
  rawBody?: string;
}

/** A QR logo: an image body cannot be generated from a schema, so every upload sends this one. */
const LOGO_SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 20 10"><rect width="20" height="10" rx="3" fill="#0a7"/></svg>';

/** A refusal no listed rule explains, with what caused it. */
interface Finding {
  kind: string;
  request: string;
}

describe(`requests generated from the OpenAPI schemas are never refused but by a listed rule (${CASES} per operation, seed ${SEED})`, () => {
  let t: TestServer;
  // A second passes between requests, as with a client at its own pace: the per-address quota (60
  // a minute, which the document's own fetches count against) refills instead of refusing.
  const clock = fakeClock(Date.now());
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let key: string;
  let doc: Json;
  let rules: Rule[];
  let generators: Record<Mode, (schema: Json) => unknown>;
  const shared: Record<string, string> = {};
  const findings: Finding[] = [];
  const answered = { sent: 0, succeeded: 0 };
  const usedIdempotencyKeys = new Set<string>();

  before(async () => {
    console.log(`generated requests: ${CASES} per operation, seed ${SEED} (replay: FUZZ_SEED=${SEED} FUZZ_CASES=${CASES})`);
    // json-schema-faker is an ES module only.
    const { createGeneratorSync } = await import('json-schema-faker');
    receiver = await startReceiver();
    t = await startTestServer({ clock, env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8', LINKQR_API_RATE_LIMIT: '0' } });
    key = await t.key({ scopes: ALL_SCOPES });
    doc = (await t.request('GET', '/api/v1/openapi.json')).json;
    rules = doc.info['x-rules'] ?? [];
    const widen = widenPlainStrings(mulberry32(SEED));
    const generator = (options: Parameters<typeof createGeneratorSync>[0]) => {
      // Times around now, so that some expiresAt are in the future and some stats ranges short.
      const g = createGeneratorSync({ seed: SEED, maxDefaultItems: 3, minDateTime: '2020-01-01', maxDateTime: '2040-01-01', outputTransform: widen, ...options });
      return (schema: Json) => g.generate({ ...schema, components: doc.components } as never);
    };
    generators = {
      typical: generator({ optionalsProbability: 0.5 }),
      // Only what is required: `{}` for a PATCH, no query parameters.
      minimal: generator({ optionalsProbability: 0 }),
      // Every optional field.
      full: generator({ alwaysFakeOptionals: true }),
    };
    shared.link = await newLink();
    shared.domain = await newDomain();
    shared.import = (await t.request('POST', '/api/v1/imports', { key, body: { format: 'csv', data: 'url\nhttps://example.com/imported\n', dryRun: true } })).json.id;
    shared.webhook = await newWebhook();
    shared.delivery = (await t.request('POST', `/api/v1/webhooks/${shared.webhook}/test`, { key })).json.deliveryId;
  });
  after(async () => {
    await t?.close();
    await receiver?.close();
  });

  const newLink = async () => (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/generated' } })).json.id as string;
  let domains = 0;
  const newDomain = async () => (await t.request('POST', '/api/v1/domains', { key, body: { hostname: `d${++domains}.generated.example` } })).json.id as string;
  const newWebhook = async () =>
    (await t.request('POST', '/api/v1/webhooks', { key, body: { url: `${receiver.url}/hook`, events: ['webhook.test'] } })).json.id as string;

  /** A real id for the operation's path: a fresh resource for changes and deletions, else a shared one. */
  async function idFor(op: Operation): Promise<string> {
    const kind = op.idParam?.startsWith('whk_') ? 'webhook' : op.idParam?.startsWith('dlv_') ? 'delivery' : op.idParam?.startsWith('dom_') ? 'domain' : op.idParam?.startsWith('imp_') ? 'import' : 'link';
    if (op.method === 'patch' || op.method === 'delete') return kind === 'webhook' ? newWebhook() : kind === 'domain' ? newDomain() : newLink();
    return shared[kind]!;
  }

  /**
   * One request from the document's schemas. json-schema-faker misses now and then (of two
   * patterns it follows one): each value is checked with ajv and generated again until it keeps
   * its schema; undefined when it never does.
   */
  async function generateRequest(op: Operation, random: () => number): Promise<GeneratedRequest | undefined> {
    const spec = doc.paths[op.path][op.method];
    const mode = MODES[Math.floor(random() * MODES.length)]!;
    const validValue = (schema: Json): { value: unknown } | undefined => {
      const validate = apiContract().validator(schema);
      const attempt = (m: Mode) => {
        try {
          return { value: generators[m](schema) };
        } catch {
          // It gives up on some draws (minProperties with nothing required and no optionals drawn).
          return undefined;
        }
      };
      for (let i = 0; i < 20; i++) {
        const generated = attempt(mode) ?? attempt('typical');
        if (generated && validate(generated.value)) return generated;
      }
      return undefined;
    };
    const query = new URLSearchParams();
    const headers: Record<string, string> = {};
    for (const p of spec.parameters as Json[]) {
      if (p.in === 'path' || (!p.required && (mode === 'minimal' || (mode === 'typical' && random() < 0.5)))) continue;
      const generated = validValue(p.schema);
      if (!generated) return undefined;
      const value = generated.value;
      if (p.in === 'query') query.set(p.name, String(value));
      else if (p.in === 'header') {
        // A key used again with another request is refused (409), rightly: keep each one fresh.
        // HTTP cannot carry characters beyond Latin-1 in a header.
        if (usedIdempotencyKeys.has(String(value)) || /[^\x00-\xff]/u.test(String(value))) continue;
        usedIdempotencyKeys.add(String(value));
        headers[p.name] = String(value);
      }
    }
    let body: unknown;
    const media = spec.requestBody?.content['application/json'];
    if (media && (spec.requestBody.required || mode !== 'minimal')) {
      // An import's `data` may be 64 MB by the schema, and the generator draws lengths up to that
      // (and takes a minute to): a smaller bound keeps every request valid by the document.
      const schema =
        op.operationId === 'createImport'
          ? (() => {
              const full = doc.components.schemas.CreateImportRequest;
              return { ...full, properties: { ...full.properties, data: { ...full.properties.data, maxLength: 10_000 } } };
            })()
          : media.schema;
      const generated = validValue(schema);
      if (!generated) return undefined;
      body = generated.value;
    }
    let rawBody: string | undefined;
    if (spec.requestBody?.content['image/svg+xml']) {
      rawBody = LOGO_SVG;
      headers['content-type'] = 'image/svg+xml';
    }
    const path = op.path.replace('{id}', op.idParam ? await idFor(op) : '');
    // A logo to read or remove: set it first, as a client would.
    if (op.path.endsWith('/qr-logo') && op.method !== 'put') {
      const set = await t.request('PUT', `/api/v1${path}`, { key, headers: { 'content-type': 'image/svg+xml' }, rawBody: LOGO_SVG });
      assert.equal(set.status, 200, set.text);
    }
    const qs = query.toString();
    return { path: `/api/v1${path}${qs ? `?${qs}` : ''}`, headers, body, rawBody };
  }

  function ruleExplains(rule: Rule, op: Operation, status: number, code: string, error?: { field: string; message: string }): boolean {
    const r = rule.refusal;
    if (!rule.operations.includes(op.operationId) || r.status !== status || r.code !== code) return false;
    if (r.fields === undefined) return error === undefined;
    return error !== undefined && r.fields.some((f) => fieldMatches(f, error.field)) && (r.message === undefined || new RegExp(r.message).test(error.message));
  }

  /** What in this answer no listed rule explains (nothing for a success). */
  function unexplained(op: Operation, status: number, problem: Json | undefined): string[] {
    if (status < 400) return [];
    const code = String(problem?.code ?? '(no code)');
    const errors: { field: string; message: string }[] = code === 'validation_failed' ? (problem?.errors ?? []) : [];
    if (errors.length === 0) return rules.some((r) => ruleExplains(r, op, status, code)) ? [] : [`${status} ${code}: ${problem?.detail ?? ''}`];
    return errors.filter((e) => !rules.some((r) => ruleExplains(r, op, status, code, e))).map((e) => `${status} ${code} ${e.field}: ${e.message}`);
  }

  for (const [index, op] of OPERATIONS.entries()) {
    test(`${op.method.toUpperCase()} ${op.path}`, async () => {
      const random = mulberry32(SEED * 1000 + index);
      let sent = 0;
      for (let i = 0; i < CASES; i++) {
        const request = await generateRequest(op, random);
        if (!request) continue;
        sent++;
        const res = await t.request(op.method.toUpperCase(), request.path, { key, headers: request.headers, body: request.body, rawBody: request.rawBody });
        clock.advance(1_000);
        answered.sent++;
        if (res.status < 300) answered.succeeded++;
        for (const kind of unexplained(op, res.status, res.json)) {
          findings.push({ kind: `${op.operationId}: ${kind.replace(/\d+(\.\d+)?/g, 'N')}`, request: `${op.method.toUpperCase()} ${request.path} ${JSON.stringify(request.headers)} ${JSON.stringify(request.body) ?? ''} → ${kind}` });
        }
      }
      // Not vacuous: most generated requests keep the schemas and are sent.
      assert.ok(sent >= CASES / 2, `only ${sent} of ${CASES} generated requests were valid by the document`);
    });
  }

  test('no refusal of schema-valid input but by a rule the document lists', () => {
    const kinds = new Map<string, string>();
    for (const f of findings) if (!kinds.has(f.kind)) kinds.set(f.kind, f.request);
    const report = [...kinds].map(([kind, example]) => `- ${kind}\n    e.g. ${example.slice(0, 400)}`).join('\n');
    assert.equal(kinds.size, 0, `${kinds.size} kinds of schema-valid requests refused (seed ${SEED}):\n${report}`);
    // Not vacuous: most requests get through to the work (the rules refuse the rest).
    assert.ok(answered.succeeded > answered.sent / 2, `${answered.succeeded} of ${answered.sent} succeeded`);
  });
});

type Mode = 'typical' | 'minimal' | 'full';
const MODES: Mode[] = ['typical', 'minimal', 'full'];

/**
 * json-schema-faker fills a string without pattern or format with letters and digits only. Now
 * and then this puts in what clients send too: surrounding or only white space, accented letters,
 * characters beyond U+FFFF (ajv still checks the result against the schema).
 */
function widenPlainStrings(random: () => number) {
  const extras = [' ', '\u00e9', '\u00df', '\u4e2d', '\u{1f600}'];
  return (value: unknown, schema: Json | boolean) => {
    if (typeof schema === 'boolean' || typeof value !== 'string' || schema.type !== 'string' || schema.pattern || schema.format || schema.allOf || random() < 0.7) return value;
    const r = random();
    if (r < 0.25) return ` ${value} `;
    if (r < 0.4) return ' '.repeat(Math.max(1, schema.minLength ?? 1));
    const at = Math.floor(random() * (value.length + 1));
    return value.slice(0, at) + extras[Math.floor(random() * extras.length)] + value.slice(at);
  };
}

function mulberry32(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let r = Math.imul(s ^ (s >>> 15), 1 | s);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

