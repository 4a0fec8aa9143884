import * as z from 'zod';
import { clicksExportQuery, linkStatsQuery, listClicksQuery, workspaceStatsQuery } from '../../../analytics/stats.schema.js';
import { SCOPES } from '../../../keys/scopes.js';
import { createLinkBody, exportLinksQuery, listLinksQuery, updateLinkBody } from '../../../links/links.schema.js';
import { createDomainBody, listDomainsQuery, updateDomainBody } from '../../../domains/domains.schema.js';
import { createImportBody, listImportRowsQuery } from '../../../imports/imports.service.js';
import { IMPORT_FORMATS } from '../../../imports/parse-import.js';
import { EVENT_TYPES } from '../../../outbox/events.js';
import { qrOptionsSchema } from '../../../qr/qr.js';
import { createWebhookBody, listDeliveriesQuery, listEventsQuery, listWebhooksQuery, rotateSecretBody, updateWebhookBody } from '../../../webhooks/webhooks.schema.js';
import { PLAN_LIMITS } from '../../../workspaces/plan-catalog.js';
import { API_ERROR_CODE_LIST } from './error-codes.js';

/**
 * The schemas of the OpenAPI document. Request bodies and query strings are the very zod schemas
 * the routes validate with (imported above); responses are described here, strictly (no field
 * beyond those listed), so a response that grows or drifts fails the contract tests.
 */
export const components = z.registry<{ id: string }>();
const named = <T extends z.ZodType>(id: string, schema: T): T => {
  components.add(schema, { id });
  return schema;
};

const time = z.string().meta({ format: 'date-time', description: 'ISO 8601, UTC' });
const nullableTime = time.nullable();
const count = z.number().int().min(0);

export const Problem = named(
  'Problem',
  z
    .object({
      type: z.string().meta({ description: 'A link to this code on /docs/api' }),
      title: z.string(),
      status: z.number().int(),
      detail: z.string().meta({ description: 'What went wrong and what to do, for people' }),
      code: z.enum(API_ERROR_CODE_LIST).meta({ description: 'Stable, for programs: see the error codes on /docs/api' }),
      errors: z.array(z.strictObject({ field: z.string(), message: z.string() })).optional(),
      requestId: z.string().optional(),
    })
    // RFC 9457 extension members, e.g. plan, limit, usage, max of plan_limit_reached.
    .catchall(z.unknown())
    .meta({ description: 'RFC 9457 problem details' }),
);

const Creator = z.strictObject({ type: z.enum(['user', 'key']), id: z.string() }).nullable();

export const Link = named(
  'Link',
  z.strictObject({
    id: z.string().meta({ examples: ['lnk_0Vc8wlrat0mTf0KWbn7k'] }),
    domain: z.string().meta({ description: "The host name of the short URL: this server's own, or a domain the workspace added", examples: ['go.example.com'] }),
    slug: z.string(),
    shortUrl: z.string().meta({ format: 'uri' }),
    qrUrl: z.string().meta({ format: 'uri', description: 'The URL to encode in QR codes: scans through it count as QR scans' }),
    // The destination as given: it may hold non-ASCII characters (an IRI).
    url: z.string().meta({ format: 'iri' }),
    title: z.string().nullable(),
    tags: z.array(z.string()),
    status: z.enum(['active', 'disabled']),
    expiresAt: nullableTime,
    expiredUrl: z.string().nullable(),
    maxClicks: z.number().int().nullable(),
    redirectCode: z.union([z.literal(301), z.literal(302), z.literal(307), z.literal(308)]),
    forwardQuery: z.boolean().meta({
      description: 'The query string a visitor adds to the short URL is added to the destination (parameters the destination has keep its value; qr=1 is not forwarded)',
    }),
    targets: z
      .array(z.strictObject({ device: z.enum(['ios', 'android', 'desktop']).optional(), country: z.string().optional(), url: z.string().meta({ format: 'iri' }) }))
      .meta({ description: 'Destinations by device and country, first match wins; empty: every visitor goes to `url`' }),
    passwordProtected: z.boolean().meta({ description: 'Visitors type a password before being redirected (the password itself is never returned)' }),
    clicks: count.meta({ description: 'Human clicks (what maxClicks limits)' }),
    lastClickedAt: nullableTime,
    createdBy: Creator,
    createdAt: time,
    updatedAt: time,
  }),
);

const page = <T extends z.ZodType>(id: string, item: T) =>
  named(id, z.strictObject({ data: z.array(item), nextCursor: z.string().nullable().meta({ description: 'Pass as ?after= for the next page; null on the last' }) }));

export const LinkList = page('LinkList', Link);

