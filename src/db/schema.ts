import type { Generated } from 'kysely';

/** Row types of every table, for Kysely. Times are epoch milliseconds. */
export interface Database {
  schema_migrations: MigrationRow;
  settings: { key: string; value: string };
  plans: PlanRow;
  workspaces: WorkspaceRow;
  users: UserRow;
  memberships: MembershipRow;
  api_keys: ApiKeyRow;
  links: LinkRow;
  domains: DomainRow;
  imports: ImportJobRow;
  import_rows: ImportRowRecord;
  import_files: ImportFileRow;
  clicks: ClickRow;
  events: EventRow;
  webhook_endpoints: WebhookEndpointRow;
  webhook_deliveries: WebhookDeliveryRow;
  webhook_attempts: WebhookAttemptRow;
  audit_log: AuditRow;
  api_request_log: ApiRequestLogRow;
  visitor_salts: VisitorSaltRow;
  qr_logos: QrLogoRow;
  user_totp: UserTotpRow;
  recovery_codes: RecoveryCodeRow;
  pending_sign_ins: PendingSignInRow;
}

export interface MigrationRow {
  version: number;
  name: string;
  checksum: string;
  applied_at: number;
}

export interface PlanRow {
  id: string;
  name: string;
  features: string;
  limits: string;
  created_at: number;
  updated_at: number;
}

export interface WorkspaceRow {
  id: string;
  name: string;
  plan_id: string;
  created_at: number;
  updated_at: number;
}

export interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  is_instance_admin: number;
  created_at: number;
  updated_at: number;
}

export type Role = 'owner' | 'admin' | 'member' | 'viewer';

export interface MembershipRow {
  workspace_id: string;
  user_id: string;
  role: Role;
  created_at: number;
}

export type KeyStatus = 'active' | 'disabled' | 'revoked';

export interface ApiKeyRow {
  id: string;
  workspace_id: string;
  name: string;
  environment: string;
  scopes: string;
  secret_hash: string;
  previous_secret_hash: string | null;
  previous_secret_expires_at: number | null;
  status: KeyStatus;
  expires_at: number | null;
  created_by_user_id: string | null;
  created_at: number;
  updated_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
  last_used_ip: string | null;
  request_count: number;
  /** JSON array of CIDRs the key may be used from; null: any address. */
  allowed_cidrs: string | null;
}

export type LinkStatus = 'active' | 'disabled';
export type RedirectCode = 301 | 302 | 307 | 308;

export interface LinkRow {
  id: string;
  workspace_id: string;
  slug: string;
  url: string;
  title: string | null;
  tags: string;
  status: LinkStatus;
  expires_at: number | null;
  expired_url: string | null;
  max_clicks: number | null;
  redirect_code: RedirectCode;
  /** 1: the visitor's query string is added to the destination (src/links/forward-query.ts). */
  forward_query: 0 | 1;
  created_by_user_id: string | null;
  created_by_key_id: string | null;
  clicks: number;
  total_clicks: number;
  qr_generated_at: number | null;
  last_clicked_at: number | null;
  created_at: number;
  updated_at: number;
  /** '' for the host of LINKQR_BASE_URL, else a hostname of `domains` (src/domains/). */
  domain: string;
  /** JSON [{device?, country?, url}] (src/links/targets.ts), or null: every visitor goes to `url`. */
  targets: string | null;
  /** argon2id PHC string of the link's password, or null: no password. */
  password_hash: string | null;
}

