import { isIP } from 'node:net';
import type { Db } from '../db/db.js';
import type { ApiKeyRow, KeyStatus } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { toIso } from '../lib/clock.js';
import { errors } from '../lib/errors.js';
import { blockListOf, parseCidr } from '../lib/net.js';
import { hashKeySecret, verifySecret } from '../lib/passwords.js';
import { formatKey, generateKeyParts, generateSecret, type KeyParts, parseKey } from './key-format.js';
import type { KeyUsageRecorder } from './key-usage.js';
import { countLiveKeys, findKeyById, findKeyWithPlan, insertKey, listKeysOfWorkspace, updateKey } from './keys.repo.js';
import { type ApiRequestRecorder, listKeyRequests } from './request-log.js';
import type { Scope } from './scopes.js';
import type { VerificationCache } from './verification-cache.js';
import { type ChangeContext, recordAudit } from '../audit/audit.js';
import { requireWithinPlanLimit, type WorkspacePlan } from '../workspaces/plans.js';

/** Who is calling the API: a verified, active key. */
export interface KeyPrincipal {
  keyId: string;
  workspaceId: string;
  name: string;
  environment: string;
  scopes: Scope[];
  expiresAt: number | null;
  /** Set only for a key limited to some networks: the CIDRs it may be used from. */
  allowedCidrs?: string[];
  /** The workspace's plan as it was when the request arrived (read with the key: no extra query). */
  plan: WorkspacePlan;
}

export interface KeyStore {
  db: Db;
  clock: Clock;
}

export interface KeyDeps extends KeyStore {
  verifiedKeys: VerificationCache;
  keyUsage: KeyUsageRecorder;
  /** Each key's request log; absent where nothing serves the API (unit tests of this module). */
  apiRequests?: ApiRequestRecorder;
  /** Told of every argon2 check of a secret, the cost a prober makes the server pay; absent in unit tests. */
  metrics?: { apiKeyVerified(valid: boolean): void };
}

export interface NewKey {
  workspaceId: string;
  name: string;
  environment: string;
  scopes: Scope[];
  expiresAt: number | null;
  createdByUserId: string | null;
  /** Networks the key may be used from (checked with allowedNetworks); absent or null: anywhere. */
  allowedCidrs?: readonly string[] | null;
}

/** What may be shown about a key: everything but the hashes. */
export function presentKey(row: ApiKeyRow) {
  return {
    id: row.id,
    name: row.name,
    environment: row.environment,
    scopes: JSON.parse(row.scopes) as Scope[],
    status: row.status,
    prefix: `lqr_${row.id}`,
    expiresAt: toIso(row.expires_at),
    createdBy: row.created_by_user_id,
    createdAt: toIso(row.created_at),
    revokedAt: toIso(row.revoked_at),
    lastUsedAt: toIso(row.last_used_at),
    lastUsedIp: row.last_used_ip,
    requestCount: row.request_count,
    allowedCidrs: cidrsOf(row),
  };
}
export type PresentedKey = ReturnType<typeof presentKey>;

/** A new key's id and secret, with the argon2 hash of the secret under way on libuv's thread pool. */
export interface KeySecret {
  parts: KeyParts;
  hash: Promise<string>;
}

/**
 * Starts hashing a new key's secret. createKey does it itself; a caller with other work to do
 * first starts it earlier (the CLI, before it opens the database), so the argon2 run goes
 * alongside that work instead of after it.
 */
export function newKeySecret(): KeySecret {
  const parts = generateKeyParts();
  const hash = hashKeySecret(parts.secret);
  // Observed now, awaited later: a failure is still thrown where createKey awaits it, and is never
  // an unhandled rejection if createKey refuses the input first.
  hash.catch(() => {});
  return { parts, hash };
}

