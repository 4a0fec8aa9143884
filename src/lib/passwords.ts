import { argon2, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * argon2id through Node's own implementation (node:crypto, Node 24.7+): no native addon to load
 * or unpack, which is most of what a CLI command that hashes a key used to spend starting.
 * Hashes are stored as PHC strings (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`, unpadded base64), the
 * format of the argon2 npm package, so hashes it wrote keep verifying.
 */

interface Cost {
  memory: number;
  passes: number;
  parallelism: number;
}

/** Passwords: OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane), ~20–40 ms here. */
const PASSWORD_COST: Cost = { memory: 19_456, passes: 2, parallelism: 1 };

/**
 * API key secrets: 32 random base62 characters, about 190 bits. Stretching protects guessable
 * secrets; no amount of it changes the odds against 2^190, while every key created, rotated or
 * verified after the cache expires would pay for it (and a prober with a key id would make the
 * server pay for it). So the hash is argon2id at its light end, 1 MiB and one pass (~1 ms):
 * still salted and one-way, what the database holds reveals nothing usable.
 */
const KEY_SECRET_COST: Cost = { memory: 1_024, passes: 1, parallelism: 1 };
const SALT_BYTES = 16;
const TAG_BYTES = 32;
const VERSION = 19; // argon2 1.3, the only version node:crypto computes

type Algorithm = 'argon2d' | 'argon2i' | 'argon2id';
interface Phc extends Cost {
  algorithm: Algorithm;
  salt: Buffer;
  hash: Buffer;
}

const derive = (algorithm: Algorithm, message: string, nonce: Buffer, p: Cost, tagLength: number) =>
  new Promise<Buffer>((resolve, reject) =>
    argon2(algorithm, { message, nonce, tagLength, ...p }, (err, key) => (err ? reject(err) : resolve(key))),
  );

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');

export const hashPassword = (password: string): Promise<string> => hashWith(PASSWORD_COST, password);

export const hashKeySecret = (secret: string): Promise<string> => hashWith(KEY_SECRET_COST, secret);

async function hashWith(cost: Cost, secret: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive('argon2id', secret, salt, cost, TAG_BYTES);
  return `$argon2id$v=${VERSION}$m=${cost.memory},t=${cost.passes},p=${cost.parallelism}$${b64(salt)}$${b64(hash)}`;
}

/** Whether the secret matches a stored hash, whatever cost it was made with (its PHC string says). */
export async function verifySecret(stored: string, secret: string): Promise<boolean> {
  const phc = parsePhc(stored);
  if (!phc) return false; // a malformed stored hash verifies nothing
  try {
    const hash = await derive(phc.algorithm, secret, phc.salt, phc, phc.hash.length);
    return timingSafeEqual(hash, phc.hash);
  } catch {
    return false;
  }
}

// Bounds that keep a damaged or hostile stored hash from asking for much more than this build's
// own hashes do (19 MiB, 2 passes): 256 MiB, 10 passes, 8 lanes at most.
const LIMITS = { memory: 262_144, passes: 10, parallelism: 8 };

function parsePhc(text: string): Phc | undefined {
  const m = /^\$(argon2id|argon2i|argon2d)\$v=(\d+)\$([a-z0-9=,]+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(text);
  if (!m || Number(m[2]) !== VERSION) return undefined;
  const params = new Map(m[3]!.split(',').map((kv) => kv.split('=') as [string, string]));
  const memory = Number(params.get('m'));
  const passes = Number(params.get('t'));
  const parallelism = Number(params.get('p'));
  const ok = (n: number, max: number) => Number.isInteger(n) && n >= 1 && n <= max;
  if (!ok(memory, LIMITS.memory) || !ok(passes, LIMITS.passes) || !ok(parallelism, LIMITS.parallelism) || memory < 8 * parallelism) return undefined;
  const salt = Buffer.from(m[4]!, 'base64');
  const hash = Buffer.from(m[5]!, 'base64');
  if (salt.length < 8 || hash.length < 4) return undefined;
  return { algorithm: m[1] as Algorithm, memory, passes, parallelism, salt, hash };
}
