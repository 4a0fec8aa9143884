import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashKeySecret, hashPassword, verifySecret } from './passwords.js';

// Written by the argon2 npm package (0.45, the same OWASP parameters), which LinkQR used before
// Node's own argon2: stored passwords and key hashes from those versions must keep verifying.
const FROM_ARGON2_PACKAGE = '$argon2id$v=19$m=19456,p=1,t=2$IYLZT8d22liQcOY3A8Bcyg$wtnjq8WOWQruJIjgQshqPG8rLFgLyxZcA46K+lPyRt0';

test('hashes written by the argon2 npm package verify, and only with their secret', async () => {
  assert.equal(await verifySecret(FROM_ARGON2_PACKAGE, 'pw'), true);
  assert.equal(await verifySecret(FROM_ARGON2_PACKAGE, 'pw '), false);
  assert.equal(await verifySecret(FROM_ARGON2_PACKAGE, ''), false);
});

test('a new hash is an argon2id PHC string with a fresh salt and its cost, and verifies its secret only', async () => {
  for (const [hash, cost] of [
    [hashPassword, 'm=19456,t=2,p=1'],
    [hashKeySecret, 'm=1024,t=1,p=1'],
  ] as const) {
    const [a, b] = await Promise.all([hash('correct horse'), hash('correct horse')]);
    assert.match(a, new RegExp(`^\\$argon2id\\$v=19\\$${cost}\\$[A-Za-z0-9+/]{22}\\$[A-Za-z0-9+/]{43}$`));
    assert.notEqual(a, b, 'each hash has its own salt');
    assert.equal(await verifySecret(a, 'correct horse'), true);
    assert.equal(await verifySecret(a, 'correct horsf'), false);
  }
});

test('a damaged or hostile stored hash verifies nothing (nor asks for gigabytes or minutes of argon2)', async () => {
  const [, , , params, salt, hash] = FROM_ARGON2_PACKAGE.split('$');
  for (const stored of [
    '',
    'not a hash',
    FROM_ARGON2_PACKAGE.slice(0, -4),
    `$argon2id$v=16$${params}$${salt}$${hash}`, // an older argon2 version
    `$scrypt$v=19$${params}$${salt}$${hash}`,
    `$argon2id$v=19$m=4194304,t=2,p=1$${salt}$${hash}`, // 4 GiB
    `$argon2id$v=19$m=19456,t=100000,p=1$${salt}$${hash}`,
    `$argon2id$v=19$m=19456,t=2$${salt}$${hash}`,
    `$argon2id$v=19$m=19456,t=2,p=1$$${hash}`,
  ]) {
    assert.equal(await verifySecret(stored, 'pw'), false, stored);
  }
});
