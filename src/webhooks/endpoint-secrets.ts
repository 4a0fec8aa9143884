import type { Queries } from '../db/db.js';
import { isSealed, type SecretBox, UnreadableSecretError } from '../secrets/secret-box.js';

/**
 * Endpoint signing secrets are kept sealed (src/secrets/secret-box.ts): HMAC needs them in clear
 * to sign, so they cannot be hashed like API keys, but a copy of the database must not give them
 * away. Each is bound to its endpoint and column.
 */

type Column = 'secret' | 'previous_secret';

const contextOf = (endpointId: string, column: Column) => `webhook_endpoints.${column}:${endpointId}`;

export const sealEndpointSecret = (box: SecretBox, endpointId: string, column: Column, secret: string) =>
  box.seal(secret, contextOf(endpointId, column));

/** The secret in clear, or undefined when this instance's key cannot open it. */
export function openEndpointSecret(box: SecretBox, endpointId: string, column: Column, stored: string): string | undefined {
  try {
    return box.open(stored, contextOf(endpointId, column));
  } catch (e) {
    if (e instanceof UnreadableSecretError) return undefined;
    throw e;
  }
}

export interface StoredSecrets {
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: number | null;
}

/**
 * The dispatcher's signing secrets in clear, by endpoint, column and sealed value: opening one (an
 * AES-GCM decipher set up) for every attempt was 5% of a delivery's time. Only these secrets,
 * which every attempt needs in clear anyway; a rotation seals a new value, so an entry is never
 * stale, and beyond `max` the least recently used are forgotten.
 */
export class SigningSecrets {
  private readonly opened = new Map<string, string>();

  constructor(
    private readonly box: SecretBox,
    private readonly max = 256,
  ) {}

  /**
   * The secrets that sign an attempt at `at`: the current one, then the previous one while its
   * grace period runs. Undefined when the key cannot open them: nothing is signed with less.
   */
  of(endpointId: string, row: StoredSecrets, at: number): string[] | undefined {
    const current = this.open(endpointId, 'secret', row.secret);
    if (current === undefined) return undefined;
    if (row.previous_secret === null || row.previous_secret_expires_at === null || at >= row.previous_secret_expires_at) return [current];
    const previous = this.open(endpointId, 'previous_secret', row.previous_secret);
    return previous === undefined ? undefined : [current, previous];
  }

  private open(endpointId: string, column: Column, stored: string): string | undefined {
    const key = `${column}:${endpointId}\n${stored}`;
    let secret = this.opened.get(key);
    if (secret !== undefined) this.opened.delete(key);
    else if ((secret = openEndpointSecret(this.box, endpointId, column, stored)) === undefined) return undefined;
    else if (this.opened.size >= this.max) this.opened.delete(this.opened.keys().next().value!);
    this.opened.set(key, secret);
    return secret;
  }
}

/** Deliveries to this endpoint wait (the dispatcher claims none) until its secret is rotated. */
export const markSecretUnreadable = (db: Queries, endpointId: string, at: number) =>
  db.exec('update webhook_endpoints set secret_unreadable_since = coalesce(secret_unreadable_since, ?) where id = ?', at, endpointId);

export interface SecretsCheck {
  /** Values sealed now: in clear (from before sealing), or under a previous key. */
  resealed: number;
  /** Endpoints whose secrets this instance cannot open. */
  unreadable: { id: string; workspaceId: string }[];
}

/**
 * At start-up, inside the caller's transaction: seals secrets left in clear by an older version
 * and those sealed under a previous key, and marks the endpoints whose secrets cannot be opened
 * (and unmarks those that can again: the right key came back).
 */
export async function checkEndpointSecrets(db: Queries, box: SecretBox, now: number): Promise<SecretsCheck> {
  const rows = await db.all(
    db.q.selectFrom('webhook_endpoints').select(['id', 'workspace_id', 'secret', 'previous_secret', 'secret_unreadable_since']),
  );
  const check: SecretsCheck = { resealed: 0, unreadable: [] };
  for (const row of rows) {
    const columns: [Column, string | null][] = [['secret', row.secret], ['previous_secret', row.previous_secret]];
    const patch: { secret?: string; previous_secret?: string } = {};
    let readable = true;
    for (const [column, stored] of columns) {
      if (stored === null) continue;
      // Values under the current key are opened too: one altered or moved from another row fails here.
      const clear = isSealed(stored) ? openEndpointSecret(box, row.id, column, stored) : stored;
      if (clear === undefined) readable = false;
      else if (!box.isCurrent(stored)) patch[column] = sealEndpointSecret(box, row.id, column, clear);
    }
    check.resealed += Object.keys(patch).length;
    const unreadableSince = readable ? null : (row.secret_unreadable_since ?? now);
    if (Object.keys(patch).length > 0 || unreadableSince !== row.secret_unreadable_since) {
      await db.run(db.q.updateTable('webhook_endpoints').set({ ...patch, secret_unreadable_since: unreadableSince }).where('id', '=', row.id));
    }
    if (!readable) check.unreadable.push({ id: row.id, workspaceId: row.workspace_id });
  }
  return check;
}
