import { MAX_BUCKETS } from '../../../analytics/stats.schema.js';
import { MAX_LOCATION_LENGTH } from '../../../links/location.js';
import type { ApiErrorCode } from './error-codes.js';
import { OPERATIONS } from './operations.js';

/**
 * The rules the server enforces that the document's schemas cannot express: they compare fields,
 * depend on the time, on DNS or on stored state. Every other rule is in the schemas. The document
 * lists these in `info.description` for people and in `info['x-rules']` for programs; a test sends
 * requests generated from the schemas and allows no refusal but these.
 */
export interface BeyondSchemaRule {
  id: string;
  /** What a client must know, in a sentence or two. */
  rule: string;
  /** The operationIds it applies to. */
  operations: string[];
  /** How a request breaking it is refused: by `code`, and for validation_failed by the field (`*` for any index of a list) and message. */
  refusal: { status: number; code: ApiErrorCode; fields?: string[]; message?: string };
}

/** Whether an error's field (`targets.0.url`) is the rule's (`targets.*.url`). */
export const fieldMatches = (ruleField: string, field: string) =>
  ruleField === field || new RegExp(`^${ruleField.replace(/\./g, '\\.').replace(/\*/g, '\\d+')}$`).test(field);

const AUTHENTICATED = OPERATIONS.filter((op) => op.scope !== 'public').map((op) => op.operationId);
const POSTS = OPERATIONS.filter((op) => op.method === 'post').map((op) => op.operationId);
const invalid = (fields: string[], message: string) => ({ status: 400, code: 'validation_failed' as const, fields, message });

