import * as z from 'zod';
import { SCOPES } from '../../../keys/scopes.js';
import { formatDuration } from '../../../lib/duration.js';
import { EVENT_TYPES } from '../../../outbox/events.js';
import { VERSION } from '../../../version.js';
import { IDEMPOTENCY_KEY_FORMAT } from '../../middleware/idempotency.js';
import { components, QUERIES } from './components.js';
import { API_ERROR_CODES, type ApiErrorCode } from './error-codes.js';
import { type Operation, OPERATIONS } from './operations.js';
import { BEYOND_SCHEMA_RULES, beyondSchemaRulesText } from './rules.js';

type Json = Record<string, unknown>;

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

/**
 * The one place zod schemas become JSON Schema 2020-12 (what OpenAPI 3.1 uses). Requests are
 * described as clients send them (before transforms), responses as sent.
 */
const JSON_SCHEMA_OPTIONS = {
  target: 'draft-2020-12',
  io: 'input',
  unrepresentable: 'any',
  override: ({ zodSchema }) => {
    // JSON Schema patterns take no flags: /[a-f]/i would be published as lower-case only.
    for (const pattern of (zodSchema._zod.bag as { patterns?: Set<RegExp> }).patterns ?? []) {
      if (pattern.flags.replace('u', '') !== '') throw new Error(`${pattern}: JSON Schema patterns have no flags; spell the cases out ([A-Fa-f])`);
    }
  },
} as const satisfies z.core.ToJSONSchemaParams;

/** The registry as JSON Schema, with refs between components. */
function componentSchemas(): Record<string, Json> {
  const { schemas } = z.toJSONSchema(components, { ...JSON_SCHEMA_OPTIONS, uri: (id) => `#/components/schemas/${id}` }) as { schemas: Record<string, Json> };
  for (const schema of Object.values(schemas)) {
    delete schema.$schema;
    delete schema.$id;
  }
  return schemas;
}

/** A strict query schema as OpenAPI parameters, one per property. */
function queryParameters(schema: z.ZodType): Json[] {
  const json = z.toJSONSchema(schema, JSON_SCHEMA_OPTIONS) as {
    properties?: Record<string, Json>;
    required?: string[];
  };
  return Object.entries(json.properties ?? {}).map(([name, s]) => {
    const { description, ...rest } = s as { description?: string };
    return { name, in: 'query', required: json.required?.includes(name) ?? false, ...(description ? { description } : {}), schema: rest };
  });
}

const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': { $ref: '#/components/headers/RateLimit-Limit' },
  'RateLimit-Remaining': { $ref: '#/components/headers/RateLimit-Remaining' },
  'RateLimit-Reset': { $ref: '#/components/headers/RateLimit-Reset' },
  'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' },
};

const codesWith = (status: number) =>
  (Object.entries(API_ERROR_CODES) as [ApiErrorCode, { status: number; meaning: string }][]).filter(([, c]) => c.status === status);

function problemResponse(status: number, codes: ApiErrorCode[], extraHeaders: Json = {}): Json {
  return {
    description: codes.map((c) => `\`${c}\`: ${API_ERROR_CODES[c].meaning}`).join('\n\n'),
    headers: { ...RATE_LIMIT_HEADERS, ...extraHeaders },
    content: { 'application/problem+json': { schema: ref('Problem') } },
  };
}

