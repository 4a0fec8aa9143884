import type { NextFunction, Request, Response } from 'express';
import { AppError, errors } from '../../lib/errors.js';

const JSON_TYPE = /^application\/json\s*(?:;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

/**
 * Reads a JSON request body into req.body (undefined when there is none). Bodies are UTF-8 JSON
 * (RFC 8259) without content-encoding, at most `limitBytes`; anything else is refused with a
 * problem before a handler runs. Any JSON value parses, so `42` reaches validation and is
 * reported as "not an object" rather than as bad JSON.
 *
 * Written here rather than body-parser: the create-link benchmark spends a tenth of its time in
 * body-parser's generality (charsets, inflation) that a JSON API does not need.
 */
export function jsonBody(limitBytes: number) {
  const tooLarge = () => errors.payloadTooLarge(`${Math.round(limitBytes / 1024)} KB`);
  return async (req: Request, res: Response, next: NextFunction) => {
    const length = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (!chunked && (length === undefined || length === '0')) {
      req.body = undefined;
      return next();
    }
    const encoding = req.headers['content-encoding'];
    if (!JSON_TYPE.test(req.headers['content-type'] ?? '') || (encoding !== undefined && encoding !== 'identity')) {
      throw errors.unsupportedMediaType();
    }
    if (Number(length) > limitBytes) {
      // The body stays unread: close the connection rather than read it to keep it alive.
      res.setHeader('connection', 'close');
      throw tooLarge();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > limitBytes) {
          res.setHeader('connection', 'close');
          throw tooLarge();
        }
        chunks.push(chunk as Buffer);
      }
    } catch (e) {
      if (e instanceof AppError) throw e;
      throw errors.badRequest('incomplete_body', 'The request body ended early.');
    }
    try {
      req.body = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
    } catch {
      throw errors.malformedJson();
    }
    next();
  };
}
