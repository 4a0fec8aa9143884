import { promises as dnsPromises, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { blockListOf, parseCidr } from '../lib/net.js';

/**
 * SSRF guard for webhook deliveries. Webhook URLs are typed in by workspace admins, so without
 * it anyone allowed to add an endpoint could make the server POST to its own admin port, the
 * intranet or the cloud metadata service. The rules (SPEC §5):
 * - `https://` to public addresses only;
 * - addresses inside LINKQR_WEBHOOK_ALLOWED_CIDRS are allowed too, and may use `http://`;
 * - loopback, link-local and metadata addresses need a CIDR that names them explicitly
 *   (one lying inside their own range): `0.0.0.0/0` does not open 127.0.0.1 or 169.254.169.254;
 * - unspecified, multicast and broadcast addresses can never receive a webhook.
 * The check runs when an endpoint is saved (checkUrlResolving) and again on the address
 * actually dialled (the `lookup` functions given to the HTTP agents), so a DNS answer that
 * changes after the save (DNS rebinding) is still caught.
 */

export type AddressClass =
  | 'public'
  | 'private'
  | 'loopback'
  | 'link-local'
  | 'metadata'
  | 'unspecified'
  | 'multicast'
  | 'broadcast'
  | 'documentation'
  | 'reserved'
  | 'invalid';

export type GuardVerdict = { ok: true } | { ok: false; reason: string };
export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

/** Resolves every address of a name, like `dns.promises.lookup(name, { all: true })`. */
export type ResolveAll = (
  hostname: string,
  options: { all: true; family?: number | undefined; hints?: number | undefined },
) => Promise<LookupAddress[]>;

export const ADDRESS_BLOCKED = 'ERR_WEBHOOK_ADDRESS_BLOCKED';

/** Raised by the guard's `lookup` when a name resolves to an address webhooks may not reach. */
export class BlockedAddressError extends Error {
  readonly code = ADDRESS_BLOCKED;
  constructor(
    readonly hostname: string,
    readonly address: string,
    readonly reason: string,
  ) {
    super(`Refused to connect to ${hostname}: ${reason}`);
    this.name = 'BlockedAddressError';
  }
}

const CIDR_SETTING = 'the server setting LINKQR_WEBHOOK_ALLOWED_CIDRS';

// Ranges, most specific first: the first match names the class.
const V4_RANGES: Array<[string, AddressClass]> = [
  ['169.254.169.254/32', 'metadata'], // AWS, GCP, Azure, Oracle, DigitalOcean…
  ['169.254.170.2/32', 'metadata'], // AWS ECS task credentials
  ['169.254.170.23/32', 'metadata'], // AWS EKS Pod Identity
  ['100.100.100.200/32', 'metadata'], // Alibaba Cloud
  ['192.0.0.192/32', 'metadata'], // Oracle Cloud (legacy)
  ['0.0.0.0/8', 'unspecified'], // "this network"; Linux connects 0.0.0.0 to this machine
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['10.0.0.0/8', 'private'],
  ['172.16.0.0/12', 'private'],
  ['192.168.0.0/16', 'private'],
  ['100.64.0.0/10', 'private'], // carrier-grade NAT, also used by Tailscale and clouds
  ['192.0.0.0/24', 'reserved'], // IETF protocol assignments
  ['192.0.2.0/24', 'documentation'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['198.18.0.0/15', 'reserved'], // benchmarking
  ['192.88.99.0/24', 'reserved'], // deprecated 6to4 relay anycast
  ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'broadcast'],
  ['240.0.0.0/4', 'reserved'],
];

const V6_RANGES: Array<[string, AddressClass]> = [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['fd00:ec2::254/128', 'metadata'], // AWS IMDS over IPv6
  ['fd00:ec2::23/128', 'metadata'], // AWS EKS Pod Identity over IPv6
  ['fe80::/10', 'link-local'],
  ['fc00::/7', 'private'], // unique local
  ['fec0::/10', 'private'], // deprecated site-local
  ['ff00::/8', 'multicast'],
  ['2001:db8::/32', 'documentation'],
  ['3fff::/20', 'documentation'],
  ['64:ff9b:1::/48', 'private'], // local-use NAT64
  ['100::/64', 'reserved'], // discard-only
  ['2001::/23', 'reserved'], // IETF protocol assignments (Teredo, ORCHID…)
  ['2000::/3', 'public'], // global unicast; anything outside it is reserved
];

/** Classes an allowed CIDR can only open when the CIDR lies inside the class's own range. */
const EXPLICIT_ONLY: ReadonlySet<AddressClass> = new Set(['loopback', 'link-local', 'metadata']);
/** Classes that no setting opens. */
const NEVER: ReadonlySet<AddressClass> = new Set(['unspecified', 'multicast', 'broadcast', 'invalid']);

interface Range {
  cidr: { address: string; prefix: number; family: 'ipv4' | 'ipv6' };
  list: BlockList;
  cls: AddressClass;
}

function compile(table: Array<[string, AddressClass]>): Range[] {
  return table.map(([text, cls]) => {
    const cidr = parseCidr(text);
    if (!cidr) throw new Error(`bad built-in range ${text}`);
    return { cidr, list: blockListOf([text]), cls };
  });
}

const V4 = compile(V4_RANGES);
const V6 = compile(V6_RANGES);

/** The eight 16-bit words of a valid IPv6 address (dotted IPv4 tail allowed). */
function ipv6Words(ip: string): number[] {
  let text = ip;
  if (text.includes('.')) {
    const cut = text.lastIndexOf(':') + 1;
    const [a = 0, b = 0, c = 0, d = 0] = text.slice(cut).split('.').map(Number);
    text = `${text.slice(0, cut)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const middle = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((w) => parseInt(w, 16));
}

const v4FromWords = (hi: number, lo: number): string => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;

/**
 * The IPv4 address an IPv6 address stands for, when it embeds one that is what gets reached:
 * IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d` and 6to4 `2002:AABB:CCDD::`.
 */
function embeddedV4(ip: string): string | undefined {
  const w = ipv6Words(ip);
  const zero = (from: number, to: number) => w.slice(from, to).every((x) => x === 0);
  if (zero(0, 5) && w[5] === 0xffff) return v4FromWords(w[6]!, w[7]!);
  if (w[0] === 0x64 && w[1] === 0xff9b && zero(2, 6)) return v4FromWords(w[6]!, w[7]!);
  if (w[0] === 0x2002) return v4FromWords(w[1]!, w[2]!);
  return undefined;
}

/** Strips `[…]` and an IPv6 zone (`fe80::1%eth0`); unwraps IPv4-mapped addresses. */
function canonical(ip: string): { address: string; family: 4 | 6 } | undefined {
  let address = ip.trim();
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  const zone = address.indexOf('%');
  if (zone >= 0 && address.includes(':')) address = address.slice(0, zone);
  const family = isIP(address);
  if (family === 4) return { address, family };
  if (family !== 6) return undefined;
  const w = ipv6Words(address);
  if (w.slice(0, 5).every((x) => x === 0) && w[5] === 0xffff) return { address: v4FromWords(w[6]!, w[7]!), family: 4 };
  return { address, family: 6 };
}

/** What kind of address this is, as far as sending webhooks to it is concerned. */
export function classifyAddress(ip: string): AddressClass {
  const c = canonical(ip);
  if (!c) return 'invalid';
  if (c.family === 4) return V4.find((r) => r.list.check(c.address, 'ipv4'))?.cls ?? 'public';
  const inner = embeddedV4(c.address);
  if (inner !== undefined) {
    // NAT64/6to4 of a public IPv4 address is just as public; of 10.0.0.1 just as private.
    return classifyAddress(inner);
  }
  return V6.find((r) => r.list.check(c.address, 'ipv6'))?.cls ?? 'reserved';
}

/** A CIDR from the setting, IPv4-mapped IPv6 forms turned into IPv4 ones. */
function normalisedCidr(text: string): Range['cidr'] | undefined {
  const cidr = parseCidr(text);
  if (!cidr || cidr.family === 'ipv4') return cidr;
  const c = canonical(cidr.address);
  if (c?.family === 4 && cidr.prefix >= 96) return { address: c.address, prefix: cidr.prefix - 96, family: 'ipv4' };
  return cidr;
}

function describeAddress(address: string, cls: AddressClass): string {
  const names: Record<AddressClass, string> = {
    public: 'a public address',
    private: 'a private network address',
    loopback: 'a loopback address (this machine)',
    'link-local': 'a link-local address',
    metadata: 'a cloud metadata service address, which hands out the server\'s credentials',
    unspecified: 'an unspecified address',
    multicast: 'a multicast address',
    broadcast: 'the broadcast address',
    documentation: 'an address reserved for documentation',
    reserved: 'a reserved address',
    invalid: 'not a valid IP address',
  };
  return `${address} is ${names[cls]}`;
}

export class AddressGuard {
  private readonly allowed: BlockList;
  /** Per explicit-only class, the allowed CIDRs that lie inside that class's own range. */
  private readonly explicit = new Map<AddressClass, BlockList>();
  private readonly resolve: ResolveAll;
  readonly allowedCidrs: readonly string[];

  /**
   * `allowedCidrs` is LINKQR_WEBHOOK_ALLOWED_CIDRS. `resolve` answers the connect-time lookups
   * (the system resolver unless a test injects one).
   */
  constructor(allowedCidrs: readonly string[], options: { resolve?: ResolveAll } = {}) {
    this.resolve = options.resolve ?? dnsPromises.lookup;
    this.allowedCidrs = [...allowedCidrs];
    this.allowed = new BlockList();
    for (const text of allowedCidrs) {
      const cidr = normalisedCidr(text);
      if (!cidr) throw new Error(`LINKQR_WEBHOOK_ALLOWED_CIDRS: "${text}" is not an address or CIDR.`);
      this.allowed.addSubnet(cidr.address, cidr.prefix, cidr.family);
      for (const range of cidr.family === 'ipv4' ? V4 : V6) {
        const inside = EXPLICIT_ONLY.has(range.cls) && range.cidr.family === cidr.family
          && cidr.prefix >= range.cidr.prefix && range.list.check(cidr.address, cidr.family);
        if (!inside) continue;
        let list = this.explicit.get(range.cls);
        if (!list) this.explicit.set(range.cls, (list = new BlockList()));
        list.addSubnet(cidr.address, cidr.prefix, cidr.family);
      }
    }
  }

  /** Public, or opened by LINKQR_WEBHOOK_ALLOWED_CIDRS: may a webhook be sent to this address? */
  checkAddress(ip: string): GuardVerdict {
    return this.verdict(ip, false);
  }

  /**
   * The checks that need no DNS: scheme, credentials, and an IP-literal host. A host name with
   * `http://` passes only when some CIDR is allowed; whether it resolves into one is decided by
   * checkUrlResolving and again at connect time.
   */
  checkUrl(url: string): UrlVerdict {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return { ok: false, reason: 'This is not a valid URL; webhook URLs look like https://example.com/webhooks.' };
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      return { ok: false, reason: `Webhook URLs must start with https:// (this one uses ${parsed.protocol}).` };
    }
    if (parsed.username !== '' || parsed.password !== '') {
      return {
        ok: false,
        reason: 'Webhook URLs must not contain a user name or password. Receivers should check the webhook-signature header instead.',
      };
    }
    const host = hostOf(parsed);
    const plainHttp = parsed.protocol === 'http:';
    if (isIP(host) !== 0) {
      const verdict = this.verdict(host, plainHttp);
      return verdict.ok ? { ok: true, url: parsed } : verdict;
    }
    if (plainHttp && this.allowedCidrs.length === 0) {
      return {
        ok: false,
        reason: `Webhook URLs must use https://. Plain http:// is only for intranet receivers whose addresses are listed in ${CIDR_SETTING}, which is empty on this server.`,
      };
    }
    return { ok: true, url: parsed };
  }

  /** checkUrl, then every address the host name resolves to. Run it when an endpoint is saved. */
  async checkUrlResolving(url: string, lookup: ResolveAll = this.resolve): Promise<UrlVerdict> {
    const checked = this.checkUrl(url);
    if (!checked.ok) return checked;
    const host = hostOf(checked.url);
    if (isIP(host) !== 0) return checked;
    let addresses: LookupAddress[];
    try {
      addresses = await lookup(host, { all: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { ok: false, reason: `The host name ${host} could not be resolved${code ? ` (${code})` : ''}. Check the spelling of the URL.` };
    }
    if (addresses.length === 0) return { ok: false, reason: `The host name ${host} has no addresses.` };
    for (const { address } of addresses) {
      const verdict = this.verdict(address, checked.url.protocol === 'http:');
      if (!verdict.ok) return { ok: false, reason: `The host name ${host} resolves to ${address}. ${verdict.reason}` };
    }
    return checked;
  }

  /** Lookup for `https:` agents: resolves all addresses, refuses the name if any is not allowed. */
  readonly lookup: LookupFunction = (hostname, options, callback) => this.pinnedLookup(hostname, options, callback, false);

  /** Lookup for `http:` agents: every address must lie inside an allowed CIDR. */
  readonly plainHttpLookup: LookupFunction = (hostname, options, callback) => this.pinnedLookup(hostname, options, callback, true);

  private pinnedLookup(hostname: string, options: Parameters<LookupFunction>[1], callback: Parameters<LookupFunction>[2], plainHttp: boolean): void {
    const family = typeof options.family === 'number' ? options.family : options.family === 'IPv6' ? 6 : options.family === 'IPv4' ? 4 : 0;
    this.resolve(hostname, { all: true, family, hints: options.hints }).then(
      (addresses) => {
        const first = addresses[0];
        if (!first) {
          callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname }), '');
          return;
        }
        // All of them, not just the one returned: with autoSelectFamily Node may dial any.
        for (const { address } of addresses) {
          const verdict = this.verdict(address, plainHttp);
          if (!verdict.ok) {
            callback(new BlockedAddressError(hostname, address, verdict.reason), '');
            return;
          }
        }
        if (options.all) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  }

  private verdict(ip: string, plainHttp: boolean): GuardVerdict {
    const c = canonical(ip);
    const cls = classifyAddress(ip);
    if (!c || NEVER.has(cls)) return { ok: false, reason: `${describeAddress(ip, cls)} and cannot receive webhooks.` };
    const suggestion = `${c.address}/${c.family === 4 ? 32 : 128}`;
    const family = c.family === 4 ? 'ipv4' : 'ipv6';
    const opened = EXPLICIT_ONLY.has(cls)
      ? this.explicit.get(cls)?.check(c.address, family) === true
      : this.allowed.check(c.address, family);
    if (opened) return { ok: true };
    if (cls === 'public') {
      if (!plainHttp) return { ok: true };
      return {
        ok: false,
        reason: `Webhook URLs must use https://. Plain http:// is only for intranet receivers whose addresses are listed in ${CIDR_SETTING}, and ${c.address} is not.`,
      };
    }
    if (EXPLICIT_ONLY.has(cls)) {
      return {
        ok: false,
        reason: `${describeAddress(c.address, cls)}. Webhooks are sent there only if ${CIDR_SETTING} names it explicitly (for example ${suggestion}); broader ranges do not include it.`,
      };
    }
    return {
      ok: false,
      reason: `${describeAddress(c.address, cls)}. Webhooks go to public addresses only; to deliver to an intranet receiver, add its network to ${CIDR_SETTING} (for example ${suggestion}).`,
    };
  }
}

/** The URL's host without IPv6 brackets. */
function hostOf(url: URL): string {
  const host = url.hostname;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
