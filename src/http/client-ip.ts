import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import type { Config } from '../config.js';

/**
 * The client's address: the socket's, or with LINKQR_TRUST_PROXY the one trusted proxies
 * report in X-Forwarded-For. The same rule serves the redirect path and Express.
 */
export function clientIpResolver(trust: Config['trustProxy']): (req: IncomingMessage) => string {
  if (trust === false) return (req) => req.socket.remoteAddress ?? '';
  const trustFn =
    trust === true ? () => true : typeof trust === 'number' ? (_addr: string, hop: number) => hop < trust : proxyaddr.compile(trust);
  return (req) => proxyaddr(req, trustFn);
}
