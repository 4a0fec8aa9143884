import type { NextFunction, Request, Response } from 'express';
import type { ChangeContext } from '../../audit/audit.js';
import type { KeyDeps, KeyPrincipal } from '../../keys/keys.service.js';
import { authenticateKey } from '../../keys/keys.service.js';
import { type Action, authorize } from '../../policy/policy.js';
import { requireFeatureOf } from '../../workspaces/plans.js';

declare module 'express-serve-static-core' {
  interface Locals {
    principal?: KeyPrincipal;
    /** The actor and client address every audited change of this request carries. */
    change?: ChangeContext;
    requestId?: string;
  }
}

/**
 * Bearer API key → res.locals.principal and .change, or a 401 problem. A workspace whose plan
 * has the `api` feature off gets 403 for every route.
 */
export function authenticate(deps: KeyDeps, clientIp: (req: Request) => string) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    const bearer = header === undefined ? undefined : /^Bearer\s+(.*)$/i.exec(header);
    const token = header === undefined ? undefined : (bearer?.[1]?.trim() ?? '(not bearer)');
    const ip = clientIp(req);
    const p = await authenticateKey(deps, token, ip);
    res.locals.principal = p;
    res.locals.change = { actor: { type: 'key', id: p.keyId, workspaceId: p.workspaceId, scopes: p.scopes }, ip };
    requireFeatureOf(p.plan, 'api');
    next();
  };
}

export function principalOf(res: Response): KeyPrincipal {
  const p = res.locals.principal;
  if (!p) throw new Error('route mounted without authenticate()');
  return p;
}

export function changeOf(res: Response): ChangeContext {
  const c = res.locals.change;
  if (!c) throw new Error('route mounted without authenticate()');
  return c;
}

/** Route guard: the policy module decides (scopes for keys, roles for users). */
export function can(action: Action) {
  return (_req: Request, res: Response, next: NextFunction) => {
    authorize(changeOf(res).actor, action);
    next();
  };
}
