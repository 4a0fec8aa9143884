import { BASE62, encodeBase62, randomBase62 } from './base62.js';

const TIME_WIDTH = 8;
const RANDOM_WIDTH = 12;

/**
 * Process-wide on purpose: ids made in the same millisecond must still sort in creation order
 * (cursors page through events and links by id), which needs the previous id.
 */
let last = { ms: -1, random: '' };

/**
 * Public ids: a type prefix, 8 base62 chars of milliseconds, 12 random chars. Within one
 * millisecond (or if the clock steps back) the random part is the previous one plus one, like
 * monotonic ULIDs, so ordering by id is ordering by creation.
 */
export function newId(prefix: 'lnk' | 'dom' | 'imp' | 'wsp' | 'usr' | 'evt' | 'pln' | 'whk' | 'dlv', nowMs: number): string {
  if (nowMs <= last.ms) {
    last = { ms: last.ms, random: increment(last.random) };
  } else {
    last = { ms: nowMs, random: randomBase62(RANDOM_WIDTH) };
  }
  return `${prefix}_${encodeBase62(last.ms, TIME_WIDTH)}${last.random}`;
}

function increment(base62: string): string {
  let n = 0n;
  for (const ch of base62) n = n * 62n + BigInt(BASE62.indexOf(ch));
  // 62^12 ≈ 3e21: a wrap would need that many ids in one millisecond.
  return encodeBase62((n + 1n) % 62n ** BigInt(RANDOM_WIDTH), RANDOM_WIDTH);
}