export interface DomainRow {
  id: string;
  workspace_id: string;
  hostname: string;
  root_redirect: string | null;
  not_found_redirect: string | null;
  /** What the TXT record `_linkqr.<hostname>` must hold to prove the workspace controls the name. */
  verification_token: string;
  /** Null until proven: an unproven domain gets no redirects and no TLS. */
  verified_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface ClickRow {
  id: Generated<number>;
  link_id: string;
  workspace_id: string;
  clicked_at: number;
  bot: number;
  qr: number;
  referrer: string | null;
  referrer_host: string | null;
  /** Null unless the instance keeps raw user agents. */
  user_agent: string | null;
  device: string | null;
  browser: string | null;
  os: string | null;
  ip_hash: string | null;
  /** ISO 3166-1 alpha-2, or null when the address's country is unknown (src/geo/country-lookup.ts). */
  country: string | null;
}

export interface EventRow {
  id: string;
  workspace_id: string;
  type: string;
  payload: string;
  created_at: number;
}

export interface WebhookEndpointRow {
  id: string;
  workspace_id: string;
  url: string;
  description: string;
  events: string;
  enabled: number;
  disabled_reason: string | null;
  /** Sealed (src/webhooks/endpoint-secrets.ts), like previous_secret. */
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: number | null;
  /** Since when this instance's at-rest key cannot open the secret; deliveries wait for a rotation. */
  secret_unreadable_since: number | null;
  failing_since: number | null;
  last_success_at: number | null;
  created_at: number;
  updated_at: number;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface WebhookDeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  workspace_id: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: number | null;
  lease_until: number | null;
  last_status_code: number | null;
  last_error: string | null;
  redelivery_of: string | null;
  created_at: number;
  updated_at: number;
}

export type AttemptOutcome = 'success' | 'failure' | 'gone' | 'throttled';

export interface WebhookAttemptRow {
  id: Generated<number>;
  delivery_id: string;
  attempted_at: number;
  duration_ms: number;
  outcome: AttemptOutcome;
  status_code: number | null;
  error_class: string | null;
  error_detail: string | null;
  response_excerpt: string | null;
}

export interface AuditRow {
  id: Generated<number>;
  workspace_id: string | null;
  actor_type: 'user' | 'key' | 'operator';
  actor_id: string;
  action: string;
  target_type: string;
  target_id: string | null;
  /** JSON: what changed, never a secret. */
  summary: string;
  ip: string | null;
  created_at: number;
}

export interface ApiRequestLogRow {
  id: Generated<number>;
  key_id: string;
  workspace_id: string;
  at: number;
  method: string;
  /** Without the query string. */
  path: string;
  status: number;
  duration_ms: number;
  ip: string | null;
  request_id: string | null;
}

export interface VisitorSaltRow {
  /** UTC midnight, epoch milliseconds. */
  day: number;
  /** Sealed 32 random bytes. */
  salt: string;
}

/** A logo drawn in the middle of QR codes: the workspace's (link_id null) or one link's. */
export interface QrLogoRow {
  id: Generated<number>;
  workspace_id: string;
  link_id: string | null;
  content_type: 'image/png' | 'image/svg+xml';
  /** The logo as parseLogo keeps it (src/qr/logo.ts): at most 64 KB. */
  bytes: Buffer;
  /** SHA-256 of bytes, base64url. */
  sha256: string;
  created_at: number;
}

export type ImportStatus = 'queued' | 'running' | 'done' | 'failed';
export type ImportOutcome = 'created' | 'would_create' | 'invalid' | 'conflict' | 'over_limit';

/** A link import (src/imports/imports.service.ts). */
export interface ImportJobRow {
  id: string;
  workspace_id: string;
  format: string;
  dry_run: 0 | 1;
  domain: string | null;
  status: ImportStatus;
  total: number;
  processed: number;
  created: number;
  skipped: number;
  error: string | null;
  lease_until: number | null;
  created_by_user_id: string | null;
  created_by_key_id: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

/** An import's file, apart from its row (migrations/sqlite/0018_import_files.sql says why). */
export interface ImportFileRow {
  import_id: string;
  data: string;
}

/** What happened to one record of an import's source. */
export interface ImportRowRecord {
  import_id: string;
  line: number;
  outcome: ImportOutcome;
  link_id: string | null;
  slug: string | null;
  problems: string;
}

/** A user's TOTP secret (src/users/two-factor.ts): sealed; enabled once its first code was given. */
export interface UserTotpRow {
  user_id: string;
  secret: string;
  enabled_at: number | null;
  last_used_step: number;
  created_at: number;
  updated_at: number;
}

export interface RecoveryCodeRow {
  user_id: string;
  /** Hex SHA-256 of the code. */
  code_hash: string;
  created_at: number;
  used_at: number | null;
}

/** A sign-in waiting for its second step; `id` is the hex SHA-256 of the cookie token. */
export interface PendingSignInRow {
  id: string;
  user_id: string;
  next: string | null;
  created_at: number;
  expires_at: number;
}
