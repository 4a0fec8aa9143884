import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';

/**
 * Looks through files byte by byte (a database, its WAL, a backup) for secrets in every
 * encoding we could think of, and for visitor addresses or their hashes under any key the files
 * themselves hold: what someone holding only the files could read.
 */

export interface Needle {
  /** What it is, for the failure message ("webhook secret A (hex)"); never the value itself. */
  name: string;
  bytes: Buffer;
}

const text = (name: string, value: string): Needle => ({ name, bytes: Buffer.from(value, 'latin1') });
const unpadded = (b64: string) => b64.replace(/=+$/, '');

/** A value as stored raw, in base64 and base64url (padded or not), and in hex (either case). */
export function encodingsOf(name: string, value: string | Buffer): Needle[] {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const hex = bytes.toString('hex');
  return [
    { name: `${name} (raw)`, bytes },
    text(`${name} (base64)`, unpadded(bytes.toString('base64'))),
    text(`${name} (base64url)`, bytes.toString('base64url')),
    text(`${name} (hex)`, hex),
    text(`${name} (HEX)`, hex.toUpperCase()),
  ];
}

/** A `whsec_…` secret: the text, and the 32-byte HMAC key inside it in every encoding. */
export function webhookSecretNeedles(name: string, secret: string): Needle[] {
  return [...encodingsOf(name, secret), ...encodingsOf(`${name} key bytes`, Buffer.from(secret.slice('whsec_'.length), 'base64'))];
}

/** An address as text (and IPv6 fully written out, and IPv4 mapped into IPv6), in hex, and raw for IPv6. */
export function addressNeedles(name: string, ip: string): Needle[] {
  if (isIPv6(ip)) {
    const raw = ipv6Bytes(ip);
    const full = raw.toString('hex').match(/.{4}/g)!.join(':');
    // Four raw bytes of an IPv4 address would turn up by chance in megabytes of ciphertext; sixteen do not.
    return [text(`${name} (text)`, ip), text(`${name} (full text)`, full), ...encodingsOf(`${name} bytes`, raw)];
  }
  const hex = Buffer.from(ip.split('.').map(Number)).toString('hex');
  return [...encodingsOf(`${name} (text)`, ip), text(`${name} (mapped)`, `::ffff:${ip}`), text(`${name} (hex)`, hex)];
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail = ''] = ip.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  const missing = 8 - groups(head!).length - groups(tail).length;
  const all = [...groups(head!), ...Array<string>(ip.includes('::') ? missing : 0).fill('0'), ...groups(tail)];
  return Buffer.from(all.map((g) => g.padStart(4, '0')).join(''), 'hex');
}

export interface Leak {
  file: string;
  needle: string;
}

/** Every needle found in every file that exists. */
export function findLeaks(files: readonly string[], needles: readonly Needle[]): Leak[] {
  const leaks: Leak[] = [];
  for (const file of files.filter((f) => existsSync(f))) {
    const bytes = readFileSync(file);
    for (const n of needles) if (bytes.includes(n.bytes)) leaks.push({ file, needle: n.name });
  }
  return leaks;
}

const BASE64_CHAR = /[A-Za-z0-9+/_-]/;
const HEX_CHAR = /[0-9a-fA-F]/;

/**
 * Every run of `length` characters of an alphabet in `s`, at every offset: SQLite packs a row's
 * columns without separators, so a value stands right next to other text.
 */
function* windows(s: string, length: number, char: RegExp): Generator<string> {
  // `run` counts the characters of the alphabet ending at i: a window fits once it reaches `length`.
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    run = char.test(s[i]!) ? run + 1 : 0;
    if (run >= length) yield s.slice(i - length + 1, i + 1);
  }
}

const latin1Of = (files: readonly string[]) => files.filter((f) => existsSync(f)).map((file) => ({ file, s: readFileSync(file).toString('latin1') }));

/** Every 32-byte key the files hold as text: 43 or 44 base64/base64url characters, or 64 hex digits. */
export function textKeysIn(files: readonly string[]): Buffer[] {
  const found = new Map<string, Buffer>();
  for (const { s } of latin1Of(files)) {
    for (const w of [...windows(s, 43, BASE64_CHAR), ...windows(s, 44, BASE64_CHAR)]) found.set(`b${w}`, Buffer.from(w, 'base64'));
    for (const w of windows(s, 64, HEX_CHAR)) found.set(`h${w}`, Buffer.from(w, 'hex'));
  }
  return [...found.values()].filter((k) => k.length === 32);
}

/**
 * Where the visitor hash of `ip` under any of `keys` appears in the files: as LinkQR writes it
 * (22 base64url characters of HMAC-SHA256) or as the whole digest in hex.
 */
export function findHashedAddress(files: readonly string[], name: string, ip: string, keys: readonly Buffer[]): Leak[] {
  const hashes = new Set<string>();
  for (const key of keys) {
    const digest = createHmac('sha256', key).update(ip).digest();
    hashes.add(digest.toString('base64url').slice(0, 22));
    hashes.add(digest.toString('hex'));
  }
  const leaks: Leak[] = [];
  for (const { file, s } of latin1Of(files)) {
    const hit = [...windows(s, 22, BASE64_CHAR), ...windows(s, 64, HEX_CHAR)].some((w) => hashes.has(w));
    if (hit) leaks.push({ file, needle: `${name} hashed under a key found in the files` });
  }
  return leaks;
}