/** Creates a key; the returned `key` text exists only here and is never stored. */
export async function createKey(
  deps: KeyStore,
  ctx: ChangeContext,
  input: NewKey,
  secret?: KeySecret,
): Promise<{ key: string; record: PresentedKey }> {
  const allowedCidrs = allowedNetworks(input.allowedCidrs ?? []);
  // Hashed once the input is known to be good (the CLI passes one it started hashing earlier).
  const { parts, hash } = secret ?? newKeySecret();
  const now = deps.clock.now();
  const row: ApiKeyRow = {
    id: parts.id,
    workspace_id: input.workspaceId,
    name: input.name,
    environment: input.environment,
    scopes: JSON.stringify(input.scopes),
    secret_hash: await hash,
    previous_secret_hash: null,
    previous_secret_expires_at: null,
    status: 'active',
    expires_at: input.expiresAt,
    created_by_user_id: input.createdByUserId,
    created_at: now,
    updated_at: now,
    revoked_at: null,
    last_used_at: null,
    last_used_ip: null,
    request_count: 0,
    allowed_cidrs: allowedCidrs && JSON.stringify(allowedCidrs),
  };
  await deps.db.tx(async (t) => {
    await requireWithinPlanLimit(t, input.workspaceId, 'apiKeys', () => countLiveKeys(t, input.workspaceId));
    await insertKey(t, row);
    await recordAudit(t, ctx, {
      workspaceId: input.workspaceId,
      action: 'key.create',
      targetType: 'api_key',
      targetId: row.id,
      summary: { name: row.name, environment: row.environment, scopes: input.scopes, expiresAt: toIso(row.expires_at), allowedCidrs },
      at: now,
    });
  });
  return { key: formatKey(parts), record: presentKey(row) };
}

export async function listKeys(deps: KeyStore, workspaceId: string): Promise<PresentedKey[]> {
  return (await listKeysOfWorkspace(deps.db, workspaceId)).map(presentKey);
}

/** Revoke is final. A revoked key fails on its very next request (the row is read every time). */
export async function revokeKey(deps: KeyStore, ctx: ChangeContext, id: string): Promise<PresentedKey> {
  return deps.db.tx(async (t) => {
    const row = await findKeyById(t, id);
    if (!row) throw errors.notFound(`API key ${id}`);
    if (row.status !== 'revoked') {
      const now = deps.clock.now();
      await updateKey(t, id, { status: 'revoked', revoked_at: now, updated_at: now });
      await recordAudit(t, ctx, { workspaceId: row.workspace_id, action: 'key.revoke', targetType: 'api_key', targetId: id, summary: { name: row.name }, at: now });
    }
    return presentKey((await findKeyById(t, id))!);
  });
}

/** Disable is reversible; revoked keys stay revoked. */
export async function setKeyEnabled(deps: KeyStore, ctx: ChangeContext, id: string, enabled: boolean): Promise<PresentedKey> {
  return deps.db.tx(async (t) => {
    const row = await findKeyById(t, id);
    if (!row) throw errors.notFound(`API key ${id}`);
    if (row.status === 'revoked') throw errors.conflict('api_key_revoked', `API key ${id} is revoked; revoke is final.`);
    const status: KeyStatus = enabled ? 'active' : 'disabled';
    const now = deps.clock.now();
    await updateKey(t, id, { status, updated_at: now });
    if (status !== row.status) {
      const action = enabled ? 'key.enable' : 'key.disable';
      await recordAudit(t, ctx, { workspaceId: row.workspace_id, action, targetType: 'api_key', targetId: id, summary: { name: row.name }, at: now });
    }
    return presentKey((await findKeyById(t, id))!);
  });
}

/**
 * Limits where a key may be used from (null: anywhere). Applies from the key's next request,
 * since its row is read on every request.
 */
export async function setAllowedNetworks(deps: KeyStore, ctx: ChangeContext, id: string, cidrs: readonly string[] | null): Promise<PresentedKey> {
  const allowed = allowedNetworks(cidrs ?? []);
  return deps.db.tx(async (t) => {
    const row = await findKeyById(t, id);
    if (!row) throw errors.notFound(`API key ${id}`);
    if (row.status === 'revoked') throw errors.conflict('api_key_revoked', `API key ${id} is revoked; revoke is final.`);
    const before = cidrsOf(row);
    if (JSON.stringify(before) !== JSON.stringify(allowed)) {
      const now = deps.clock.now();
      await updateKey(t, id, { allowed_cidrs: allowed && JSON.stringify(allowed), updated_at: now });
      await recordAudit(t, ctx, {
        workspaceId: row.workspace_id,
        action: 'key.set_networks',
        targetType: 'api_key',
        targetId: id,
        summary: { name: row.name, allowedCidrs: { from: before, to: allowed } },
        at: now,
      });
    }
    return presentKey((await findKeyById(t, id))!);
  });
}

