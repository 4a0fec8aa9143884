import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { SETUP_PAGE_ACTOR_ID } from '../audit/audit.schema.js';
import type { Db } from '../db/db.js';
import type { Clock } from '../lib/clock.js';
import { errors } from '../lib/errors.js';
import { deleteSetting, getSetting, setSetting } from '../settings/settings.repo.js';
import { countUsers } from '../users/users.repo.js';
import { createUser } from '../users/users.service.js';

/**
 * First-run setup: while the instance has no user, `serve` issues a one-time token (valid one
 * hour; a restart issues a new one and voids the old) for /setup, where the first owner and
 * workspace are created. Only a hash of the token is stored.
 */
export const SETUP_TOKEN_TTL_MS = 60 * 60 * 1000;
const SETTING = 'setup_token';

export interface SetupDeps {
  db: Db;
  clock: Clock;
}

export type SetupState = 'open' | 'invalid' | 'done';

const digest = (token: string) => createHash('sha256').update(token).digest();

/** A new setup token when there is no user yet, else undefined. */
export async function issueSetupToken(deps: SetupDeps): Promise<string | undefined> {
  if ((await countUsers(deps.db)) > 0) return undefined;
  const token = randomBytes(24).toString('base64url');
  const expiresAt = deps.clock.now() + SETUP_TOKEN_TTL_MS;
  await setSetting(deps.db, SETTING, JSON.stringify({ hash: digest(token).toString('hex'), expiresAt }));
  return token;
}

export async function setupState(deps: SetupDeps, token: string | undefined): Promise<SetupState> {
  if ((await countUsers(deps.db)) > 0) return 'done';
  const stored = await getSetting(deps.db, SETTING);
  if (!stored || !token) return 'invalid';
  const { hash, expiresAt } = JSON.parse(stored) as { hash: string; expiresAt: number };
  if (deps.clock.now() >= expiresAt) return 'invalid';
  const expected = Buffer.from(hash, 'hex');
  return timingSafeEqual(expected, digest(token)) ? 'open' : 'invalid';
}

/** Creates the first owner and workspace, then voids the token. */
export async function completeSetup(
  deps: SetupDeps,
  token: string | undefined,
  input: { email: string; password: string; workspace: string },
  ip: string | null,
) {
  if ((await setupState(deps, token)) !== 'open') throw errors.forbidden('setup_closed', 'This setup link is no longer valid.');
  // No one is signed in yet: the audit log names the setup page as the actor.
  const ctx = { actor: { type: 'operator' as const, id: SETUP_PAGE_ACTOR_ID }, ip };
  const created = await createUser(deps, ctx, { ...input, role: 'owner', onlyIfFirst: true });
  await deleteSetting(deps.db, SETTING);
  return created;
}