export const Domain = named(
  'Domain',
  z.strictObject({
    id: z.string().meta({ examples: ['dom_0Vc8wlrat0mTf0KWbn7k'] }),
    hostname: z.string().meta({ examples: ['go.example.com'] }),
    rootRedirect: z.string().nullable().meta({ description: 'Where `/` sends visitors; null: a short page naming the domain' }),
    notFoundRedirect: z.string().nullable().meta({ description: 'Where unknown slugs send visitors; null: the 404 page' }),
    verified: z.boolean().meta({ description: 'Proven by its TXT record: only then does it get redirects and TLS' }),
    verifiedAt: nullableTime,
    verification: z.strictObject({
      type: z.literal('TXT'),
      name: z.string().meta({ examples: ['_linkqr.go.example.com'] }),
      value: z.string().meta({ examples: ['linkqr-verification=3kT9vQx2LmP8rW4nZ7yB1cD6'] }),
    }).meta({ description: 'The DNS record to add, then POST /domains/{id}/verify' }),
    createdAt: time,
    updatedAt: time,
  }),
);
export const DomainList = page('DomainList', Domain);

const ImportRowItem = z.strictObject({
  line: count,
  outcome: z.enum(['created', 'would_create', 'invalid', 'conflict', 'over_limit']),
  slug: z.string().nullable(),
  problems: z.array(z.strictObject({ field: z.string(), message: z.string() })),
});

export const Import = named(
  'Import',
  z.strictObject({
    id: z.string().meta({ examples: ['imp_0Vc8wlrat0mTf0KWbn7k'] }),
    format: z.enum(IMPORT_FORMATS),
    dryRun: z.boolean(),
    domain: z.string().nullable().meta({ description: "The domain every link goes on ('' this server's host); null: each row's own" }),
    status: z.enum(['queued', 'running', 'done', 'failed']),
    total: count.meta({ description: 'Rows in the file (0 until it is read)' }),
    processed: count,
    created: count.meta({ description: 'Links created (a dry run: that would be)' }),
    skipped: count.meta({ description: 'Rows not imported: invalid, a slug taken, over the plan' }),
    error: z.string().nullable().meta({ description: 'Why a failed import stopped (a file that is not the format chosen, say)' }),
    createdAt: time,
    finishedAt: nullableTime,
    problems: z
      .array(ImportRowItem)
      .meta({ description: 'The first 100 rows not imported (invalid, a slug taken, over the plan), in file order; every row: GET /imports/{id}/rows' }),
  }),
);
export const ImportRowList = page('ImportRowList', ImportRowItem.extend({ linkId: z.string().nullable() }));

export const Me = named(
  'Me',
  z.strictObject({
    id: z.string(),
    name: z.string(),
    environment: z.string(),
    scopes: z.array(z.enum(SCOPES)),
    expiresAt: nullableTime,
    workspace: z.strictObject({
      id: z.string(),
      name: z.string(),
      plan: z.string(),
      usage: z.strictObject({
        plan: z.string(),
        features: z.record(z.string(), z.boolean()),
        period: z.string().meta({ description: 'YYYY-MM (UTC): the month of clicksPerMonth' }),
        limits: z.partialRecord(
          z.enum(PLAN_LIMITS),
          z.strictObject({ used: count.optional(), max: count.nullable().meta({ description: 'null: no limit' }), overage: count.optional() }),
        ),
      }),
    }),
  }),
);

export const WebhookEndpoint = named(
  'WebhookEndpoint',
  z.strictObject({
    id: z.string(),
    url: z.string().meta({ format: 'iri' }),
    description: z.string(),
    events: z.array(z.enum(EVENT_TYPES)),
    enabled: z.boolean(),
    disabledReason: z.string().nullable().meta({ description: 'Why LinkQR disabled it (410, 5 days of failures); null when a person did' }),
    previousSecretExpiresAt: nullableTime,
    needsSecretRotation: z.boolean().meta({
      description:
        "true when the server's at-rest key cannot read the signing secret (LINKQR_SECRET changed or linkqr.key lost): deliveries wait, pending, until the secret is rotated",
    }),
    failingSince: nullableTime,
    lastSuccessAt: nullableTime.meta({ description: 'When a delivery last succeeded, to within a second (a stream of successes writes it once a second)' }),
    createdAt: time,
    updatedAt: time,
  }),
);
export const WebhookEndpointWithSecret = named(
  'WebhookEndpointWithSecret',
  WebhookEndpoint.extend({ secret: z.string().meta({ description: 'whsec_…: shown this once', examples: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] }) }),
);
export const WebhookEndpointList = page('WebhookEndpointList', WebhookEndpoint);

const Attempt = z.strictObject({
  at: time,
  durationMs: count,
  outcome: z.enum(['success', 'failure', 'gone', 'throttled']),
  statusCode: z.number().int().nullable(),
  errorClass: z.string().nullable(),
  errorDetail: z.string().nullable(),
  responseExcerpt: z.string().nullable(),
});
export const Delivery = named(
  'Delivery',
  z.strictObject({
    id: z.string(),
    endpointId: z.string(),
    eventId: z.string(),
    eventType: z.enum(EVENT_TYPES),
    status: z.enum(['pending', 'succeeded', 'failed']),
    attemptCount: count,
    nextAttemptAt: nullableTime,
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    redeliveryOf: z.string().nullable(),
    body: z.string().meta({ description: 'The exact bytes the endpoint receives' }),
    attempts: z.array(Attempt),
    createdAt: time,
    updatedAt: time,
  }),
);
export const DeliveryList = page('DeliveryList', Delivery);
export const Queued = named('Queued', z.strictObject({ eventId: z.string(), deliveryId: z.string() }));

