import type { Scope } from '../../../keys/scopes.js';
import { DEFAULT_ROTATION_GRACE_MS } from '../../../secrets/rotation-grace.js';
import type { QUERIES } from './components.js';

export type Tag = 'Keys' | 'Links' | 'Domains' | 'Imports' | 'QR codes' | 'Analytics' | 'Webhooks' | 'Events' | 'Contract';

export interface Operation {
  operationId: string;
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI template under /api/v1: `/links/{id}`. */
  path: string;
  tag: Tag;
  summary: string;
  description?: string;
  /** null: any valid key; 'public': no key at all. */
  scope: Scope | null | 'public';
  query?: keyof typeof QUERIES;
  /** A request body component, or 'logo': the image itself (PNG or SVG); `bodyOptional` when it may be left out. */
  body?: string | 'logo';
  bodyOptional?: boolean;
  idParam?: string;
  success: {
    status: number;
    description: string;
    /** A component (JSON), 'qr' (SVG or PNG), 'logo' (a stored logo: PNG or SVG), 'csv' (a CSV download), 'document' (this document), or none (no body). */
    schema?: string | 'qr' | 'logo' | 'csv' | 'document';
    location?: boolean;
  };
  /** Answers 404 when what it reads or removes is not set (beyond an unknown path id): a QR logo. */
  answers404?: boolean;
  /** Conflicts this operation can answer (409), beyond the idempotency ones of every POST. */
  conflicts?: ('slug_taken' | 'domain_taken' | 'domain_in_use' | 'domain_not_verified' | 'imports_in_progress' | 'webhook_disabled')[];
}

