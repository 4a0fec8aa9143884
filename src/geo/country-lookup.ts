import { BlockList, isIP } from 'node:net';
import { type CountryResponse, Reader } from 'mmdb-lib';
import type { Assets } from '../lib/assets.js';

/** The country a click came from. */
export interface CountryLookup {
  /**
   * The upper-case ISO 3166-1 alpha-2 code of the address's country ('DE'), or null when the
   * address is not a public one (private, loopback, documentation…), is not an address, or the
   * database does not know it or cannot be read. Never throws.
   */
  country(ip: string): string | null;
}

/**
 * The IP-to-country database, as an asset path. It is read straight from the npm package
 * (@ip-location-db/geo-whois-asn-country-mmdb) rather than copied into the repository: on disk
 * the asset reader resolves it from the project root like any other shipped file, and
 * scripts/build-binary.mjs embeds this same path in the single executable (its ASSET_FILES), so
 * the package version in package-lock.json is the one place that says which data ships.
 * The IPv4+IPv6 file rather than the two halves: one file, one reader; the halves weigh the same.
 */
export const COUNTRY_DATABASE = 'node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb';

// The record of ip-location-db's country databases is `{ country_code: 'DE' }`, not MaxMind's
// `{ country: { iso_code } }`; every field of mmdb-lib's CountryResponse is optional, so this
// type satisfies the reader's constraint and says what is really there.
type CountryRecord = CountryResponse & { readonly country_code?: unknown };

/**
 * Looks countries up in the shipped database. Nothing is read until the first lookup: the file
 * is 7.8 MB, and the CLI commands that never look a country up should not pay for it.
 *
 * If the database cannot be read (missing, corrupt), `onError` hears about it once and every
 * lookup answers null from then on: a click without a country is better than a click lost, and
 * one message is better than one per click.
 */
export function createCountryLookup(deps: { assets: Pick<Assets, 'read'>; onError?: (err: unknown) => void }): CountryLookup {
  let reader: Reader<CountryRecord> | undefined;
  let broken = false;

  const fail = (err: unknown) => {
    broken = true;
    reader = undefined;
    try {
      deps.onError?.(err);
    } catch {
      // The caller's own handler failing must not turn a lookup into a throw either.
    }
  };

  return {
    country(ip) {
      if (broken) return null;
      const address = publicAddress(ip);
      if (address === null) return null;
      try {
        reader ??= openDatabase(deps.assets.read(COUNTRY_DATABASE));
        const code = reader.get(address)?.country_code;
        return typeof code === 'string' && /^[A-Za-z]{2}$/.test(code) ? code.toUpperCase() : null;
      } catch (err) {
        // The file could not be read or opened, or a lookup met a damaged record (mmdb-lib throws on
        // a pointer out of range): either way the database is unusable, so say so once and stop.
        fail(err);
        return null;
      }
    },
  };
}

function openDatabase(bytes: Buffer): Reader<CountryRecord> {
  // The records are a few hundred countries' maps shared by every network: decoded once each
  // (mmdb-lib keys its cache by the record's offset) instead of once a click.
  const reader = new Reader<CountryRecord>(bytes, { cache: new Map() });
  // An IPv4-only file would make mmdb-lib throw on every IPv6 address; refuse it once, here.
  if (reader.metadata.ipVersion !== 6) throw new Error(`${COUNTRY_DATABASE}: expected an IPv6 (IPv4+IPv6) database, got IPv${reader.metadata.ipVersion}`);
  return reader;
}

/**
 * `ip` as the address to look up when it is a public unicast address, else null. Checked by us,
 * not left to the database: the packaged data answers 'AU' for 192.168.1.1, 198.51.100.1 and
 * 203.0.113.5 and 'JP' for 2001:db8::1, and mmdb-lib reads '1.2.3' and '1.2.3.4.5' as addresses.
 * An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, what a dual-stack socket reports for an IPv4
 * client) is its IPv4 address: the database has no entries under ::ffff:0:0/96.
 */
function publicAddress(ip: string): string | null {
  const version = isIP(ip);
  if (version === 4) return NOT_PUBLIC_V4.check(ip, 'ipv4') ? null : ip;
  if (version !== 6 || ip.includes('%')) return null; // a zone id (fe80::1%eth0) only means something on this host
  const mapped = mappedIpv4(ip);
  if (mapped !== null) return NOT_PUBLIC_V4.check(mapped, 'ipv4') ? null : mapped;
  return GLOBAL_UNICAST_V6.check(ip, 'ipv6') && !NOT_PUBLIC_V6.check(ip, 'ipv6') ? ip : null;
}

/** The IPv4 address inside `::ffff:a.b.c.d`, in whichever of its spellings, else null. */
function mappedIpv4(ip: string): string | null {
  if (!/ffff/i.test(ip)) return null; // the common case, without parsing a URL
  // The WHATWG URL parser writes every IPv6 address one canonical way: lower case, zeros
  // compressed, no dotted quad. A mapped address always comes out as `::ffff:hhhh:hhhh`.
  const host = URL.parse(`http://[${ip}]/`)?.hostname;
  const m = host ? /^\[::ffff:([\da-f]{1,4}):([\da-f]{1,4})\]$/.exec(host) : null;
  if (!m) return null;
  const high = parseInt(m[1]!, 16);
  const low = parseInt(m[2]!, 16);
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

function blockList(family: 'ipv4' | 'ipv6', subnets: string[]): BlockList {
  const list = new BlockList();
  for (const subnet of subnets) {
    const [address, prefix] = subnet.split('/');
    list.addSubnet(address!, Number(prefix), family);
  }
  return list;
}

// IANA's IPv4 Special-Purpose Address Registry (RFC 6890 and updates): addresses that are not a
// public client's, however the database labels them.
const NOT_PUBLIC_V4 = blockList('ipv4', [
  '0.0.0.0/8', // "this network"
  '10.0.0.0/8', // private
  '100.64.0.0/10', // carrier-grade NAT
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local
  '172.16.0.0/12', // private
  '192.0.0.0/24', // IETF protocol assignments
  '192.0.2.0/24', // documentation (TEST-NET-1)
  '192.88.99.0/24', // 6to4 relay anycast, deprecated
  '192.168.0.0/16', // private
  '198.18.0.0/15', // benchmarking
  '198.51.100.0/24', // documentation (TEST-NET-2)
  '203.0.113.0/24', // documentation (TEST-NET-3)
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, and the broadcast address
]);

// Clients have global unicast addresses, all of them in 2000::/3 (IANA's IPv6 Address Space):
// that one rule rules out loopback, link-local, unique-local (fc00::/7), multicast, NAT64
// (64:ff9b::/96) and the deprecated IPv4-compatible ::a.b.c.d.
const GLOBAL_UNICAST_V6 = blockList('ipv6', ['2000::/3']);
const NOT_PUBLIC_V6 = blockList('ipv6', [
  '2001::/23', // IETF protocol assignments: Teredo, benchmarking, ORCHID…
  '2001:db8::/32', // documentation
  '2002::/16', // 6to4, deprecated
  '3fff::/20', // documentation (RFC 9637)
]);
