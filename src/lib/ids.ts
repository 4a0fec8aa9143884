import { encodeBase62, randomBase62 } from './base62.js';

/**
 * Public ids: a type prefix, 8 base62 chars of milliseconds, 12 random chars.
 * Ordering by id is ordering by creation time, which is what cursor pagination uses.
 */
export function newId(prefix: 'lnk' | 'wsp' | 'usr' | 'evt' | 'pln', nowMs: number): string {
  return `${prefix}_${encodeBase62(nowMs, 8)}${randomBase62(12)}`;
}