export const BEYOND_SCHEMA_RULES: BeyondSchemaRule[] = [
  {
    id: 'link-url',
    rule: "`url` and `expiredUrl` (and a domain's `rootRedirect` and `notFoundRedirect`) must be absolute URLs with a host, as the WHATWG URL Standard (what browsers use) parses them; the schemas check the scheme and control characters only.",
    operations: ['createLink', 'updateLink', 'createDomain', 'updateDomain'],
    refusal: invalid(['url', 'expiredUrl', 'targets.*.url', 'rootRedirect', 'notFoundRedirect'], '^must be an absolute http:// or https:// URL$'),
  },
  {
    id: 'link-url-encoded-length',
    rule: `\`url\` and \`expiredUrl\` (and a domain's redirects) must be at most ${MAX_LOCATION_LENGTH} characters once percent-encoded, as redirects send them in \`Location\` (a space, a quote or a non-ASCII character takes 3 to 12; the schemas count characters as written).`,
    operations: ['createLink', 'updateLink', 'createDomain', 'updateDomain'],
    refusal: invalid(['url', 'expiredUrl', 'targets.*.url', 'rootRedirect', 'notFoundRedirect'], `^must be at most ${MAX_LOCATION_LENGTH} characters once percent-encoded`),
  },
  {
    id: 'expires-in-future',
    rule: '`expiresAt` must be later than the time the request arrives.',
    operations: ['createLink', 'updateLink'],
    refusal: invalid(['expiresAt'], '^must be in the future$'),
  },
  {
    id: 'webhook-url',
    rule: 'A webhook `url` must use https:// (http:// and private addresses only for hosts inside the server setting LINKQR_WEBHOOK_ALLOWED_CIDRS), hold no user name or password, and its host must resolve (DNS) to addresses webhooks may reach: never loopback, link-local or cloud metadata addresses unless that setting names them. Checked when saved and again at every connection.',
    operations: ['createWebhook', 'updateWebhook'],
    refusal: invalid(['url'], '^(This is not a valid URL|Webhook URLs must|The host name)'),
  },
  {
    id: 'range-order',
    rule: '`from` must be before `to` (which defaults to the end of the current UTC day).',
    operations: ['getLinkStats', 'listLinkClicks', 'getWorkspaceStats', 'exportClicks'],
    refusal: invalid(['from'], '^must be before to$'),
  },
  {
    id: 'range-buckets',
    rule: `The range from \`from\` to \`to\` may hold at most ${MAX_BUCKETS.toLocaleString('en')} buckets of \`interval\`.`,
    operations: ['getLinkStats', 'getWorkspaceStats'],
    refusal: invalid(['interval'], '^gives \\d+ buckets for this range'),
  },
  {
    id: 'whole-hours',
    rule: '`from` and `to` of the workspace summary must fall on whole hours in UTC (dates always do).',
    operations: ['getWorkspaceStats'],
    refusal: invalid(['from', 'to'], '^must be a whole UTC hour'),
  },
  {
    id: 'qr-contrast',
    rule: '`fg` must be darker than `bg`, with a contrast ratio of at least 4.5:1, so scanners can read the code.',
    operations: ['getLinkQr'],
    refusal: invalid(['fg'], '^(must be darker than bg|has too little contrast with bg)'),
  },
  {
    id: 'qr-size',
    rule: '`size` must give the code at least 2 px per module, quiet zone included (`size ≥ 2 × (modules + 2 × margin)`), or 3 px with `margin=0` (`size ≥ 3 × modules`); the module count depends on the link\'s short URL and on `ecc` (H when the code has a logo). The refusal names the smallest size that works for this link.',
    operations: ['getLinkQr'],
    refusal: invalid(['size'], '^must be at least \\d+'),
  },
  {
    id: 'qr-logo-image',
    rule: 'A QR logo must be a PNG of at most 1024×1024 pixels, or a UTF-8 SVG with a viewBox made of shapes (no scripts, event handlers, text, embedded images, animation, markers or references outside the file), at most 64 KB, and its `Content-Type` must agree with its bytes.',
    operations: ['setLinkQrLogo', 'setWorkspaceQrLogo'],
    refusal: invalid(['logo'], '^(must|is|could) '),
  },
  {
    id: 'slug-unique',
    rule: 'A `slug` must not be in use by another link on the same domain.',
    operations: ['createLink', 'updateLink'],
    refusal: { status: 409, code: 'slug_taken' },
  },
  {
    id: 'target-condition',
    rule: 'Each of a link\'s `targets` must name a `device`, a `country` or both (a rule with neither would match everyone: that is the link\'s `url`).',
    operations: ['createLink', 'updateLink'],
    refusal: invalid(['targets.*.device'], '^must name a device, a country or both$'),
  },
  {
    id: 'link-domain',
    rule: "A link's `domain` (and an import's) must be this server's own host name (the default) or a domain the workspace added (`GET /domains`).",
    operations: ['createLink', 'updateLink', 'createImport'],
    refusal: invalid(['domain'], '^is not a domain of this workspace'),
  },
  {
    id: 'imports-at-a-time',
    rule: 'A workspace has at most 3 imports waiting or running at once.',
    operations: ['createImport'],
    refusal: { status: 409, code: 'imports_in_progress' },
  },
  {
    id: 'domain-hostname',
    rule: "A domain's `hostname` must be a domain name of at least two labels (letters, digits and hyphens; an internationalised name is stored in punycode), without scheme, port or path, not an IP address, and not this server's own host name.",
    operations: ['createDomain'],
    refusal: invalid(['hostname'], "^(must be a domain name|is this server's own address)"),
  },
  {
    id: 'domain-verified',
    rule: "A domain is verified only when the DNS TXT record `verification.name` holds `verification.value`.",
    operations: ['verifyDomain'],
    refusal: { status: 409, code: 'domain_not_verified' },
  },
  {
    id: 'domain-unique',
    rule: 'A `hostname` belongs to one workspace of the server.',
    operations: ['createDomain'],
    refusal: { status: 409, code: 'domain_taken' },
  },
  {
    id: 'domain-empty-to-delete',
    rule: 'A domain is deleted only once no link lives on it.',
    operations: ['deleteDomain'],
    refusal: { status: 409, code: 'domain_in_use' },
  },
  {
    id: 'webhook-enabled',
    rule: 'A test event goes only to an enabled endpoint.',
    operations: ['testWebhook'],
    refusal: { status: 409, code: 'webhook_disabled' },
  },
  {
    id: 'idempotency-key-once',
    rule: 'An `Idempotency-Key` names one request for 24 hours: another request with the same key is refused.',
    operations: POSTS,
    refusal: { status: 409, code: 'idempotency_key_reused' },
  },
  {
    id: 'plan-limits',
    rule: "The workspace plan's limits: links, domains, QR codes, webhook endpoints.",
    operations: ['createLink', 'createDomain', 'getLinkQr', 'createWebhook'],
    refusal: { status: 403, code: 'plan_limit_reached' },
  },
  {
    id: 'plan-features',
    rule: "The workspace plan's features: the API itself, QR codes, analytics, webhooks.",
    operations: AUTHENTICATED,
    refusal: { status: 403, code: 'plan_feature_disabled' },
  },
  {
    id: 'rate-limits',
    rule: "Requests per minute: per key, the plan's `apiRequestsPerMinute` or else the server's LINKQR_API_RATE_LIMIT; per address, 60 that end without a usable key (this document counts among them).",
    operations: OPERATIONS.map((op) => op.operationId),
    refusal: { status: 429, code: 'rate_limited' },
  },
];

/** The rules as a section of `info.description`. */
export function beyondSchemaRulesText(): string {
  const lines = BEYOND_SCHEMA_RULES.map(({ rule, refusal }) => {
    const where = refusal.fields ? `, field${refusal.fields.length > 1 ? 's' : ''} ${refusal.fields.map((f) => `\`${f}\``).join(', ')}` : '';
    return `- ${rule} (${refusal.status} \`${refusal.code}\`${where})`;
  });
  return [
    '## Rules beyond the schemas',
    'The schemas hold every rule of the API that JSON Schema can express: a request they call valid is refused only for one of these. `x-rules` in this object lists them for programs, each with its operations and how it is refused.',
    ...lines,
  ].join('\n\n');
}
