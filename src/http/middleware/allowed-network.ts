import type { NextFunction, Request, Response } from 'express';
import { requireAllowedAddress } from '../../keys/keys.service.js';
import { principalOf } from './auth.js';

/**
 * 403 ip_not_allowed when the key is limited to some networks and the client address is in
 * none of them. The list comes with the key's row, read by authenticate on every request, so a
 * change applies to the next request at no extra query.
 */
export function requireAllowedNetwork(clientIp: (req: Request) => string) {
  return (req: Request, res: Response, next: NextFunction) => {
    requireAllowedAddress(principalOf(res), clientIp(req));
    next();
  };
}
