import type { Store } from '../store.js';
import { withStore } from './with-store.js';
import {
  allowedNetworks,
  createKey,
  keyRequestLog,
  listKeys,
  MAX_ROTATION_GRACE_MS,
  newKeySecret,
  revokeKey,
  rotateKey,
  setAllowedNetworks,
  setKeyEnabled,
  splitCidrList,
} from '../keys/keys.service.js';
import { isScope, SCOPES, type Scope } from '../keys/scopes.js';
import { parseDuration } from '../lib/duration.js';
import { DEFAULT_ROTATION_GRACE_MS } from '../secrets/rotation-grace.js';
import { AppError, errors } from '../lib/errors.js';
import { requireWorkspace } from '../workspaces/workspaces.service.js';
import { type CommandContext, operatorContext, stringOption } from './command.js';
import { printRows, say } from './output.js';

function parseScopes(text: string | undefined): Scope[] {
  if (!text) throw errors.usage(`--scopes is required: a comma-separated list of ${SCOPES.join(', ')}`);
  const scopes = text.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = scopes.filter((s) => !isScope(s));
  if (bad.length > 0 || scopes.length === 0) throw errors.usage(`unknown scope(s) ${bad.join(', ')}; choose from ${SCOPES.join(', ')}`);
  return [...new Set(scopes)] as Scope[];
}

function parseName(text: string | undefined, flag: string, fallback?: string): string {
  const value = (text ?? fallback ?? '').trim();
  if (!value) throw errors.usage(`${flag} is required`);
  if (value.length > 100 || /[\x00-\x1f]/.test(value)) throw errors.usage(`${flag} must be at most 100 printable characters`);
  return value;
}

/** `10.0.0.0/8,2001:db8::/32` → the networks; `any` → null (any address). A bad entry is a usage error. */
function parseNetworks(text: string, what: string): string[] | null {
  if (text.trim().toLowerCase() === 'any') return null;
  const entries = splitCidrList(text);
  if (entries.length === 0) throw errors.usage(`${what} takes comma-separated CIDRs such as 10.0.0.0/8,2001:db8::/32, or "any"`);
  try {
    return allowedNetworks(entries);
  } catch (err) {
    if (err instanceof AppError && err.errors?.[0]) throw errors.usage(`${what}: ${err.errors[0].message}`);
    throw err;
  }
}

const describeNetworks = (cidrs: readonly string[] | null) => (cidrs ? `from ${cidrs.join(', ')} only` : 'from any address');

export async function keyCreate(ctx: CommandContext) {
  const workspaceName = parseName(stringOption(ctx, 'workspace'), '--workspace');
  const name = parseName(stringOption(ctx, 'name'), '--name');
  const environment = parseName(stringOption(ctx, 'env'), '--env', 'production');
  const scopes = parseScopes(stringOption(ctx, 'scopes'));
  const expiresText = stringOption(ctx, 'expires');
  const expiresIn = expiresText === undefined ? undefined : parseDuration(expiresText);
  if (expiresText !== undefined && !expiresIn) throw errors.usage('--expires must be a duration such as 30d, 12h or 90m, at most 36500d');
  const allowText = stringOption(ctx, 'allow-cidr');
  const allowedCidrs = allowText === undefined ? null : parseNetworks(allowText, '--allow-cidr');

  // Hashed while the database opens.
  const secret = newKeySecret();
  await withStore(ctx, async (store) => {
    const ws = await requireWorkspace(store, workspaceName);
    const { key, record } = await createKey(store, operatorContext(), {
      workspaceId: ws.id,
      name,
      environment,
      scopes,
      expiresAt: expiresIn ? store.clock.now() + expiresIn : null,
      createdByUserId: null,
      allowedCidrs,
    }, secret);
    const networks = allowedCidrs ? `, usable ${describeNetworks(allowedCidrs)}` : '';
    say(`Created API key ${record.id} "${name}" (${environment}) in "${ws.name}" with ${scopes.join(', ')}${networks}. It is shown only now.`);
    process.stdout.write(`${key}\n`);
  });
}

export async function keyList(ctx: CommandContext) {
  const workspaceName = parseName(stringOption(ctx, 'workspace'), '--workspace');
  await withStore(ctx, async (store) => {
    const keys = await listKeys(store, (await requireWorkspace(store, workspaceName)).id);
    if (ctx.options.json) return printRows(keys, true);
    printRows(
      keys.map((k) => ({
        id: k.id,
        name: k.name,
        env: k.environment,
        scopes: k.scopes,
        status: k.status,
        expires: k.expiresAt,
        lastUsed: k.lastUsedAt,
        requests: k.requestCount,
        from: k.allowedCidrs ?? 'any',
      })),
      false,
    );
  });
}

/** revoke, disable, enable: one key by its id, and a sentence saying what happened. */
const onKey =
  (done: string, act: (store: Store, id: string) => Promise<unknown>) =>
  async (ctx: CommandContext) => {
    await withStore(ctx, async (store) => {
      await act(store, ctx.positionals[0]!);
      say(`API key ${ctx.positionals[0]} ${done}.`);
    });
  };

export const keyRevoke = onKey('revoked', (s, id) => revokeKey(s, operatorContext(), id));
export const keyDisable = onKey('disabled', (s, id) => setKeyEnabled(s, operatorContext(), id, false));
export const keyEnable = onKey('enabled', (s, id) => setKeyEnabled(s, operatorContext(), id, true));

export async function keyRotate(ctx: CommandContext) {
  const graceText = stringOption(ctx, 'grace');
  const graceMs = graceText === undefined ? DEFAULT_ROTATION_GRACE_MS : graceText === '0' ? 0 : parseDuration(graceText);
  if (graceMs === undefined || graceMs > MAX_ROTATION_GRACE_MS) throw errors.usage('--grace must be a duration from 0 to 7d');
  await withStore(ctx, async (store) => {
    const { key, record } = await rotateKey(store, operatorContext(), ctx.positionals[0]!, graceMs);
    say(`Rotated API key ${record.id}; the old secret ${graceMs > 0 ? `works until ${new Date(store.clock.now() + graceMs).toISOString()}` : 'no longer works'}.`);
    process.stdout.write(`${key}\n`);
  });
}

export async function keyAllow(ctx: CommandContext) {
  const [id, text] = ctx.positionals as [string, string];
  const cidrs = parseNetworks(text, 'CIDRS');
  await withStore(ctx, async (store) => {
    await setAllowedNetworks(store, operatorContext(), id, cidrs);
    say(`API key ${id} may now be used ${describeNetworks(cidrs)}.`);
  });
}

export async function keyLog(ctx: CommandContext) {
  const limit = positiveInteger(stringOption(ctx, 'limit') ?? '50', '--limit', 1_000);
  const beforeText = stringOption(ctx, 'before');
  const before = beforeText === undefined ? undefined : positiveInteger(beforeText, '--before', Number.MAX_SAFE_INTEGER);
  await withStore(ctx, async (store) => {
    const page = await keyRequestLog(store, ctx.positionals[0]!, { limit, before });
    if (ctx.options.json) printRows(page.data, true);
    else printRows(page.data.map((r) => ({ id: r.id, at: r.at, method: r.method, path: r.path, status: r.status, ms: r.durationMs, ip: r.ip })), false);
    if (page.nextBefore !== null) say(`Older requests: linkqr key log ${ctx.positionals[0]} --before ${page.nextBefore}`);
  });
}

function positiveInteger(text: string, flag: string, max: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw errors.usage(`${flag} must be a whole number from 1 to ${max}`);
  return n;
}
