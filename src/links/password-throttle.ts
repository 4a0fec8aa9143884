import type { Queries } from '../db/db.js';
import { attemptWindow, type AttemptWindow } from '../sessions/login-throttle.js';

/** Wrong passwords allowed per link and address in PASSWORD_WINDOW_MS. */
export const PASSWORD_FAILURES = 10;
/** Wrong passwords allowed per link from all addresses together in PASSWORD_WINDOW_MS. */
export const LINK_PASSWORD_FAILURES = 100;
export const PASSWORD_WINDOW_MS = 15 * 60 * 1000;

/**
 * Password tries of protected links, as LoginThrottle counts sign-ins: per link and address (an
 * IPv6 /64 is one address: one subscriber's block), and per link from every address, so guessing
 * from many addresses is bounded too. A try is counted before its password is checked; a right
 * one is taken back.
 */
export class LinkPasswordThrottle {
  private readonly perAddress: AttemptWindow;
  private readonly perLink: AttemptWindow;

  /** In memory for one server (SQLite); in the database when instances share PostgreSQL. */
  constructor(db: Queries, secret: string | undefined) {
    this.perAddress = attemptWindow(db, secret, 'link password', PASSWORD_FAILURES, PASSWORD_WINDOW_MS);
    this.perLink = attemptWindow(db, secret, 'link password (all addresses)', LINK_PASSWORD_FAILURES, PASSWORD_WINDOW_MS);
  }

  /** Counts a try at `at` and answers 0, or answers the ms to wait (and counts nothing). */
  async attempt(linkId: string, ip: string, at: number): Promise<number> {
    const key = `${linkId} ${addressBlock(ip)}`;
    const address = await this.perAddress.take(key, at);
    if (address > 0) return address;
    const link = await this.perLink.take(linkId, at);
    if (link > 0) await this.perAddress.giveBack(key, at);
    return link;
  }

  /** The try counted at `at` had the right password: it counts against neither. */
  async succeeded(linkId: string, ip: string, at: number): Promise<void> {
    await this.perAddress.giveBack(`${linkId} ${addressBlock(ip)}`, at);
    await this.perLink.giveBack(linkId, at);
  }
}

/** The address a throttle counts: an IPv6 client's /64, an IPv4 address (mapped or not) as it is. */
export function addressBlock(ip: string): string {
  if (!ip.includes(':') || ip.startsWith('::ffff:')) return ip;
  // The URL parser writes an IPv6 address one canonical way (lower case, zeros compressed once).
  const canonical = URL.parse(`http://[${ip}]/`)?.hostname.slice(1, -1) ?? ip;
  const [head = '', tail = ''] = canonical.split('::');
  const front = head === '' ? [] : head.split(':');
  const back = tail === '' ? [] : tail.split(':');
  const groups = canonical.includes('::') ? [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back] : front;
  return `${groups.slice(0, 4).join(':')}::/64`;
}
