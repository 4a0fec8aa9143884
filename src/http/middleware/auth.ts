import type { NextFunction, Request, Response } from 'express';
import type { KeyDeps, KeyPrincipal } from '../../keys/keys.service.js';
import { authenticateKey } from '../../keys/keys.service.js';
import type { Scope } from '../../keys/scopes.js';
import { errors } from '../../lib/errors.js';

declare module 'express-serve-static-core' {
  interface Locals {
    principal?: KeyPrincipal;
    requestId?: string;
  }
}

/** Bearer API key → res.locals.principal, or a 401 problem. */
export function authenticate(deps: KeyDeps, clientIp: (req: Request) => string) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    const bearer = header === undefined ? undefined : /^Bearer\s+(.*)$/i.exec(header);
    const token = header === undefined ? undefined : (bearer?.[1]?.trim() ?? '(not bearer)');
    res.locals.principal = await authenticateKey(deps, token, clientIp(req));
    next();
  };
}

export function principalOf(res: Response): KeyPrincipal {
  const p = res.locals.principal;
  if (!p) throw new Error('route mounted without authenticate()');
  return p;
}

export function requireScope(scope: Scope) {
  return (_req: Request, res: Response, next: NextFunction) => {
    if (!principalOf(res).scopes.includes(scope)) {
      throw errors.forbidden('insufficient_scope', `This API key lacks the "${scope}" scope needed for this route.`);
    }
    next();
  };
}
