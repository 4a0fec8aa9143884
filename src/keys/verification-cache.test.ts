import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { LRUCache } from 'lru-cache';
import { generateKeyParts } from './key-format.js';
import { VerificationCache } from './verification-cache.js';

const HASH = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g';
const OTHER_HASH = '$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0c2FsdA$b3RoZXJoYXNob3RoZXJoYXNob3RoZXJoYXNob3RoZXI';

describe('VerificationCache', () => {
  test('remembers that a secret matched a hash for a key id, and nothing else', () => {
    const cache = new VerificationCache();
    const { id, secret } = generateKeyParts();
    const other = generateKeyParts();

    assert.equal(cache.has(id, HASH, secret), false, 'empty cache');
    cache.remember(id, HASH, secret);

    const cases: [string, string, string, string, boolean][] = [
      ['same id, hash and secret', id, HASH, secret, true],
      ['another secret', id, HASH, other.secret, false],
      ['the secret with one character changed', id, HASH, `${secret.slice(0, -1)}${secret.endsWith('a') ? 'b' : 'a'}`, false],
      ['a prefix of the secret', id, HASH, secret.slice(0, -1), false],
      ['the empty secret', id, HASH, '', false],
      ['another hash (the key was rotated)', id, OTHER_HASH, secret, false],
      ['another key id', other.id, HASH, secret, false],
      ['another key id and its own secret', other.id, HASH, other.secret, false],
    ];
    for (const [name, keyId, hash, s, expected] of cases) {
      assert.equal(cache.has(keyId, hash, s), expected, name);
    }
  });

  test('one key may have two remembered hashes at once (rotation grace) without mixing them up', () => {
    const cache = new VerificationCache();
    const { id, secret: oldSecret } = generateKeyParts();
    const { secret: newSecret } = generateKeyParts();
    cache.remember(id, HASH, oldSecret);
    cache.remember(id, OTHER_HASH, newSecret);
    assert.equal(cache.has(id, HASH, oldSecret), true);
    assert.equal(cache.has(id, OTHER_HASH, newSecret), true);
    assert.equal(cache.has(id, HASH, newSecret), false);
    assert.equal(cache.has(id, OTHER_HASH, oldSecret), false);
  });

  test('an id and hash that concatenate to the same text do not collide', () => {
    const cache = new VerificationCache();
    const { secret } = generateKeyParts();
    cache.remember('abc', 'def', secret);
    assert.equal(cache.has('ab', 'cdef', secret), false);
    assert.equal(cache.has('abcd', 'ef', secret), false);
  });

  // A clock the test moves by hand: no test here waits on wall-clock time.
  const manualClock = () => {
    let ms = 1_000;
    return { now: () => ms, advance: (by: number) => void (ms += by) };
  };

  test('entries expire after the TTL', () => {
    const clock = manualClock();
    const cache = new VerificationCache({ ttlMs: 30, now: clock.now });
    const { id, secret } = generateKeyParts();
    cache.remember(id, HASH, secret);
    assert.equal(cache.has(id, HASH, secret), true, 'fresh entry');
    clock.advance(29);
    assert.equal(cache.has(id, HASH, secret), true, 'just inside the TTL');
    clock.advance(2);
    assert.equal(cache.has(id, HASH, secret), false, 'entry older than the TTL');
  });

  test('the default TTL is five minutes', () => {
    const clock = manualClock();
    const cache = new VerificationCache({ now: clock.now });
    const { id, secret } = generateKeyParts();
    cache.remember(id, HASH, secret);
    clock.advance(5 * 60_000 - 1);
    assert.equal(cache.has(id, HASH, secret), true);
    clock.advance(2);
    assert.equal(cache.has(id, HASH, secret), false);
  });

  test('remembering again refreshes the entry', () => {
    const clock = manualClock();
    const cache = new VerificationCache({ ttlMs: 60, now: clock.now });
    const { id, secret } = generateKeyParts();
    cache.remember(id, HASH, secret);
    clock.advance(40);
    cache.remember(id, HASH, secret);
    clock.advance(40);
    assert.equal(cache.has(id, HASH, secret), true, '80 ms after the first remember, 40 ms after the second');
  });

  test('is bounded: the least recently used key is forgotten past the maximum size', () => {
    const cache = new VerificationCache({ ttlMs: 60_000, max: 3 });
    const keys = Array.from({ length: 4 }, () => generateKeyParts());
    for (const k of keys) cache.remember(k.id, HASH, k.secret);
    assert.equal(cache.has(keys[0]!.id, HASH, keys[0]!.secret), false, 'oldest entry evicted');
    for (const k of keys.slice(1)) assert.equal(cache.has(k.id, HASH, k.secret), true);
  });

  test('clear() forgets everything', () => {
    const cache = new VerificationCache();
    const { id, secret } = generateKeyParts();
    cache.remember(id, HASH, secret);
    cache.clear();
    assert.equal(cache.has(id, HASH, secret), false);
  });

  test('keeps only a digest of the secret, never the secret itself', () => {
    const cache = new VerificationCache({ ttlMs: 60_000, max: 16 });
    const remembered = Array.from({ length: 5 }, () => generateKeyParts());
    for (const k of remembered) cache.remember(k.id, HASH, k.secret);

    // Walk everything reachable from the cache object (whatever its own fields are called).
    const strings: string[] = [];
    const buffers: Uint8Array[] = [];
    collect(cache, strings, buffers, new Set());
    assert.ok(buffers.length >= remembered.length, 'the cache holds one digest per entry');

    for (const { secret } of remembered) {
      const raw = Buffer.from(secret);
      for (const s of strings) assert.ok(!s.includes(secret), 'a stored string contains the secret');
      for (const b of buffers) assert.ok(!Buffer.from(b.buffer, b.byteOffset, b.byteLength).includes(raw), 'a stored buffer contains the secret');
    }
    // What is kept is the SHA-256 of the secret.
    const digests = buffers.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex'));
    for (const { secret } of remembered) {
      assert.ok(digests.includes(createHash('sha256').update(secret).digest('hex')), 'digest of a remembered secret not found');
    }
  });
});

/** Collects every string and byte array reachable from `value`. */
function collect(value: unknown, strings: string[], buffers: Uint8Array[], seen: Set<unknown>): void {
  if (typeof value === 'string') {
    strings.push(value);
    return;
  }
  if (typeof value !== 'object' || value === null || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Uint8Array) {
    buffers.push(value);
    return;
  }
  if (ArrayBuffer.isView(value)) return; // index arrays of the LRU
  // lru-cache keeps its storage in #private fields; its public iterator shows what it holds.
  if (value instanceof Map || value instanceof LRUCache) {
    for (const [k, v] of value) {
      collect(k, strings, buffers, seen);
      collect(v, strings, buffers, seen);
    }
    return;
  }
  if (value instanceof Set) {
    for (const v of value) collect(v, strings, buffers, seen);
    return;
  }
  for (const key of Reflect.ownKeys(value)) {
    if (typeof key === 'string') strings.push(key);
    const descriptor = Object.getOwnPropertyDescriptor(value, key);
    if (descriptor && 'value' in descriptor) collect(descriptor.value, strings, buffers, seen);
  }
}