/** At most this many networks per key: a longer list is a sign of a mistake, not a policy. */
export const MAX_ALLOWED_CIDRS = 50;

/** Splits what a person typed (commas, spaces or new lines between entries) into entries. */
export const splitCidrList = (text: string): string[] => text.split(/[\s,]+/).filter(Boolean);

/**
 * Validates the networks a key may be used from: IPv4 or IPv6 CIDRs or single addresses,
 * trimmed and de-duplicated. An empty list means any address (null). Throws a validation
 * error on the `allowedCidrs` field naming the first entry that is not a network.
 */
export function allowedNetworks(entries: readonly string[]): string[] | null {
  const cidrs = [...new Set(entries.map((e) => e.trim()).filter(Boolean))];
  const bad = cidrs.find((c) => !parseCidr(c));
  if (bad !== undefined) {
    throw errors.validation([{ field: 'allowedCidrs', message: `"${bad}" is not an IP address or network; write networks as CIDRs, such as 10.0.0.0/8 or 2001:db8::/32.` }]);
  }
  if (cidrs.length > MAX_ALLOWED_CIDRS) {
    throw errors.validation([{ field: 'allowedCidrs', message: `List at most ${MAX_ALLOWED_CIDRS} networks.` }]);
  }
  return cidrs.length === 0 ? null : cidrs;
}

/**
 * Throws 403 ip_not_allowed unless the key may be used from `ip`. An IPv4-mapped IPv6 address
 * (::ffff:192.0.2.1, what a dual-stack socket reports) matches IPv4 networks: BlockList
 * compares the two forms. The refusal names the address seen but not the allowed networks,
 * which would tell whoever holds a stolen key where to call from.
 */
export function requireAllowedAddress(principal: KeyPrincipal, ip: string): void {
  const cidrs = principal.allowedCidrs;
  if (!cidrs) return;
  const family = isIP(ip);
  if (family !== 0 && blockListOf(cidrs).check(ip, family === 4 ? 'ipv4' : 'ipv6')) return;
  throw errors.forbidden(
    'ip_not_allowed',
    `This API key may not be used from ${ip || 'an unknown address'}. A workspace admin can change the networks it is allowed from in the admin UI (the key's row on the API & Webhooks page) or with "linkqr key allow ${principal.keyId} …".`,
  );
}

/** A key's logged requests, newest first; the key must exist (it may be revoked). */
export async function keyRequestLog(deps: KeyStore, id: string, page: { limit: number; before?: number }) {
  if (!(await findKeyById(deps.db, id))) throw errors.notFound(`API key ${id}`);
  return listKeyRequests(deps.db, id, page);
}

const cidrsOf = (row: ApiKeyRow): string[] | null => (row.allowed_cidrs === null ? null : (JSON.parse(row.allowed_cidrs) as string[]));

/**
 * Rotates the secret of a key record. The old secret keeps working for `graceMs` (0 to 7 days).
 * Returns the new key text, shown once.
 */
export async function rotateKey(deps: KeyStore, ctx: ChangeContext, id: string, graceMs: number): Promise<{ key: string; record: PresentedKey }> {
  if (!Number.isInteger(graceMs) || graceMs < 0 || graceMs > MAX_ROTATION_GRACE_MS) {
    throw errors.validation([{ field: 'grace', message: 'must be from 0 to 7 days' }]);
  }
  const row = await findKeyById(deps.db, id);
  if (!row) throw errors.notFound(`API key ${id}`);
  if (row.status === 'revoked') throw errors.conflict('api_key_revoked', `API key ${id} is revoked; create a new key.`);
  const secret = generateSecret();
  // Hashed before the transaction: argon2 must not hold the database's writer.
  const secretHash = await hashKeySecret(secret);
  const now = deps.clock.now();
  const record = await deps.db.tx(async (t) => {
    // The hashing took a while: the secret it replaces is the one the row holds now.
    const current = await findKeyById(t, id);
    if (!current) throw errors.notFound(`API key ${id}`);
    if (current.status === 'revoked') throw errors.conflict('api_key_revoked', `API key ${id} is revoked; create a new key.`);
    await updateKey(t, id, {
      secret_hash: secretHash,
      previous_secret_hash: graceMs > 0 ? current.secret_hash : null,
      previous_secret_expires_at: graceMs > 0 ? now + graceMs : null,
      updated_at: now,
    });
    await recordAudit(t, ctx, {
      workspaceId: current.workspace_id,
      action: 'key.rotate',
      targetType: 'api_key',
      targetId: id,
      summary: { name: current.name, oldSecretValidUntil: toIso(graceMs > 0 ? now + graceMs : now) },
      at: now,
    });
    return presentKey((await findKeyById(t, id))!);
  });
  return { key: formatKey({ id, secret }), record };
}

