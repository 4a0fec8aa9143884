import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { AtRestKey, AtRestKeys } from './at-rest-key.js';

/**
 * Seals secrets the server must read back in clear (webhook signing secrets, stored answers that
 * hold them, the day's visitor salt) with AES-256-GCM under the at-rest key, which is kept
 * outside the database (src/secrets/at-rest-key.ts).
 *
 * A sealed value is text, `enc:v1:<key id>:<nonce>:<ciphertext and tag>` (base64url), so it fits
 * the TEXT columns the secrets were in. Each value is bound to where it lives (its `context`,
 * e.g. `webhook_endpoints.secret:whk_…`, as GCM associated data): copied into another row or
 * column it does not open, so whoever can write the database cannot make one endpoint sign with
 * another's secret.
 */

const PREFIX = 'enc:v1:';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** The value cannot be opened here: sealed under a key this instance lacks, bound elsewhere, or altered. */
export class UnreadableSecretError extends Error {
  override name = 'UnreadableSecretError';
}

export const isSealed = (value: string) => value.startsWith(PREFIX);

export class SecretBox {
  private readonly current: AtRestKey;
  private readonly byId: Map<string, AtRestKey>;

  constructor(keys: AtRestKeys) {
    this.current = keys.current;
    // The current key last, so it wins should a previous key carry the same id (the same key).
    this.byId = new Map([...keys.previous, keys.current].map((k) => [k.id, k]));
  }

  seal(plaintext: string, context: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${PREFIX}${this.current.id}:${nonce.toString('base64url')}:${sealed.toString('base64url')}`;
  }

  /** The plaintext of a sealed value; throws UnreadableSecretError when it cannot be opened here. */
  open(value: string, context: string): string {
    const [keyId = '', nonce = '', sealed = ''] = value.startsWith(PREFIX) ? value.slice(PREFIX.length).split(':') : [];
    const key = this.byId.get(keyId);
    if (!key) throw new UnreadableSecretError(`sealed under another at-rest key (${keyId || 'not sealed'})`);
    const bytes = Buffer.from(sealed, 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(nonce, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new UnreadableSecretError('altered, or sealed for another place');
    }
  }

  /** What every value sealed under the current key starts with (queries skip those by it). */
  get currentPrefix(): string {
    return `${PREFIX}${this.current.id}:`;
  }

  /** Sealed under the current key: nothing to do for it at start-up. */
  isCurrent(value: string): boolean {
    return value.startsWith(this.currentPrefix);
  }
}
