/**
 * Every `code` an /api/v1 problem can carry: stable, documented in the OpenAPI document (the
 * Problem schema's enum) and on /docs/api (anchors `#problem-<code>`, the problem `type`).
 * Contract tests fail on a code missing here.
 */
export const API_ERROR_CODES = {
  validation_failed: { status: 400, meaning: 'A field or query parameter is invalid; `errors` lists each with a message.' },
  malformed_json: { status: 400, meaning: 'The body is not valid JSON.' },
  incomplete_body: { status: 400, meaning: 'The connection ended before the whole body arrived.' },
  invalid_idempotency_key: { status: 400, meaning: 'The Idempotency-Key header is empty, too long or not printable ASCII.' },
  missing_api_key: { status: 401, meaning: 'No Authorization: Bearer header.' },
  malformed_api_key: { status: 401, meaning: 'The key is not in LinkQR format or its checksum is wrong (a mangled copy).' },
  invalid_api_key: { status: 401, meaning: 'No such key, or the secret does not match.' },
  api_key_revoked: { status: 401, meaning: 'The key was revoked (final).' },
  api_key_disabled: { status: 401, meaning: 'The key is disabled; an admin can enable it again.' },
  api_key_expired: { status: 401, meaning: 'The key is past its expiry.' },
  insufficient_scope: { status: 403, meaning: 'The key lacks the scope this route needs (named in `detail`).' },
  plan_feature_disabled: { status: 403, meaning: 'The workspace plan does not include this feature (`feature`, `plan`).' },
  plan_limit_reached: { status: 403, meaning: 'The workspace is at a plan limit (`limit`, `plan`, `usage`, `max`).' },
  ip_not_allowed: { status: 403, meaning: 'The key may not be used from this address (its allowed networks).' },
  browser_origin_refused: { status: 403, meaning: 'A browser page of another site sent the request: keys belong on servers, not in browser code.' },
  not_found: { status: 404, meaning: 'No such resource in this workspace (ids of other workspaces answer the same).' },
  route_not_found: { status: 404, meaning: 'No such API route.' },
  method_not_allowed: { status: 405, meaning: 'The path exists but does not answer this method; the Allow header lists those it does.' },
  slug_taken: { status: 409, meaning: 'Another link uses this slug on the same domain.' },
  domain_taken: { status: 409, meaning: 'This domain is already added to this server (by this workspace or another).' },
  domain_not_verified: { status: 409, meaning: 'The TXT record that proves the domain is yours is missing or holds another value (`detail` says which).' },
  domain_in_use: { status: 409, meaning: 'Links still live on this domain: delete them or move them to another domain first.' },
  webhook_disabled: { status: 409, meaning: 'The endpoint is disabled; enable it first.' },
  imports_in_progress: { status: 409, meaning: 'The workspace has 3 imports waiting or running; start another when one has finished.' },
  idempotency_key_reused: { status: 409, meaning: 'This Idempotency-Key was used with another request body or route.' },
  idempotency_key_in_progress: { status: 409, meaning: 'The first request with this Idempotency-Key is still running; retry after Retry-After.' },
  idempotency_record_unreadable: { status: 409, meaning: "The first answer to this Idempotency-Key cannot be read (the server's at-rest key changed); check whether it took effect, then use a new key." },
  payload_too_large: { status: 413, meaning: 'The body is larger than 64 KB (64 MB for POST /imports).' },
  unsupported_media_type: { status: 415, meaning: 'Send the body as application/json (UTF-8, no content-encoding).' },
  rate_limited: { status: 429, meaning: 'Too many requests for this key (or address); wait Retry-After seconds.' },
  internal_error: { status: 500, meaning: 'Something failed on the server; the request id is in the logs.' },
  storage_unavailable: {
    status: 503,
    meaning: 'The server cannot write to its database right now (disk full, read-only or failing; PostgreSQL out of reach); nothing was changed. Retry after Retry-After seconds.',
  },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ApiErrorCode = keyof typeof API_ERROR_CODES;
export const API_ERROR_CODE_LIST = Object.keys(API_ERROR_CODES) as ApiErrorCode[];
