import { createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com, spec v1): the signed content is
 * `{webhook-id}.{webhook-timestamp}.{body}`, HMAC-SHA256 keyed with the base64-decoded part of
 * the secret after `whsec_`, sent as `v1,<base64 digest>`.
 */

const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** The HMAC key of a `whsec_…` secret. Throws on a secret that is not ours to sign with. */
function keyOf(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error('A webhook secret must start with whsec_.');
  const encoded = secret.slice(SECRET_PREFIX.length);
  const key = Buffer.from(encoded, 'base64');
  // Buffer.from silently skips invalid characters; insist on a clean round trip instead.
  if (key.length === 0 || key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) {
    throw new Error('A webhook secret must be whsec_ followed by base64.');
  }
  return key;
}

/**
 * The `webhook-signature` value: one `v1,<sig>` per secret, space-separated. During a rotation
 * grace period pass the new and the old secret; a receiver holding either one verifies.
 */
export function signatureHeader(secrets: readonly string[], msgId: string, timestampSeconds: number, body: string): string {
  if (secrets.length === 0) throw new Error('At least one webhook secret is needed to sign.');
  if (!Number.isSafeInteger(timestampSeconds)) throw new Error('The webhook timestamp must be whole seconds.');
  const content = `${msgId}.${timestampSeconds}.${body}`;
  return secrets.map((secret) => `v1,${createHmac('sha256', keyOf(secret)).update(content, 'utf8').digest('base64')}`).join(' ');
}

export interface WebhookHeaderInput {
  /** The event id: the same on every retry and redelivery, so receivers can dedupe. */
  msgId: string;
  /** Unix seconds of this attempt. */
  timestampSeconds: number;
  /** The exact bytes that will be sent. */
  body: string;
  /** Current secret first, then the previous one while its grace period runs. */
  secrets: readonly string[];
  userAgent: string;
}

/** Every header of one delivery attempt. */
export function webhookHeaders(input: WebhookHeaderInput): Record<string, string> {
  return {
    'webhook-id': input.msgId,
    'webhook-timestamp': String(input.timestampSeconds),
    'webhook-signature': signatureHeader(input.secrets, input.msgId, input.timestampSeconds, input.body),
    'content-type': 'application/json',
    'user-agent': input.userAgent,
  };
}
