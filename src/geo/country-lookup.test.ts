import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { diskAssets } from '../lib/assets.js';
import { COUNTRY_DATABASE, createCountryLookup } from './country-lookup.js';

/** The shipped files, counting how often the database is read. */
function countingAssets(read = diskAssets().read) {
  const assets = {
    reads: 0,
    read(path: string) {
      if (path === COUNTRY_DATABASE) assets.reads++;
      return read(path);
    },
  };
  return assets;
}

describe('country lookup in the shipped database', () => {
  const lookup = createCountryLookup({ assets: diskAssets(), onError: (err) => assert.fail(`the database did not load: ${String(err)}`) });

  // Long-standing allocations, registered where they are used: safe to pin across data updates.
  const known: [string, string, string][] = [
    ['8.8.8.8', 'US', 'Google Public DNS (ARIN)'],
    ['194.25.2.129', 'DE', 'Deutsche Telekom resolver (RIPE)'],
    ['193.0.6.139', 'NL', "RIPE NCC's web server"],
    ['202.12.27.33', 'JP', 'M-root, WIDE (APNIC)'],
    ['200.160.0.8', 'BR', 'NIC.br (LACNIC)'],
    ['2001:4860:4860::8888', 'US', 'Google Public DNS over IPv6'],
    ['2003::1', 'DE', "Deutsche Telekom's 2003::/19"],
    ['2001:67c:2e8::1', 'NL', "RIPE NCC's own IPv6 block"],
  ];
  for (const [ip, country, what] of known) {
    test(`${ip} is ${country}: ${what}`, () => assert.equal(lookup.country(ip), country));
  }

  test('an IPv4-mapped IPv6 address, as a dual-stack socket reports an IPv4 client, is looked up as its IPv4 address', () => {
    assert.equal(lookup.country('::ffff:8.8.8.8'), 'US');
    assert.equal(lookup.country('::FFFF:194.25.2.129'), 'DE');
    assert.equal(lookup.country('::ffff:808:808'), 'US', 'in hex');
    assert.equal(lookup.country('0:0:0:0:0:ffff:c219:281'), 'DE', 'written out');
    assert.equal(lookup.country('::ffff:127.0.0.1'), null);
    assert.equal(lookup.country('::ffff:192.168.1.1'), null);
  });

  test('private, loopback, link-local, multicast, documentation and other special addresses have no country', () => {
    // Several of these have one in the packaged data (192.168.1.1 'AU', 2001:db8::1 'JP'…): the filter is ours.
    const special = [
      '127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '100.64.0.1', '169.254.1.1', '0.0.0.0', '255.255.255.255',
      '224.0.0.1', '240.0.0.1', '192.0.2.1', '198.51.100.1', '203.0.113.5', '198.18.0.1',
      '::', '::1', 'fe80::1', 'fe80::1%eth0', 'fc00::1', 'fd12:3456::1', 'ff02::1', '2001:db8::1', '3fff::1',
      '2001::1', '2002:808:808::1', '64:ff9b::808:808', '::8.8.8.8',
    ];
    for (const ip of special) assert.equal(lookup.country(ip), null, ip);
  });

  test('anything that is not exactly an address is null, not an error', () => {
    const garbage = [
      '', 'abc', 'localhost', '1.2.3', '1.2.3.4.5', '999.1.1.1', '08.8.8.8', ' 8.8.8.8', '8.8.8.8 ', '8.8.8.8:443',
      '[2001:4860:4860::8888]', '2001:4860:4860::8888::1', '::g', '::ffff:1.2.3', 'a'.repeat(10_000),
    ];
    for (const ip of garbage) assert.equal(lookup.country(ip), null, JSON.stringify(ip));
  });
});

describe('reading the database', () => {
  test('nothing is read until a public address is looked up, and then once', () => {
    const assets = countingAssets();
    const lookup = createCountryLookup({ assets });
    assert.equal(assets.reads, 0, 'not by the factory');
    assert.equal(lookup.country('10.0.0.1'), null);
    assert.equal(lookup.country('not an address'), null);
    assert.equal(assets.reads, 0, 'not for an address the database is not asked about');
    assert.equal(lookup.country('8.8.8.8'), 'US');
    assert.equal(lookup.country('2003::1'), 'DE');
    assert.equal(assets.reads, 1);
  });

  test('a database that cannot be read: null, onError told once, and no further attempts', () => {
    const missing = Object.assign(new Error('no such embedded file'), { code: 'ENOENT' });
    const assets = countingAssets(() => {
      throw missing;
    });
    const errors: unknown[] = [];
    const lookup = createCountryLookup({ assets, onError: (err) => errors.push(err) });
    assert.equal(lookup.country('8.8.8.8'), null);
    assert.equal(lookup.country('2003::1'), null);
    assert.deepEqual(errors, [missing]);
    assert.equal(assets.reads, 1);
  });

  test('bytes that are not a database, or an IPv4-only one, are refused the same way', () => {
    const ipv4Only = COUNTRY_DATABASE.replace(/\.mmdb$/, '-ipv4.mmdb');
    for (const [what, bytes] of [
      ['not a database', Buffer.from('not a database')],
      ['an IPv4-only database', diskAssets().read(ipv4Only)],
    ] as const) {
      const errors: unknown[] = [];
      const lookup = createCountryLookup({ assets: { read: () => bytes }, onError: (err) => errors.push(err) });
      assert.equal(lookup.country('8.8.8.8'), null, what);
      assert.equal(errors.length, 1, what);
    }
  });

  test('without onError, or with one that throws, a failure is still only null', () => {
    const read = () => Buffer.from('not a database');
    assert.equal(createCountryLookup({ assets: { read } }).country('8.8.8.8'), null);
    const throwing = createCountryLookup({
      assets: { read },
      onError: () => {
        throw new Error('the handler failed');
      },
    });
    assert.equal(throwing.country('8.8.8.8'), null);
  });
});