/** Every /api/v1 route. A test checks this list against the routes Express actually has. */
export const OPERATIONS: Operation[] = [
  {
    operationId: 'getMe', method: 'get', path: '/me', tag: 'Keys', scope: null,
    summary: 'The key itself, its workspace and the plan usage',
    description: 'Any valid key may call it: integrations use it as their "test connection" call.',
    success: { status: 200, description: 'The key', schema: 'Me' },
  },
  {
    operationId: 'createLink', method: 'post', path: '/links', tag: 'Links', scope: 'links:write', body: 'CreateLinkRequest',
    summary: 'Create a short link',
    description: 'Writes the link and its `link.created` event in one transaction. A slug is made (7 base62 characters) unless you choose one.',
    success: { status: 201, description: 'The new link', schema: 'Link', location: true },
    conflicts: ['slug_taken'],
  },
  {
    operationId: 'listLinks', method: 'get', path: '/links', tag: 'Links', scope: 'links:read', query: 'listLinks',
    summary: 'List links, newest first',
    description: '`q` searches slugs, URLs and titles; `tag` and `status` filter.',
    success: { status: 200, description: 'A page of links', schema: 'LinkList' },
  },
  {
    operationId: 'exportLinks', method: 'get', path: '/links/export', tag: 'Links', scope: 'links:read', query: 'exportLinks',
    summary: 'Every link as CSV',
    description:
      'The filters of the list (`q`, `tag`, `status`), every page, newest first, streamed. Columns: id, slug, shortUrl, url, title, tags (joined by ", "), status, expiresAt, expiredUrl, maxClicks, redirectCode, forwardQuery, clicks, lastClickedAt, createdAt, domain. A cell a spreadsheet would run as a formula starts with an apostrophe; `POST /imports` with `format: "csv"` reads the file back.',
    success: { status: 200, description: 'CSV (RFC 4180, UTF-8, CRLF), as an attachment', schema: 'csv' },
  },
  {
    operationId: 'getLink', method: 'get', path: '/links/{id}', tag: 'Links', scope: 'links:read', idParam: 'lnk_…',
    summary: 'One link', success: { status: 200, description: 'The link', schema: 'Link' },
  },
  {
    operationId: 'updateLink', method: 'patch', path: '/links/{id}', tag: 'Links', scope: 'links:write', idParam: 'lnk_…', body: 'UpdateLinkRequest',
    summary: 'Change a link', description: 'Send only the fields to change; `null` clears an optional one. `status` disables or enables it.',
    success: { status: 200, description: 'The link as it is now', schema: 'Link' },
    conflicts: ['slug_taken'],
  },
  {
    operationId: 'deleteLink', method: 'delete', path: '/links/{id}', tag: 'Links', scope: 'links:write', idParam: 'lnk_…',
    summary: 'Delete a link', description: 'The short URL stops working at once; its clicks are removed by the retention job.',
    success: { status: 204, description: 'Deleted' },
  },
  {
    operationId: 'createDomain', method: 'post', path: '/domains', tag: 'Domains', scope: 'links:write', body: 'CreateDomainRequest',
    summary: 'Add a domain',
    description:
      'Add the TXT record the answer names (`verification`), then `POST /domains/{id}/verify`; point the domain at this server and let your reverse proxy serve it. Links on it redirect once it is verified; the proxy can ask `GET /.well-known/linkqr/tls-allowed?domain=` before getting a certificate.',
    success: { status: 201, description: 'The new domain', schema: 'Domain', location: true },
    conflicts: ['domain_taken'],
  },
  {
    operationId: 'listDomains', method: 'get', path: '/domains', tag: 'Domains', scope: 'links:read', query: 'listDomains',
    summary: 'List the workspace\'s domains, oldest first', success: { status: 200, description: 'A page of domains', schema: 'DomainList' },
  },
  {
    operationId: 'getDomain', method: 'get', path: '/domains/{id}', tag: 'Domains', scope: 'links:read', idParam: 'dom_…',
    summary: 'One domain', success: { status: 200, description: 'The domain', schema: 'Domain' },
  },
  {
    operationId: 'updateDomain', method: 'patch', path: '/domains/{id}', tag: 'Domains', scope: 'links:write', idParam: 'dom_…', body: 'UpdateDomainRequest',
    summary: 'Change where `/` and unknown slugs of a domain go', description: 'The hostname cannot change: add the new name as another domain.',
    success: { status: 200, description: 'The domain as it is now', schema: 'Domain' },
  },
  {
    operationId: 'verifyDomain', method: 'post', path: '/domains/{id}/verify', tag: 'Domains', scope: 'links:write', idParam: 'dom_…',
    summary: 'Prove the workspace controls the domain',
    description:
      'Looks up the TXT record `verification.name` and expects `verification.value` in it. Until a domain is verified it gets no redirects and no TLS (tls-allowed answers 404), so a name claimed by a workspace that does not control it gives that workspace nothing. Verifying a verified domain changes nothing.',
    success: { status: 200, description: 'The domain, verified', schema: 'Domain' },
    conflicts: ['domain_not_verified'],
  },
  {
    operationId: 'deleteDomain', method: 'delete', path: '/domains/{id}', tag: 'Domains', scope: 'links:write', idParam: 'dom_…',
    summary: 'Remove a domain', description: 'Only once no link lives on it.',
    success: { status: 204, description: 'Removed' },
    conflicts: ['domain_in_use'],
  },
  {
    operationId: 'createImport', method: 'post', path: '/imports', tag: 'Imports', scope: 'links:write', body: 'CreateImportRequest',
    summary: 'Import links from a file',
    description:
      'LinkQR\'s own CSV (or any CSV with a URL column), or the exports of Bitly, Shlink, Kutt and YOURLS, up to 64 MB and 100,000 links. The import runs as a job: poll `GET /imports/{id}` for its progress and `GET /imports/{id}/rows` for what happened to each row. `dryRun: true` checks every row (the link rules, slugs already taken, the plan\'s link limit) and creates nothing. Each link created sends its `link.created` event.',
    success: { status: 202, description: 'The import, queued', schema: 'Import', location: true },
    conflicts: ['imports_in_progress'],
  },
  {
    operationId: 'getImport', method: 'get', path: '/imports/{id}', tag: 'Imports', scope: 'links:read', idParam: 'imp_…',
    summary: 'An import and its progress', success: { status: 200, description: 'The import', schema: 'Import' },
  },
  {
    operationId: 'listImportRows', method: 'get', path: '/imports/{id}/rows', tag: 'Imports', scope: 'links:read', idParam: 'imp_…', query: 'listImportRows',
    summary: 'What happened to each row, in source order',
    description: '`line` is where the record starts in the file (the CSV header is line 1; JSON: its position in the list).',
    success: { status: 200, description: 'A page of rows', schema: 'ImportRowList' },
  },
  {
    operationId: 'getLinkQr', method: 'get', path: '/links/{id}/qr', tag: 'QR codes', scope: 'links:read', idParam: 'lnk_…', query: 'qr',
    summary: 'The QR code of a link',
    description:
      'Encodes the tracked URL `<shortUrl>?qr=1`, so scans are counted as QR scans. The first image of a link counts it as one of the plan\'s QR codes (`qrCodes` limit), so it also needs `links:write`: a key without it gets 403 `insufficient_scope` naming `links:write`, and nothing is counted. Every later image (any size, colour or format) is free and needs only `links:read`. The link\'s logo, else the workspace\'s (`PUT /links/{id}/qr-logo`, `PUT /qr-logo`), is drawn in the middle, at error correction H whatever `ecc` asks; `logo=none` leaves it out. Strong `ETag` (it changes with the logo); send `If-None-Match` to get 304.',
    success: { status: 200, description: 'The image (`format=svg`: image/svg+xml, `format=png`: image/png)', schema: 'qr' },
  },
  {
    operationId: 'setLinkQrLogo', method: 'put', path: '/links/{id}/qr-logo', tag: 'QR codes', scope: 'links:write', idParam: 'lnk_…', body: 'logo',
    summary: 'Set the logo in the middle of a link’s QR codes',
    description:
      'The body is the image itself, at most 64 KB: `Content-Type: image/png` (at most 1024×1024 pixels) or `image/svg+xml` (shapes only). The link\'s codes are then drawn with it in the middle, always at error correction H (whatever `ecc` asks), on a light plate sized so that every error correction block keeps half of what it corrects for wear. It wins over the workspace\'s logo and replaces the link\'s own, if it had one. What is stored is what the codes show: a PNG without its metadata chunks, the SVG as checked. The codes\' ETags change with it.',
    success: { status: 200, description: 'The logo as stored', schema: 'QrLogo' },
  },
  {
    operationId: 'getLinkQrLogo', method: 'get', path: '/links/{id}/qr-logo', tag: 'QR codes', scope: 'links:read', idParam: 'lnk_…', answers404: true,
    summary: 'The logo of a link’s QR codes',
    description: 'The link\'s own logo, not the workspace\'s: 404 `not_found` when it has none. Strong `ETag` (the image\'s SHA-256); send `If-None-Match` to get 304.',
    success: { status: 200, description: 'The image (image/png or image/svg+xml)', schema: 'logo' },
  },
  {
    operationId: 'deleteLinkQrLogo', method: 'delete', path: '/links/{id}/qr-logo', tag: 'QR codes', scope: 'links:write', idParam: 'lnk_…', answers404: true,
    summary: 'Remove a link’s logo',
    description: 'Its codes get the workspace\'s logo again, if there is one, else none. 404 `not_found` when it has none.',
    success: { status: 204, description: 'Removed' },
  },
  {
    operationId: 'setWorkspaceQrLogo', method: 'put', path: '/qr-logo', tag: 'QR codes', scope: 'links:write', body: 'logo',
    summary: 'Set the logo in the middle of the workspace’s QR codes',
    description: 'Drawn in the codes of every link without a logo of its own; the same image rules as a link\'s logo. In the admin UI, admins and owners set it (Settings).',
    success: { status: 200, description: 'The logo as stored', schema: 'QrLogo' },
  },
  {
    operationId: 'getWorkspaceQrLogo', method: 'get', path: '/qr-logo', tag: 'QR codes', scope: 'links:read', answers404: true,
    summary: 'The logo of the workspace’s QR codes',
    description: '404 `not_found` when there is none. Strong `ETag` (the image\'s SHA-256); send `If-None-Match` to get 304.',
    success: { status: 200, description: 'The image (image/png or image/svg+xml)', schema: 'logo' },
  },
  {
    operationId: 'deleteWorkspaceQrLogo', method: 'delete', path: '/qr-logo', tag: 'QR codes', scope: 'links:write', answers404: true,
    summary: 'Remove the workspace’s logo',
    description: 'Links with a logo of their own keep it. 404 `not_found` when there is none.',
    success: { status: 204, description: 'Removed' },
  },
  {
    operationId: 'getLinkStats', method: 'get', path: '/links/{id}/stats', tag: 'Analytics', scope: 'analytics:read', idParam: 'lnk_…', query: 'linkStats',
    summary: 'Click statistics of a link',
    description:
      '`from` inclusive, `to` exclusive: ISO 8601 times with a zone, or UTC dates (a date as `to` includes that day). Default: the 30 days up to the end of today (UTC). `interval` defaults to `hour` up to 3 days and `day` beyond; at most 2,000 buckets. `human = total - bots`; HEAD requests, crawlers and link previews are bots.',
    success: { status: 200, description: 'Totals, a series with every bucket, and the top referrers, devices, browsers and OSes', schema: 'LinkStats' },
  },
  {
    operationId: 'listLinkClicks', method: 'get', path: '/links/{id}/clicks', tag: 'Analytics', scope: 'analytics:read', idParam: 'lnk_…', query: 'listClicks',
    summary: 'Raw clicks of a link, newest first',
    description: 'No address is stored or returned: `visitor` is a hash of it salted per UTC day (equal for the same visitor within the day).',
    success: { status: 200, description: 'A page of clicks', schema: 'ClickList' },
  },
  {
    operationId: 'exportClicks', method: 'get', path: '/clicks/export', tag: 'Analytics', scope: 'analytics:read', query: 'clicksExport',
    summary: 'Clicks of a range as CSV',
    description:
      'Every click of the workspace\'s links from `from` to `to` (default: the last 30 days), link by link and in time order within a link, streamed: memory stays flat whatever the count. Columns: clickedAt, linkId, domain, slug, bot, qr, country, device, browser, os, referrer, referrerHost, visitor (the day\'s salted address hash), userAgent (when the instance keeps them). Clicks of links deleted since are not included.',
    success: { status: 200, description: 'CSV (RFC 4180, UTF-8, CRLF), as an attachment', schema: 'csv' },
  },
  {
    operationId: 'getWorkspaceStats', method: 'get', path: '/stats', tag: 'Analytics', scope: 'analytics:read', query: 'workspaceStats',
    summary: 'The workspace over a range: totals, series and top links',
    description: '`from` and `to` must be whole UTC hours (or dates). Clicks of links deleted since count in the totals; deleted links are not listed.',
    success: { status: 200, description: 'The summary', schema: 'WorkspaceStats' },
  },
  {
    operationId: 'createWebhook', method: 'post', path: '/webhooks', tag: 'Webhooks', scope: 'webhooks:write', body: 'CreateWebhookRequest',
    summary: 'Add a webhook endpoint',
    description: 'https only, and the address must be public (checked now and at every connection), unless inside LINKQR_WEBHOOK_ALLOWED_CIDRS. The signing secret is in this response only.',
    success: { status: 201, description: 'The endpoint with its secret', schema: 'WebhookEndpointWithSecret', location: true },
  },
  {
    operationId: 'listWebhooks', method: 'get', path: '/webhooks', tag: 'Webhooks', scope: 'webhooks:read', query: 'listWebhooks',
    summary: 'List webhook endpoints', success: { status: 200, description: 'A page of endpoints', schema: 'WebhookEndpointList' },
  },
  {
    operationId: 'getWebhook', method: 'get', path: '/webhooks/{id}', tag: 'Webhooks', scope: 'webhooks:read', idParam: 'whk_…',
    summary: 'One webhook endpoint', success: { status: 200, description: 'The endpoint (never its secret)', schema: 'WebhookEndpoint' },
  },
  {
    operationId: 'updateWebhook', method: 'patch', path: '/webhooks/{id}', tag: 'Webhooks', scope: 'webhooks:write', idParam: 'whk_…', body: 'UpdateWebhookRequest',
    summary: 'Change a webhook endpoint', description: '`enabled: true` resumes an endpoint LinkQR disabled.',
    success: { status: 200, description: 'The endpoint', schema: 'WebhookEndpoint' },
  },
  {
    operationId: 'deleteWebhook', method: 'delete', path: '/webhooks/{id}', tag: 'Webhooks', scope: 'webhooks:write', idParam: 'whk_…',
    summary: 'Delete a webhook endpoint', success: { status: 204, description: 'Deleted, with its pending deliveries' },
  },
  {
    operationId: 'testWebhook', method: 'post', path: '/webhooks/{id}/test', tag: 'Webhooks', scope: 'webhooks:write', idParam: 'whk_…',
    summary: 'Send a webhook.test event to this endpoint',
    success: { status: 202, description: 'Queued: watch its delivery', schema: 'Queued' },
    conflicts: ['webhook_disabled'],
  },
  {
    operationId: 'rotateWebhookSecret', method: 'post', path: '/webhooks/{id}/rotate-secret', tag: 'Webhooks', scope: 'webhooks:write', idParam: 'whk_…',
    body: 'RotateSecretRequest', bodyOptional: true,
    summary: 'New signing secret', description: `The old secret keeps signing (a second signature) for \`graceSeconds\` (default ${DEFAULT_ROTATION_GRACE_MS / 1000}, at most 7 days).`,
    success: { status: 200, description: 'The endpoint with its new secret', schema: 'WebhookEndpointWithSecret' },
  },
  {
    operationId: 'listDeliveries', method: 'get', path: '/webhooks/{id}/deliveries', tag: 'Webhooks', scope: 'webhooks:read', idParam: 'whk_…', query: 'listDeliveries',
    summary: 'Deliveries to an endpoint, newest first, with their attempts',
    success: { status: 200, description: 'A page of deliveries', schema: 'DeliveryList' },
  },
  {
    operationId: 'redeliver', method: 'post', path: '/webhooks/deliveries/{id}/redeliver', tag: 'Webhooks', scope: 'webhooks:write', idParam: 'dlv_…',
    summary: 'Send a delivery again', description: 'A new delivery of the same event (same `webhook-id`).',
    success: { status: 202, description: 'The new delivery', schema: 'Delivery' },
  },
  {
    operationId: 'listEvents', method: 'get', path: '/events', tag: 'Events', scope: 'webhooks:read', query: 'listEvents',
    summary: 'The event log, oldest first',
    description: 'The same payloads webhooks carry, each with its `id` (the `webhook-id`). Poll with `after` = the last id seen.',
    success: { status: 200, description: 'A page of events', schema: 'EventList' },
  },
  {
    operationId: 'getOpenApi', method: 'get', path: '/openapi.json', tag: 'Contract', scope: 'public',
    summary: 'This document', success: { status: 200, description: 'OpenAPI 3.1', schema: 'document' },
  },
];
