import { crc32 } from 'node:zlib';
import { encodeBase62, randomBase62 } from '../lib/base62.js';

/**
 * API key text: `lqr_<12 id>_<32 secret>_<6 checksum>`, all base62.
 * The checksum (CRC32 of everything before it) lets secret scanners and the server reject a
 * mangled or made-up key without touching the database.
 */
export const KEY_ID_LENGTH = 12;
export const KEY_SECRET_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
const SHAPE = /^lqr_([0-9A-Za-z]{12})_([0-9A-Za-z]{32})_([0-9A-Za-z]{6})$/;

export interface KeyParts {
  id: string;
  secret: string;
}

export type ParsedKey = ({ ok: true } & KeyParts) | { ok: false; reason: 'malformed' | 'bad_checksum' };

function checksum(id: string, secret: string): string {
  return encodeBase62(crc32(`lqr_${id}_${secret}`), CHECKSUM_LENGTH);
}

export function formatKey({ id, secret }: KeyParts): string {
  return `lqr_${id}_${secret}_${checksum(id, secret)}`;
}

export function generateKeyParts(): KeyParts {
  return { id: randomBase62(KEY_ID_LENGTH), secret: randomBase62(KEY_SECRET_LENGTH) };
}

export function generateSecret(): string {
  return randomBase62(KEY_SECRET_LENGTH);
}

export function parseKey(text: string): ParsedKey {
  const m = SHAPE.exec(text);
  if (!m) return { ok: false, reason: 'malformed' };
  const [, id, secret, sum] = m as unknown as [string, string, string, string];
  if (checksum(id, secret) !== sum) return { ok: false, reason: 'bad_checksum' };
  return { ok: true, id, secret };
}
