import { parse as parseQueryString } from 'node:querystring';
import type { NextFunction, Request, Response } from 'express';
import { AppError, errors } from '../../lib/errors.js';

/** Whether the request says it carries a body (RFC 9112 §6.3: a length other than 0, or chunked). */
export function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Reads a request body of at most `limitBytes`, stopping the moment it is exceeded: a body
 * declared larger is refused before a byte is read, and a chunked one as soon as it passes the
 * limit (the error handler then lingers and closes the connection: lingerAfterRefusal). Compressed
 * bodies are refused, not inflated: an API client or a browser form has no reason to send one,
 * and inflating is work an attacker would choose the size of. Undefined when there is no body.
 */
export async function readBody(req: Request, limitBytes: number): Promise<Buffer | undefined> {
  if (!hasBody(req)) return undefined;
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    throw new AppError(415, 'unsupported_media_type', 'Unsupported media type', 'Send the body without content-encoding.');
  }
  refuseAnnouncedOver(req, limitBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    // Not destroying the request when the limit stops the loop: that would reset the
    // connection before the 413 is written (lingerAfterRefusal closes it once it is).
    for await (const chunk of req.iterator({ destroyOnReturn: false })) {
      size += (chunk as Buffer).length;
      if (size > limitBytes) throw tooLarge(limitBytes);
      chunks.push(chunk as Buffer);
    }
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw errors.badRequest('incomplete_body', 'The request body ended early.');
  }
  return Buffer.concat(chunks, size);
}

const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(?:;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;
/** As many fields as the largest admin form could send, with room to spare. */
const MAX_FORM_FIELDS = 1_000;

/**
 * HTML forms (application/x-www-form-urlencoded, UTF-8) into req.body: each field a string, a
 * repeated field (checkboxes) an array. Other bodies are left unread (req.body undefined), as
 * the pages then see an empty form.
 */
export function formBody(limitBytes: number | ((req: Request) => number)) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    req.body = undefined;
    if (!FORM_TYPE.test(req.headers['content-type'] ?? '')) return next();
    const body = await readBody(req, typeof limitBytes === 'number' ? limitBytes : limitBytes(req));
    if (body === undefined) return next();
    const form = parseQueryString(body.toString('utf8'), '&', '=', { maxKeys: MAX_FORM_FIELDS + 1 });
    if (Object.keys(form).length > MAX_FORM_FIELDS) throw errors.badRequest('malformed_form', `A form has at most ${MAX_FORM_FIELDS} fields.`);
    req.body = form;
    next();
  };
}

/** How long a refused body may keep coming before its connection is closed. */
const LINGER_MS = 2_000;

/**
 * After refusing a body without reading it all (413): drop what the client still sends for a
 * moment, then close the connection unless the body ended meanwhile (then it stays open for the
 * next request). Reading it to its end, as body-parser did, let a client send forever; closing at
 * once resets a connection the client is still writing to, and a reset can discard the 413 before
 * the client reads it (what nginx's lingering close is for).
 */
export function lingerAfterRefusal(req: Request): void {
  const socket = req.socket;
  req.resume();
  if (!socket) return;
  setTimeout(() => {
    if (!req.complete) socket.destroy();
  }, LINGER_MS).unref();
}

const tooLarge = (limitBytes: number) => errors.payloadTooLarge(`${Math.round(limitBytes / 1024)} KB`);

/** 413 for a body whose Content-Length is over the limit, before a byte of it is read. */
function refuseAnnouncedOver(req: Request, limitBytes: number): void {
  if (Number(req.headers['content-length']) > limitBytes) throw tooLarge(limitBytes);
}

/**
 * The same refusal as a middleware, for a router that does other work before it reads the body
 * (the API looks up the key and counts rate limits: round trips to the database on PostgreSQL),
 * so that a client announcing 100 MB hears 413 while it has sent little of it.
 */
export function refuseAnnouncedTooLarge(limitBytes: number | ((req: Request) => number)) {
  return (req: Request, _res: Response, next: NextFunction) => {
    refuseAnnouncedOver(req, typeof limitBytes === 'number' ? limitBytes : limitBytes(req));
    next();
  };
}
