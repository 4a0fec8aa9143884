import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import http from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { describe, test } from 'node:test';
import { ADDRESS_BLOCKED, AddressGuard, classifyAddress, type AddressClass, type ResolveAll } from './address-guard.js';

/** A resolver answering from a table, so tests control DNS without touching the network. */
function fakeDns(table: Record<string, string[] | (() => string[])>): ResolveAll & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (hostname: string): Promise<LookupAddress[]> => {
    calls.push(hostname);
    const entry = table[hostname];
    const addresses = typeof entry === 'function' ? entry() : entry;
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

const noDns: ResolveAll = async (hostname) => {
  throw new Error(`resolved ${hostname}, but an IP literal must be judged without DNS`);
};

/** Calls a LookupFunction and returns what it passed to its callback. */
function callLookup(lookup: LookupFunction, hostname: string, all: boolean) {
  return new Promise<{ err: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family: number | undefined }>((resolve) => {
    lookup(hostname, { all, family: 0 }, (err, address, family) => resolve({ err, address, family }));
  });
}

const CLASSES: Array<[string, AddressClass]> = [
  ['8.8.8.8', 'public'],
  ['1.1.1.1', 'public'],
  ['93.184.216.34', 'public'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['10.0.0.1', 'private'],
  ['10.255.255.255', 'private'],
  ['100.64.0.1', 'private'],
  ['100.127.255.254', 'private'],
  ['100.128.0.1', 'public'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['169.254.0.1', 'link-local'],
  ['169.254.169.254', 'metadata'],
  ['169.254.170.2', 'metadata'],
  ['100.100.100.200', 'metadata'],
  ['172.15.255.255', 'public'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['172.32.0.1', 'public'],
  ['192.0.0.8', 'reserved'],
  ['192.0.2.1', 'documentation'],
  ['192.168.1.1', 'private'],
  ['198.18.0.1', 'reserved'],
  ['198.19.255.255', 'reserved'],
  ['198.51.100.7', 'documentation'],
  ['203.0.113.9', 'documentation'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'broadcast'],
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['[::1]', 'loopback'],
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::ffff:10.0.0.1', 'private'],
  ['::ffff:169.254.169.254', 'metadata'],
  ['::ffff:8.8.8.8', 'public'],
  ['fc00::1', 'private'],
  ['fd12:3456::1', 'private'],
  ['fd00:ec2::254', 'metadata'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['febf::1', 'link-local'],
  ['ff02::1', 'multicast'],
  ['64:ff9b::10.0.0.1', 'private'],
  ['64:ff9b::127.0.0.1', 'loopback'],
  ['64:ff9b::169.254.169.254', 'metadata'],
  ['64:ff9b::8.8.8.8', 'public'],
  ['2002:7f00:1::1', 'loopback'], // 6to4 of 127.0.0.1
  ['2001:db8::1', 'documentation'],
  ['2001:0:4136:e378::1', 'reserved'], // Teredo
  ['2606:4700:4700::1111', 'public'],
  ['2a00:1450:4001::200e', 'public'],
  ['::127.0.0.1', 'reserved'], // deprecated IPv4-compatible form
  ['4000::1', 'reserved'], // outside global unicast
  ['not-an-ip', 'invalid'],
  ['256.1.1.1', 'invalid'],
  ['', 'invalid'],
];

describe('classifyAddress', () => {
  test('a table of addresses and their class', () => {
    const wrong = CLASSES.map(([ip, cls]) => [ip, cls, classifyAddress(ip)]).filter(([, want, got]) => want !== got);
    assert.deepEqual(wrong, []);
  });
});

describe('AddressGuard.checkUrl and checkUrlResolving with no allowed CIDRs', () => {
  const guard = new AddressGuard([], { resolve: noDns });

  const REFUSED: Array<[string, RegExp]> = [
    ['https://10.0.0.1/', /private network address.*LINKQR_WEBHOOK_ALLOWED_CIDRS \(for example 10\.0\.0\.1\/32\)/],
    ['https://127.0.0.1/', /127\.0\.0\.1 is a loopback address.*names it explicitly \(for example 127\.0\.0\.1\/32\)/],
    ['https://127.0.0.1:8080/hooks', /loopback/],
    ['https://0x7f.1/', /127\.0\.0\.1 is a loopback/], // URL parsing normalises odd IPv4 spellings first
    ['https://2130706433/', /127\.0\.0\.1 is a loopback/],
    ['https://169.254.169.254/latest/meta-data', /169\.254\.169\.254 is a cloud metadata.*LINKQR_WEBHOOK_ALLOWED_CIDRS/],
    ['https://[fd00:ec2::254]/', /metadata/],
    ['https://[::1]/', /::1 is a loopback.*::1\/128/],
    ['https://[::ffff:127.0.0.1]/', /127\.0\.0\.1 is a loopback/],
    ['https://[::ffff:a9fe:a9fe]/', /169\.254\.169\.254 is a cloud metadata/],
    ['https://[fe80::1]/', /link-local/],
    ['https://192.168.0.10/', /private network/],
    ['https://0.0.0.0/', /cannot receive webhooks/],
    ['https://[::]/', /cannot receive webhooks/],
    ['https://224.0.0.1/', /cannot receive webhooks/],
    ['http://example.com/', /must use https:\/\/.*LINKQR_WEBHOOK_ALLOWED_CIDRS, which is empty/],
    ['http://8.8.8.8/', /must use https:\/\/.*8\.8\.8\.8 is not/],
    ['ftp://x/', /must start with https:\/\/ \(this one uses ftp:\)/],
    ['file:///etc/passwd', /must start with https:\/\//],
    ['javascript:alert(1)', /must start with https:\/\//],
    ['https://user:pw@example.com/', /user name or password/],
    ['https://user@example.com/', /user name or password/],
    ['not a url', /not a valid URL/],
  ];

  test('each of these URLs is refused with a sentence that says why, before any DNS or connection', async () => {
    for (const [url, reason] of REFUSED) {
      const checked = guard.checkUrl(url);
      assert.equal(checked.ok, false, url);
      if (!checked.ok) assert.match(checked.reason, reason, url);
      // checkUrlResolving agrees, and the noDns resolver proves no name was looked up.
      assert.deepEqual(await guard.checkUrlResolving(url), checked, url);
    }
  });

  test('https to public IP literals and host names passes checkUrl', () => {
    for (const url of ['https://8.8.8.8/', 'https://[2606:4700:4700::1111]:8443/x', 'https://example.com/hooks?a=1', 'HTTPS://Example.COM./']) {
      const checked = guard.checkUrl(url);
      assert.equal(checked.ok, true, url);
      if (checked.ok) assert.equal(checked.url.href, new URL(url).href);
    }
  });

  test('a host name is judged by every address it resolves to', async () => {
    const dns = fakeDns({
      'public.example': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
      'loop.example': ['127.0.0.1'],
      'mixed.example': ['93.184.216.34', '10.1.2.3'],
      'v6loop.example': ['::1'],
      'metadata.example': ['169.254.169.254'],
    });
    const g = new AddressGuard([], { resolve: dns });
    assert.equal((await g.checkUrlResolving('https://public.example/')).ok, true);
    const cases: Array<[string, RegExp]> = [
      ['https://loop.example/', /^The host name loop\.example resolves to 127\.0\.0\.1\. 127\.0\.0\.1 is a loopback address.*LINKQR_WEBHOOK_ALLOWED_CIDRS/],
      ['https://mixed.example/', /resolves to 10\.1\.2\.3\. .*private/],
      ['https://v6loop.example/', /resolves to ::1\. /],
      ['https://metadata.example/', /cloud metadata/],
      ['https://nowhere.example/', /nowhere\.example could not be resolved \(ENOTFOUND\)/],
    ];
    for (const [url, reason] of cases) {
      const checked = await g.checkUrlResolving(url);
      assert.equal(checked.ok, false, url);
      if (!checked.ok) assert.match(checked.reason, reason, url);
    }
    // A lookup passed in explicitly is used instead of the guard's resolver.
    assert.equal((await g.checkUrlResolving('https://other.example/', fakeDns({ 'other.example': ['8.8.4.4'] }))).ok, true);
  });

  test('localhost through the system resolver is refused', async () => {
    const checked = await new AddressGuard([]).checkUrlResolving('https://localhost:3000/hook');
    assert.equal(checked.ok, false);
    if (!checked.ok) assert.match(checked.reason, /loopback/);
  });
});

describe('AddressGuard with LINKQR_WEBHOOK_ALLOWED_CIDRS', () => {
  const OPENED: Array<[string, string]> = [
    ['10.0.0.1', '10.0.0.0/8'],
    ['192.168.1.20', '192.168.1.0/24'],
    ['127.0.0.1', '127.0.0.1/32'],
    ['127.0.0.1', '127.0.0.0/8'],
    ['169.254.169.254', '169.254.169.254/32'],
    ['169.254.10.10', '169.254.0.0/16'],
    ['[::1]', '::1/128'],
    ['[::ffff:127.0.0.1]', '127.0.0.1'],
    ['127.0.0.1', '::ffff:127.0.0.1/128'],
    ['[fd12::5]', 'fd00::/8'],
    ['198.18.0.5', '198.18.0.0/15'],
  ];

  test('each address is refused without its CIDR, and with it allowed over https and plain http', async () => {
    for (const [host, cidr] of OPENED) {
      const closed = new AddressGuard([], { resolve: noDns });
      const open = new AddressGuard([cidr], { resolve: noDns });
      assert.equal(closed.checkUrl(`https://${host}/`).ok, false, `${host} without ${cidr}`);
      for (const scheme of ['https', 'http']) {
        const url = `${scheme}://${host}:8080/hook`;
        assert.equal(open.checkUrl(url).ok, true, `${url} with ${cidr}`);
        assert.equal((await open.checkUrlResolving(url)).ok, true, `${url} with ${cidr}, resolving`);
      }
      assert.deepEqual(open.checkAddress(host.replace(/^\[|\]$/g, '')), { ok: true }, `${host} with ${cidr}`);
    }
  });

  test('a host name may use http:// when every address it resolves to is inside an allowed CIDR', async () => {
    const dns = fakeDns({ 'ci.intranet': ['10.20.0.7'], 'half.intranet': ['10.20.0.8', '8.8.8.8'], 'public.example': ['8.8.8.8'] });
    const guard = new AddressGuard(['10.20.0.0/16'], { resolve: dns });
    assert.equal((await guard.checkUrlResolving('http://ci.intranet/hook')).ok, true);
    assert.equal((await guard.checkUrlResolving('https://ci.intranet/hook')).ok, true);
    // Passes the DNS-free check (it might resolve into the CIDR)…
    assert.equal(guard.checkUrl('http://public.example/').ok, true);
    // …but plain http to a public address is refused once resolved.
    for (const url of ['http://public.example/', 'http://half.intranet/']) {
      const checked = await guard.checkUrlResolving(url);
      assert.equal(checked.ok, false, url);
      if (!checked.ok) assert.match(checked.reason, /8\.8\.8\.8\. Webhook URLs must use https:\/\/.*LINKQR_WEBHOOK_ALLOWED_CIDRS, and 8\.8\.8\.8 is not/, url);
    }
    assert.equal((await guard.checkUrlResolving('https://public.example/')).ok, true);
  });

  test('broad ranges open private networks but not loopback, link-local or metadata addresses', () => {
    const guard = new AddressGuard(['0.0.0.0/0', '::/0']);
    for (const ip of ['10.0.0.1', '172.16.5.5', '100.64.1.1', '198.18.0.1', '240.0.0.1', '192.0.2.1', 'fd00::1', '2001:db8::1']) {
      assert.deepEqual(guard.checkAddress(ip), { ok: true }, ip);
    }
    for (const ip of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '169.254.1.1', 'fe80::1', '169.254.169.254', 'fd00:ec2::254', '100.100.100.200']) {
      const verdict = guard.checkAddress(ip);
      assert.equal(verdict.ok, false, ip);
      if (!verdict.ok) assert.match(verdict.reason, /names it explicitly \(for example .*\); broader ranges do not include it/, ip);
    }
    // The whole link-local range does not name the metadata address inside it.
    const linkLocal = new AddressGuard(['169.254.0.0/16']);
    assert.deepEqual(linkLocal.checkAddress('169.254.1.1'), { ok: true });
    assert.equal(linkLocal.checkAddress('169.254.169.254').ok, false);
  });

  test('unspecified, multicast and broadcast addresses are never opened', () => {
    const guard = new AddressGuard(['0.0.0.0/0', '::/0', '0.0.0.0/32', '224.0.0.0/4', '255.255.255.255/32', 'ff00::/8']);
    for (const ip of ['0.0.0.0', '::', '224.0.0.1', '255.255.255.255', 'ff02::1', 'nonsense']) {
      const verdict = guard.checkAddress(ip);
      assert.equal(verdict.ok, false, ip);
      if (!verdict.ok) assert.match(verdict.reason, /cannot receive webhooks/, ip);
    }
  });

  test('a malformed CIDR is a configuration error, not silently ignored', () => {
    assert.throws(() => new AddressGuard(['10.0.0.0/33']), /LINKQR_WEBHOOK_ALLOWED_CIDRS: "10\.0\.0\.0\/33"/);
    assert.throws(() => new AddressGuard(['intranet']), /not an address or CIDR/);
  });
});

describe('AddressGuard connect-time lookup', () => {
  test('answers one address or all of them, as asked, and refuses a name if any address is not allowed', async () => {
    const dns = fakeDns({ 'ok.example': ['93.184.216.34', '2606:2800:220:1::1'], 'bad.example': ['93.184.216.34', '127.0.0.1'] });
    const guard = new AddressGuard([], { resolve: dns });

    const one = await callLookup(guard.lookup, 'ok.example', false);
    assert.deepEqual([one.err, one.address, one.family], [null, '93.184.216.34', 4]);
    const all = await callLookup(guard.lookup, 'ok.example', true);
    assert.equal(all.err, null);
    assert.deepEqual(all.address, [{ address: '93.184.216.34', family: 4 }, { address: '2606:2800:220:1::1', family: 6 }]);

    for (const asAll of [false, true]) {
      const refused = await callLookup(guard.lookup, 'bad.example', asAll);
      assert.equal(refused.err?.code, ADDRESS_BLOCKED);
      assert.match(refused.err?.message ?? '', /^Refused to connect to bad\.example: 127\.0\.0\.1 is a loopback address.*LINKQR_WEBHOOK_ALLOWED_CIDRS/);
    }
    const missing = await callLookup(guard.lookup, 'missing.example', true);
    assert.equal(missing.err?.code, 'ENOTFOUND');
  });

  test('the plain-http lookup admits only addresses inside an allowed CIDR', async () => {
    const guard = new AddressGuard(['10.0.0.0/8'], { resolve: fakeDns({ 'in.example': ['10.1.1.1'], 'pub.example': ['93.184.216.34'] }) });
    assert.equal((await callLookup(guard.plainHttpLookup, 'in.example', false)).address, '10.1.1.1');
    const refused = await callLookup(guard.plainHttpLookup, 'pub.example', false);
    assert.equal(refused.err?.code, ADDRESS_BLOCKED);
    assert.match(refused.err?.message ?? '', /must use https:\/\//);
    // The https lookup accepts the public one.
    assert.equal((await callLookup(guard.lookup, 'pub.example', false)).address, '93.184.216.34');
  });

  test('DNS rebinding: a name that was public when saved but resolves to loopback when dialled is refused', async () => {
    let answer = '93.184.216.34';
    const guard = new AddressGuard([], { resolve: fakeDns({ 'rebind.example': () => [answer] }) });
    assert.equal((await guard.checkUrlResolving('https://rebind.example/')).ok, true);
    answer = '127.0.0.1';
    const dialled = await callLookup(guard.lookup, 'rebind.example', true);
    assert.equal(dialled.err?.code, ADDRESS_BLOCKED);
  });

  test("Node's HTTP client dials only what the pinned lookup allows", async (t) => {
    let connections = 0;
    const receiver = http.createServer((_req, res) => res.end('hi'));
    receiver.on('connection', () => connections++);
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    t.after(() => receiver.close());
    const port = (receiver.address() as AddressInfo).port;
    const resolve = fakeDns({ 'receiver.test': ['127.0.0.1'] });

    const get = (guard: AddressGuard) =>
      new Promise<{ status?: number; code?: string }>((done) => {
        const agent = new http.Agent({ lookup: guard.plainHttpLookup });
        http
          .get({ host: 'receiver.test', port, agent }, (res) => {
            res.resume();
            res.on('end', () => done({ status: res.statusCode }));
          })
          .on('error', (err: NodeJS.ErrnoException) => done({ code: err.code }))
          .on('close', () => agent.destroy());
      });

    assert.deepEqual(await get(new AddressGuard([], { resolve })), { code: ADDRESS_BLOCKED });
    assert.deepEqual(await get(new AddressGuard(['10.0.0.0/8'], { resolve })), { code: ADDRESS_BLOCKED });
    assert.equal(connections, 0);
    assert.deepEqual(await get(new AddressGuard(['127.0.0.1/32'], { resolve })), { status: 200 });
    assert.equal(connections, 1);
  });
});