export const MAX_ROTATION_GRACE_MS = 7 * 86_400_000;

const rejected = {
  missing: () => errors.unauthorized('missing_api_key', 'Send an API key as "Authorization: Bearer lqr_…".'),
  malformed: () => errors.unauthorized('malformed_api_key', 'The API key is not in the lqr_… format or is mangled (checksum mismatch).'),
  invalid: () => errors.unauthorized('invalid_api_key', 'The API key is not valid.'),
  revoked: () => errors.unauthorized('api_key_revoked', 'The API key has been revoked.'),
  disabled: () => errors.unauthorized('api_key_disabled', 'The API key is disabled.'),
  expired: () => errors.unauthorized('api_key_expired', 'The API key has expired.'),
};

/**
 * Turns a bearer token into a principal or throws a 401 AppError.
 * Shape and checksum are checked first (no database, no argon2 for garbage). The key's row is
 * read on every call, so status changes made anywhere (CLI included) apply to the next request;
 * only the argon2 verification itself is cached.
 */
export async function authenticateKey(deps: KeyDeps, token: string | undefined, ip: string): Promise<KeyPrincipal> {
  if (!token) throw rejected.missing();
  const parsed = parseKey(token);
  if (!parsed.ok) throw rejected.malformed();

  const row = await findKeyWithPlan(deps.db, parsed.id);
  if (!row) throw rejected.invalid();
  const now = deps.clock.now();
  const acceptable = [row.secret_hash];
  if (row.previous_secret_hash && row.previous_secret_expires_at !== null && now < row.previous_secret_expires_at) {
    acceptable.push(row.previous_secret_hash);
  }
  const cached = acceptable.some((hash) => deps.verifiedKeys.has(row.id, hash, parsed.secret));
  if (!cached) {
    // A wrong secret for an existing id costs this argon2 run; the per-address limit (taken before
    // the key is looked at) is what keeps a prober from making the server pay it at will.
    const valid = await verifyAndRemember(deps.verifiedKeys, row.id, acceptable, parsed.secret);
    deps.metrics?.apiKeyVerified(valid);
    if (!valid) throw rejected.invalid();
  }

  // An argon2 run takes a while and may have spanned a revoke: then judge the row as it is now.
  const current = cached ? row : await findKeyWithPlan(deps.db, row.id);
  if (!current || current.status === 'revoked') throw rejected.revoked();
  if (current.status === 'disabled') throw rejected.disabled();
  if (current.expires_at !== null && now >= current.expires_at) throw rejected.expired();

  deps.keyUsage.record(current.id, now, ip);
  const principal: KeyPrincipal = {
    keyId: current.id,
    workspaceId: current.workspace_id,
    name: current.name,
    environment: current.environment,
    scopes: JSON.parse(current.scopes) as Scope[],
    expiresAt: current.expires_at,
    plan: { name: current.plan_name, features: JSON.parse(current.plan_features), limits: JSON.parse(current.plan_limits) },
  };
  const allowedCidrs = cidrsOf(current);
  if (allowedCidrs) principal.allowedCidrs = allowedCidrs;
  return principal;
}

async function verifyAndRemember(cache: VerificationCache, keyId: string, hashes: string[], secret: string): Promise<boolean> {
  for (const hash of hashes) {
    if (await verifySecret(hash, secret)) {
      cache.remember(keyId, hash, secret);
      return true;
    }
  }
  return false;
}
