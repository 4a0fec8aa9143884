import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BASE62 } from '../lib/base62.js';
import { formatKey, generateKeyParts, generateSecret, KEY_ID_LENGTH, KEY_SECRET_LENGTH, parseKey } from './key-format.js';

const KEY_SHAPE = /^lqr_[0-9A-Za-z]{12}_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}$/;

/** A fixed, realistic key so failures are reproducible; random keys are checked separately. */
const FIXED = { id: 'A1b2C3d4E5f6', secret: 'Zy9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe' };

describe('API key format', () => {
  test('formatKey produces lqr_<12>_<32>_<6> in base62 and parseKey gives the parts back', () => {
    const fixedKey = formatKey(FIXED);
    assert.match(fixedKey, KEY_SHAPE);
    assert.deepEqual(parseKey(fixedKey), { ok: true, ...FIXED });

    for (let i = 0; i < 200; i++) {
      const parts = generateKeyParts();
      const key = formatKey(parts);
      assert.match(key, KEY_SHAPE);
      assert.equal(key.length, 4 + 12 + 1 + 32 + 1 + 6);
      assert.deepEqual(parseKey(key), { ok: true, id: parts.id, secret: parts.secret });
    }
  });

  test('the checksum depends on both id and secret', () => {
    const base = formatKey(FIXED).slice(-6);
    assert.notEqual(formatKey({ ...FIXED, id: 'A1b2C3d4E5f7' }).slice(-6), base);
    assert.notEqual(formatKey({ ...FIXED, secret: `${FIXED.secret.slice(0, -1)}f` }).slice(-6), base);
    // Swapping two characters keeps the multiset of characters but must still change the checksum.
    assert.notEqual(formatKey({ ...FIXED, id: 'A1b2C3d4E56f' }).slice(-6), base);
  });

  test('every single-character change of a real key is refused (bad_checksum or malformed)', () => {
    const keys = [formatKey(FIXED), formatKey(generateKeyParts()), formatKey(generateKeyParts())];
    // Neighbours in the alphabet, case flips, digits, separators and characters outside base62.
    const substitutes = ['0', '9', 'a', 'Z', 'z', 'A', '_', '-', ' ', '+', '/', '=', '.', 'é', '\0'];
    let tried = 0;
    for (const key of keys) {
      for (let i = 0; i < key.length; i++) {
        const original = key[i]!;
        const candidates = new Set([...substitutes, flipCase(original), nextBase62(original)]);
        candidates.delete(original);
        for (const c of candidates) {
          const mangled = key.slice(0, i) + c + key.slice(i + 1);
          const parsed = parseKey(mangled);
          tried++;
          assert.equal(parsed.ok, false, `position ${i}: ${JSON.stringify(original)} → ${JSON.stringify(c)} was accepted`);
          if (!parsed.ok) {
            // A change that keeps the shape must be caught by the checksum; anything else is malformed.
            const expected = KEY_SHAPE.test(mangled) ? 'bad_checksum' : 'malformed';
            assert.equal(parsed.reason, expected, `position ${i}: ${JSON.stringify(original)} → ${JSON.stringify(c)}`);
          }
        }
      }
    }
    assert.ok(tried > 3 * 55 * 10);
  });

  test('every single base62 substitution inside id, secret and checksum is a bad_checksum', () => {
    const key = formatKey(FIXED);
    const base62Positions = [...key].map((c, i) => (BASE62.includes(c) && i >= 4 ? i : -1)).filter((i) => i >= 0);
    assert.equal(base62Positions.length, 12 + 32 + 6);
    for (const i of base62Positions) {
      for (const c of BASE62) {
        if (c === key[i]) continue;
        const parsed = parseKey(key.slice(0, i) + c + key.slice(i + 1));
        assert.deepEqual(parsed, { ok: false, reason: 'bad_checksum' }, `position ${i} → ${c}`);
      }
    }
  });

  test('adjacent transpositions are refused', () => {
    const key = formatKey(generateKeyParts());
    for (let i = 0; i + 1 < key.length; i++) {
      if (key[i] === key[i + 1]) continue;
      const swapped = key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2);
      assert.equal(parseKey(swapped).ok, false, `swap at ${i}`);
    }
  });

  const valid = formatKey(FIXED);
  const [, id, secret, sum] = valid.split('_') as [string, string, string, string];
  const malformed: [string, string][] = [
    ['empty', ''],
    ['prefix only', 'lqr_'],
    ['id one char short', `lqr_${id.slice(1)}_${secret}_${sum}`],
    ['id one char long', `lqr_${id}x_${secret}_${sum}`],
    ['secret one char short', `lqr_${id}_${secret.slice(1)}_${sum}`],
    ['secret one char long', `lqr_${id}_${secret}x_${sum}`],
    ['checksum one char short', `lqr_${id}_${secret}_${sum.slice(1)}`],
    ['checksum one char long', `lqr_${id}_${secret}_${sum}x`],
    ['no checksum', `lqr_${id}_${secret}`],
    ['wrong prefix', `lqx_${id}_${secret}_${sum}`],
    ['upper-case prefix', `LQR_${id}_${secret}_${sum}`],
    ['prefix without separator', `lqr${id}_${secret}_${sum}`],
    ['another vendor prefix', `sk_${id}_${secret}_${sum}`],
    ['dashes as separators', `lqr-${id}-${secret}-${sum}`],
    ['non-base62 in id', `lqr_${id.slice(0, -1)}-_${secret}_${sum}`],
    ['non-base62 in secret', `lqr_${id}_${secret.slice(0, -1)}+_${sum}`],
    ['non-ASCII letter in secret', `lqr_${id}_${secret.slice(0, -1)}é_${sum}`],
    ['leading space', ` ${valid}`],
    ['trailing space', `${valid} `],
    ['trailing newline', `${valid}\n`],
    ['trailing CRLF', `${valid}\r\n`],
    ['leading tab', `\t${valid}`],
    ['space inside', `${valid.slice(0, 20)} ${valid.slice(21)}`],
    ['Bearer prefix left on', `Bearer ${valid}`],
    ['quoted', `"${valid}"`],
    ['key twice', `${valid}${valid}`],
    ['zero-width space appended', `${valid}\u200b`],
  ];
  for (const [name, text] of malformed) {
    test(`malformed: ${name}`, () => {
      assert.deepEqual(parseKey(text), { ok: false, reason: 'malformed' });
    });
  }

  test('a key with a valid shape but a made-up checksum is a bad_checksum', () => {
    const made = `lqr_${id}_${secret}_${sum === '000000' ? '000001' : '000000'}`;
    assert.deepEqual(parseKey(made), { ok: false, reason: 'bad_checksum' });
    const invented = `lqr_${'a'.repeat(12)}_${'b'.repeat(32)}_${'c'.repeat(6)}`;
    assert.deepEqual(parseKey(invented), { ok: false, reason: 'bad_checksum' });
  });

  test('generated ids and secrets are base62 of the right length, uniform-looking, and distinct over many draws', () => {
    const draws = 20_000;
    const ids = new Set<string>();
    const secrets = new Set<string>();
    const seen = new Map<string, number>();
    for (let i = 0; i < draws; i++) {
      const { id: newId, secret: newSecret } = generateKeyParts();
      assert.match(newId, new RegExp(`^[0-9A-Za-z]{${KEY_ID_LENGTH}}$`));
      assert.match(newSecret, new RegExp(`^[0-9A-Za-z]{${KEY_SECRET_LENGTH}}$`));
      ids.add(newId);
      secrets.add(newSecret);
      secrets.add(generateSecret());
      for (const c of newSecret) seen.set(c, (seen.get(c) ?? 0) + 1);
    }
    assert.equal(ids.size, draws);
    assert.equal(secrets.size, 2 * draws);
    // Every base62 character shows up, and none far more often than the rest (no modulo bias).
    assert.equal(seen.size, 62);
    const expected = (draws * KEY_SECRET_LENGTH) / 62;
    for (const [c, n] of seen) {
      assert.ok(Math.abs(n - expected) < expected * 0.1, `"${c}" drawn ${n} times, expected about ${Math.round(expected)}`);
    }
  });
});

function flipCase(c: string): string {
  return c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
}

function nextBase62(c: string): string {
  const i = BASE62.indexOf(c);
  return i < 0 ? 'x' : BASE62[(i + 1) % 62]!;
}