/** The error responses an operation can give, each listing its codes. */
function errorResponses(op: Operation): Record<string, Json> {
  const out: Record<string, Json> = {};
  const add = (status: number, codes: ApiErrorCode[], headers?: Json) => {
    if (codes.length > 0) out[String(status)] = problemResponse(status, codes, headers);
  };
  const isPost = op.method === 'post';
  const authenticated = op.scope !== 'public';
  add(400, [
    // Every route refuses unknown query parameters, so any can answer validation_failed.
    'validation_failed',
    // Any request may carry a body, and every body is read as JSON before the route runs.
    ...(authenticated ? (['malformed_json', 'incomplete_body'] as const) : []),
    ...(isPost ? (['invalid_idempotency_key'] as const) : []),
  ]);
  if (authenticated) add(401, codesWith(401).map(([c]) => c), { 'WWW-Authenticate': { schema: { type: 'string' }, description: 'Bearer realm="linkqr"' } });
  add(403, [
    ...(authenticated
      ? ([...(op.scope === null ? [] : ['insufficient_scope']), 'plan_feature_disabled', ...(isPost ? ['plan_limit_reached'] : []), 'ip_not_allowed'] as ApiErrorCode[])
      : []),
    'browser_origin_refused',
    ...(op.operationId === 'getLinkQr' ? (['plan_limit_reached'] as const) : []),
  ]);
  add(404, [...(op.idParam || op.answers404 ? (['not_found'] as const) : [])]);
  add(409, [...(op.conflicts ?? []), ...(isPost ? (['idempotency_key_reused', 'idempotency_key_in_progress', 'idempotency_record_unreadable'] as const) : [])]);
  if (authenticated) {
    add(413, ['payload_too_large']);
    add(415, ['unsupported_media_type']);
  }
  add(429, ['rate_limited'], { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds to wait' } });
  add(500, ['internal_error']);
  // Every operation that writes: the changes (and the first QR image, which counts against the plan).
  const writes = op.method !== 'get' || op.operationId === 'getLinkQr';
  add(503, writes ? ['storage_unavailable'] : [], { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds to wait' } });
  return out;
}

/** A QR logo, as uploaded and as served: the image itself. */
const LOGO_CONTENT = {
  'image/png': { schema: { type: 'string', contentMediaType: 'image/png', contentEncoding: 'binary' } },
  'image/svg+xml': { schema: { type: 'string', contentMediaType: 'image/svg+xml' } },
};

function successResponse(op: Operation): Json {
  const { success } = op;
  const headers: Json = { ...RATE_LIMIT_HEADERS };
  if (success.location) headers.Location = { schema: { type: 'string' }, description: 'The new resource' };
  if (op.method === 'post') headers['Idempotent-Replayed'] = { schema: { type: 'string', enum: ['true'] }, description: 'Present on a replayed response' };
  const response: Json = { description: success.description, headers };
  if (success.schema === 'qr') {
    headers.ETag = { schema: { type: 'string' }, description: 'Strong; changes with the slug and every option' };
    response.content = {
      'image/svg+xml': { schema: { type: 'string' } },
      'image/png': { schema: { type: 'string', contentMediaType: 'image/png', contentEncoding: 'binary' } },
    };
  } else if (success.schema === 'logo') {
    headers.ETag = { schema: { type: 'string' }, description: "Strong: the image's SHA-256" };
    response.content = LOGO_CONTENT;
  } else if (success.schema === 'csv') {
    headers['Content-Disposition'] = { schema: { type: 'string' }, description: 'attachment; filename="…csv"' };
    response.content = { 'text/csv': { schema: { type: 'string' } } };
  } else if (success.schema === 'document') {
    response.content = { 'application/json': { schema: { type: 'object' } } };
  } else if (success.schema) {
    response.content = { 'application/json': { schema: ref(success.schema), ...exampleFor(op) } };
  }
  return response;
}

const EXAMPLE_LINK = {
  id: 'lnk_0Vc8wlrat0mTf0KWbn7k',
  slug: 'spring',
  domain: 'go.example.com',
  shortUrl: 'https://go.example.com/spring',
  qrUrl: 'https://go.example.com/spring?qr=1',
  url: 'https://example.com/spring-sale',
  title: 'Spring sale',
  tags: ['campaign'],
  status: 'active',
  expiresAt: null,
  expiredUrl: null,
  maxClicks: 1000,
  redirectCode: 302,
  forwardQuery: true,
  targets: [{ device: 'ios', url: 'https://apps.apple.com/app/id000000000' }, { device: 'android', url: 'https://play.google.com/store/apps/details?id=com.example' }],
  passwordProtected: false,
  clicks: 0,
  lastClickedAt: null,
  createdBy: { type: 'key', id: 'VQ3Wn99JJC7c' },
  createdAt: '2026-11-27T04:09:28.422Z',
  updatedAt: '2026-11-27T04:09:28.422Z',
};
const EXAMPLE_CLICK = {
  at: '2026-11-27T09:15:02.118Z', bot: false, qr: true, referrer: null, referrerHost: null, device: 'mobile', browser: 'Safari', os: 'iOS', country: 'DE', userAgent: null,
};
const EXAMPLE_EVENTS: Record<(typeof EVENT_TYPES)[number], Json> = {
  'link.created': { type: 'link.created', timestamp: '2026-11-27T04:09:28.422Z', data: EXAMPLE_LINK },
  'link.updated': { type: 'link.updated', timestamp: '2026-11-27T05:00:00.000Z', data: { ...EXAMPLE_LINK, title: 'Spring sale (extended)', updatedAt: '2026-11-27T05:00:00.000Z' } },
  'link.deleted': { type: 'link.deleted', timestamp: '2026-12-31T23:00:00.000Z', data: EXAMPLE_LINK },
  'link.clicked': { type: 'link.clicked', timestamp: EXAMPLE_CLICK.at, data: { link: { ...EXAMPLE_LINK, clicks: 1, lastClickedAt: EXAMPLE_CLICK.at }, click: EXAMPLE_CLICK } },
  'webhook.test': { type: 'webhook.test', timestamp: '2026-11-27T04:10:00.000Z', data: { endpointId: 'whk_0Vc8wm1bQ2cD3eF4gH5i', message: 'A test event from LinkQR.' } },
};

function exampleFor(op: Operation): Json {
  if (op.operationId === 'createLink' || op.operationId === 'getLink') return { example: EXAMPLE_LINK };
  return {};
}

function operationObject(op: Operation): Json {
  const parameters: Json[] = [];
  if (op.idParam) parameters.push({ name: 'id', in: 'path', required: true, description: `The id (${op.idParam}); an id of another workspace answers 404`, schema: { type: 'string' } });
  if (op.query) parameters.push(...queryParameters(QUERIES[op.query]));
  if (op.method === 'post') {
    parameters.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description:
        'Retry safely: the same key and body within 24 h returns the first response; another body → 409 idempotency_key_reused. Per API key. 1–255 printable ASCII characters.',
      schema: { type: 'string', minLength: 1, maxLength: 255, pattern: IDEMPOTENCY_KEY_FORMAT.source },
    });
  }
  const scopeText = op.scope === 'public' ? 'No key needed.' : op.scope === null ? 'Any valid key.' : `Scope \`${op.scope}\`.`;
  const object: Json = {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    description: [op.description, scopeText].filter(Boolean).join('\n\n'),
    'x-scope': op.scope === 'public' ? null : op.scope,
    parameters,
    responses: { [String(op.success.status)]: successResponse(op), ...(op.success.schema === 'qr' || op.success.schema === 'logo' ? { 304: { description: 'Not modified (If-None-Match)', headers: RATE_LIMIT_HEADERS } } : {}), ...errorResponses(op) },
  };
  if (op.scope === 'public') object.security = [];
  if (op.body === 'logo') {
    object.requestBody = { required: true, description: 'The image itself, at most 64 KB: a PNG of at most 1024×1024 pixels, or an SVG of shapes', content: LOGO_CONTENT };
  } else if (op.body) {
    object.requestBody = {
      required: !op.bodyOptional,
      content: {
        'application/json': {
          schema: ref(op.body),
          ...(op.operationId === 'createLink' ? { example: { url: 'https://example.com/spring-sale', slug: 'spring', title: 'Spring sale', tags: ['campaign'], maxClicks: 1000 } } : {}),
        },
      },
    };
  }
  return object;
}

/** The webhook requests LinkQR sends (OpenAPI 3.1 `webhooks`), one per event type, retried on `retrySchedule`. */
function webhooks(retrySchedule: readonly number[]): Json {
  const headers = [
    { name: 'webhook-id', description: 'The event id: the same on every retry and redelivery (deduplicate on it)' },
    { name: 'webhook-timestamp', description: 'Unix seconds of this attempt (reject old ones)' },
    { name: 'webhook-signature', description: '`v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>`; two, space-separated, during a secret rotation' },
  ].map((h) => ({ ...h, in: 'header', required: true, schema: { type: 'string' } }));
  return Object.fromEntries(
    EVENT_TYPES.map((type) => [
      type,
      {
        post: {
          summary: `${type} (Standard Webhooks)`,
          description:
            `Verify with any Standard Webhooks library (e.g. the \`standardwebhooks\` npm package) using the endpoint secret. Retries after ${retrySchedule.map(formatDuration).join(', ')} (±20%).`,
          parameters: headers,
          requestBody: { required: true, content: { 'application/json': { schema: ref(`Event_${type.replace('.', '_')}`), example: EXAMPLE_EVENTS[type] } } },
          responses: {
            '2XX': { description: 'Delivered' },
            '410': { description: 'Gone: LinkQR disables the endpoint' },
            '429': { description: 'Retried after Retry-After (clamped to 1 s … 24 h)' },
            default: { description: 'Failed: retried on the schedule' },
          },
        },
      },
    ]),
  );
}

export interface OpenApiOptions {
  /** Where this server is. */
  baseUrl: string;
  /** The delays between webhook attempts this server uses (LINKQR_WEBHOOK_RETRY_SCHEDULE). */
  webhookRetrySchedule: readonly number[];
}

/** The OpenAPI 3.1 document of /api/v1, for a server at `baseUrl`. */
export function buildOpenApiDocument({ baseUrl, webhookRetrySchedule }: OpenApiOptions): Json {
  const paths: Record<string, Json> = {};
  for (const op of OPERATIONS) (paths[op.path] ??= {})[op.method] = operationObject(op);
  return {
    openapi: '3.1.0',
    info: {
      title: 'LinkQR API',
      version: VERSION,
      description:
        'Short links, QR codes, click analytics and signed webhooks. Authenticate with `Authorization: Bearer <API key>`; keys are secrets for servers and scripts, never for browser code. Errors are RFC 9457 problem+json with a stable `code`; a path asked with a method it does not answer gets 405 `method_not_allowed` with an `Allow` header. Lists take `limit` (1–100, default 50) and `after` (the previous page\'s `nextCursor`). Unknown query parameters and body fields are refused (400). Times are ISO 8601, UTC.' +
        `\n\n${beyondSchemaRulesText()}`,
      'x-rules': BEYOND_SCHEMA_RULES,
    },
    servers: [{ url: `${baseUrl}/api/v1` }],
    security: [{ bearerAuth: [] }],
    tags: [
      { name: 'Keys', description: 'The calling key' },
      { name: 'Links', description: 'Short links' },
      { name: 'Domains', description: "The workspace's own domains for short links" },
      { name: 'Imports', description: 'Links from a file: LinkQR CSV, Bitly, Shlink, Kutt, YOURLS' },
      { name: 'QR codes', description: 'QR images of short links' },
      { name: 'Analytics', description: 'Clicks, exact at any range' },
      { name: 'Webhooks', description: 'Endpoints and their deliveries' },
      { name: 'Events', description: 'The event log webhooks deliver' },
      { name: 'Contract', description: 'This document' },
    ],
    paths,
    webhooks: webhooks(webhookRetrySchedule),
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'lqr_<12 id>_<32 secret>_<6 checksum>',
          description: `An API key with scopes: ${SCOPES.map((s) => `\`${s}\``).join(', ')}. Each operation names the scope it needs (\`x-scope\`).`,
        },
      },
      headers: {
        'RateLimit-Limit': { description: 'Requests allowed per window for this key (or address)', schema: { type: 'integer' } },
        'RateLimit-Remaining': { description: 'Requests left in the current window', schema: { type: 'integer' } },
        'RateLimit-Reset': { description: 'Seconds until the window resets', schema: { type: 'integer' } },
        'X-Request-Id': { description: 'This request in the server log (your X-Request-Id when you send one)', schema: { type: 'string' } },
      },
    },
  };
}
