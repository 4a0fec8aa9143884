import type { NextFunction, Request, Response } from 'express';
import { errors } from '../../lib/errors.js';
import { hasBody, readBody } from './body.js';

const JSON_TYPE = /^application\/json\s*(?:;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

/**
 * Reads a JSON request body into req.body (undefined when there is none). Bodies are UTF-8 JSON
 * (RFC 8259) without content-encoding, at most `limitBytes`; anything else is refused with a
 * problem before a handler runs. Any JSON value parses, so `42` reaches validation and is
 * reported as "not an object" rather than as bad JSON.
 *
 * Written here rather than body-parser: the create-link benchmark spent a tenth of its time in
 * body-parser's generality (charsets, inflation) that a JSON API does not need, and body-parser
 * reads a body over the limit to its end before refusing it (readBody stops at the limit).
 */
export function jsonBody(limitBytes: number | ((req: Request) => number)) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    req.body = undefined;
    if (!hasBody(req)) return next();
    if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) throw errors.unsupportedMediaType();
    const body = await readBody(req, typeof limitBytes === 'number' ? limitBytes : limitBytes(req));
    try {
      req.body = JSON.parse(body!.toString('utf8'));
    } catch {
      throw errors.malformedJson();
    }
    next();
  };
}

