import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Queries } from '../db/db.js';
import { addressBlock, LINK_PASSWORD_FAILURES, LinkPasswordThrottle, PASSWORD_FAILURES } from './password-throttle.js';

// On SQLite the windows live in memory: the handle is only asked for its dialect.
const throttle = () => new LinkPasswordThrottle({ dialect: 'sqlite' } as Queries, undefined);

test('addressBlock: an IPv6 address counts by its /64, however it is written; IPv4 as it is', () => {
  assert.equal(addressBlock('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(addressBlock('2001:0DB8:0001:0002:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(addressBlock('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(addressBlock('::1'), '0:0:0:0::/64');
  assert.equal(addressBlock('203.0.113.7'), '203.0.113.7');
  assert.equal(addressBlock('::ffff:203.0.113.7'), '::ffff:203.0.113.7');
});

test('per link and address: the 11th try waits; another address of another /64 does not', async () => {
  const t = throttle();
  for (let i = 0; i < PASSWORD_FAILURES; i++) assert.equal(await t.attempt('lnk_a', `2001:db8:1:2::${i + 1}`, 1_000 + i), 0);
  assert.ok((await t.attempt('lnk_a', '2001:db8:1:2:ffff::1', 2_000)) > 0, 'the same /64');
  assert.equal(await t.attempt('lnk_a', '2001:db8:1:3::1', 2_000), 0);
  assert.equal(await t.attempt('lnk_b', '2001:db8:1:2::1', 2_000), 0, 'another link');
});

test('per link from every address: past the ceiling every address waits; a right password is taken back', async () => {
  const t = throttle();
  for (let i = 0; i < LINK_PASSWORD_FAILURES - 1; i++) assert.equal(await t.attempt('lnk_a', `198.51.100.${i}`, 1_000 + i), 0, `try ${i}`);
  // The last try left under the ceiling has the right password: it is taken back, so one more wrong one fits.
  assert.equal(await t.attempt('lnk_a', '192.0.2.1', 2_000), 0);
  await t.succeeded('lnk_a', '192.0.2.1', 2_000);
  assert.equal(await t.attempt('lnk_a', '192.0.2.2', 2_001), 0);
  assert.ok((await t.attempt('lnk_a', '192.0.2.3', 2_002)) > 0, 'a fresh address is held by the link ceiling');
  assert.equal(await t.attempt('lnk_b', '192.0.2.3', 2_002), 0, 'another link is not');
});
