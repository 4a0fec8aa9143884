import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import proxyaddr from 'proxy-addr';
import type { Config } from '../config.js';

/**
 * The client's address: the socket's, or with LINKQR_TRUST_PROXY the one trusted proxies
 * report in X-Forwarded-For. The same rule serves the redirect path and Express.
 *
 * The address is captured on arrival (the server calls the resolver first thing for every
 * request) and remembered for the request: once a response has finished, Node detaches the
 * socket (`req.socket` is null), so reading it from a `finish` handler took the process down.
 *
 * X-Forwarded-For entries that are not IP addresses are skipped: a client can write anything
 * there, and `not-an-ip` or HTML must never become "the client address" in the audit log or a
 * rate-limit bucket. With trust `on`, the left-most IP is taken as the client: any client that
 * reaches the server directly chooses its own address (the README says so).
 */
export function clientIpResolver(trust: Config['trustProxy']): (req: IncomingMessage) => string {
  // Remembered on the request itself, under a key of this resolver's: a WeakMap entry per
  // request cost 2.6% of the redirect path's time.
  const captured = Symbol('client address');
  const resolve = trust === false ? socketAddress : forwardedAddress(trust);
  return (req) => ((req as IncomingMessage & Record<symbol, string | undefined>)[captured] ??= resolve(req));
}

const socketAddress = (req: IncomingMessage) => req.socket?.remoteAddress ?? '';

function forwardedAddress(trust: Exclude<Config['trustProxy'], false>) {
  const trusted =
    trust === true ? () => true : typeof trust === 'number' ? (_addr: string, hop: number) => hop < trust : proxyaddr.compile(trust);
  return (req: IncomingMessage): string => {
    // Nearest first: the socket's peer, then X-Forwarded-For from right to left.
    const header = req.headers['x-forwarded-for'];
    const forwarded = typeof header === 'string' ? header.split(',').map((s) => s.trim()).filter((s) => isIP(s) !== 0) : [];
    const chain = [socketAddress(req), ...forwarded.reverse()];
    // The first address that is not a trusted proxy is the client; if every hop is trusted, the farthest.
    for (let hop = 0; hop < chain.length - 1; hop++) {
      if (!trusted(chain[hop]!, hop)) return chain[hop]!;
    }
    return chain[chain.length - 1]!;
  };
}