export const Click = named(
  'Click',
  z.strictObject({
    at: time,
    bot: z.boolean(),
    qr: z.boolean(),
    referrer: z.string().nullable(),
    referrerHost: z.string().nullable(),
    device: z.string().meta({ description: 'desktop, mobile, tablet, bot or other' }),
    browser: z.string(),
    os: z.string(),
    country: z
      .string()
      .nullable()
      .meta({ description: "ISO 3166-1 alpha-2 code of the visitor's address (the IP database shipped with LinkQR); null when unknown, private, or recorded before countries", examples: ['DE'] }),
    userAgent: z.string().nullable().meta({ description: 'Only when the instance keeps raw user agents' }),
  }),
);

/** What each event type carries in `data`: the payload webhooks deliver and /events lists. */
const eventData = {
  'link.created': Link,
  'link.updated': Link,
  'link.deleted': Link,
  'link.clicked': z.strictObject({ link: Link, click: Click }),
  'webhook.test': z.strictObject({ endpointId: z.string(), message: z.string() }),
} as const;
export const EVENT_PAYLOADS = Object.fromEntries(
  EVENT_TYPES.map((type) => [
    type,
    named(`Event_${type.replace('.', '_')}`, z.strictObject({ type: z.literal(type), timestamp: time, data: eventData[type] })),
  ]),
) as unknown as Record<(typeof EVENT_TYPES)[number], z.ZodType>;
export const Event = named(
  'Event',
  z.union(EVENT_TYPES.map((type) => (EVENT_PAYLOADS[type] as z.ZodObject).extend({ id: z.string() })) as unknown as [z.ZodType, z.ZodType]),
);
export const EventList = page('EventList', Event);

const FacetCount = z.strictObject({ value: z.string().nullable(), total: count, human: count });
const SeriesPoint = z.strictObject({ t: time, total: count, human: count, qr: count });
const statsBase = {
  from: time,
  to: time,
  interval: z.enum(['hour', 'day']),
  total: count,
  human: count,
  bots: count,
  qr: count,
  series: z.array(SeriesPoint),
};
export const LinkStats = named(
  'LinkStats',
  z.strictObject({
    linkId: z.string(),
    ...statsBase,
    referrers: z.array(FacetCount),
    devices: z.array(FacetCount),
    browsers: z.array(FacetCount),
    os: z.array(FacetCount),
    countries: z.array(FacetCount).meta({ description: 'ISO 3166-1 alpha-2 codes; null: unknown' }),
  }),
);
export const WorkspaceStats = named(
  'WorkspaceStats',
  z.strictObject({
    ...statsBase,
    topLinks: z.array(
      z.strictObject({
        link: z.strictObject({ id: z.string(), slug: z.string(), shortUrl: z.string(), title: z.string().nullable(), url: z.string() }),
        total: count,
        human: count,
        bots: count,
        qr: count,
      }),
    ),
    countries: z.array(FacetCount).meta({ description: "ISO 3166-1 alpha-2 codes of the workspace's clicks; null: unknown. Links deleted since are not counted" }),
  }),
);
export const RawClick = named(
  'RawClick',
  (Click as z.ZodObject).extend({
    id: z.string(),
    visitor: z
      .string()
      .nullable()
      .meta({ description: "Hash of the address with a salt of the click's UTC day: equal for the same visitor within that day; the salt is deleted after it, so not reversible" }),
  }),
);
export const ClickList = page('ClickList', RawClick);

export const QrLogo = named(
  'QrLogo',
  z.strictObject({
    linkId: z.string().nullable().meta({ description: "The link whose logo it is; null: the workspace's, drawn in the codes of links without one" }),
    contentType: z.enum(['image/png', 'image/svg+xml']),
    sizeBytes: count.meta({ description: 'Bytes of the image as stored (a PNG without its metadata chunks, the SVG as checked)' }),
    sha256: z.string().meta({ description: "SHA-256 of the image, base64url: the ETag of GET, and part of the codes' ETags" }),
    createdAt: time,
  }),
);

// Request bodies: the routes' own schemas.
named('CreateLinkRequest', createLinkBody);
named('UpdateLinkRequest', updateLinkBody);
named('CreateDomainRequest', createDomainBody);
named('CreateImportRequest', createImportBody);
named('UpdateDomainRequest', updateDomainBody);
named('CreateWebhookRequest', createWebhookBody);
named('UpdateWebhookRequest', updateWebhookBody);
named('RotateSecretRequest', rotateSecretBody);

/** Query strings: the routes' own schemas, turned into parameters. */
export const QUERIES = {
  listLinks: listLinksQuery,
  exportLinks: exportLinksQuery,
  clicksExport: clicksExportQuery,
  listDomains: listDomainsQuery,
  listImportRows: listImportRowsQuery,
  qr: qrOptionsSchema,
  linkStats: linkStatsQuery,
  listClicks: listClicksQuery,
  workspaceStats: workspaceStatsQuery,
  listWebhooks: listWebhooksQuery,
  listDeliveries: listDeliveriesQuery,
  listEvents: listEventsQuery,
};
