import compression from 'compression';
import type { NextFunction, Request, Response } from 'express';

/** Smaller bodies gain a few hundred bytes at most, less than a compressor costs to start. */
const THRESHOLD_BYTES = 1024;

/** The encodings compression can send (deflate aside, which no client prefers). */
const ACCEPTS_GZIP_OR_BR = /\b(?:gzip|br)\b/i;

/**
 * gzip or br, as the client accepts (br when both), for compressible bodies of 1 KB and more:
 * JSON, HTML, CSS, JS, SVG (PNG is compressed already). openapi.json: 155 KB → about 10 KB.
 * Never a redirect: those of the fast path do not pass through Express, and the others (and
 * 304s) are left as they are too.
 *
 * Only reads (GET, HEAD) from clients that accept gzip or br: the compression package wraps every
 * response it is given, which measured +20% CPU on a small JSON answer, and the answers to writes
 * (one link, one endpoint, a form fragment) rarely reach 1 KB. A response sent uncompressed to a
 * client that accepts neither needs no Vary: a cache may hand it to anyone.
 *
 * HEAD is treated as GET: the compression package leaves HEAD answers alone, which would keep a
 * Content-Length that GET, sent compressed, does not have (RFC 9110 §8.6 forbids that; §9.3.2
 * wants HEAD's headers to be GET's). Node sends no body in answer to HEAD anyway.
 */
export function compress() {
  const middleware = compression({
    threshold: THRESHOLD_BYTES,
    filter: (req, res) => !(res.statusCode >= 300 && res.statusCode < 400) && compression.filter(req, res),
  });
  return (req: Request, res: Response, next: NextFunction) => {
    const read = req.method === 'GET' || req.method === 'HEAD';
    if (!read || !ACCEPTS_GZIP_OR_BR.test(req.headers['accept-encoding'] ?? '')) return next();
    weakenEtagWhenEncoded(res);
    middleware(req.method === 'HEAD' ? asGet(req) : req, res, next);
  };
}

/**
 * A compressed body is another representation than the identity one: a strong ETag may name only
 * one of them (RFC 9110 §8.8.1), so the compressed one gets the weak form of the tag, as nginx
 * does. Conditional requests compare weakly, so W/"x" still revalidates "x" (304). Wrapped before
 * the compression package wraps writeHead in turn: its wrapper, which sets Content-Encoding, runs
 * first.
 */
function weakenEtagWhenEncoded(res: Response): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: Response, ...args: Parameters<Response['writeHead']>) {
    const etag = this.getHeader('etag');
    if (this.getHeader('content-encoding') && typeof etag === 'string' && !etag.startsWith('W/')) this.setHeader('etag', `W/${etag}`);
    return writeHead.apply(this, args);
  } as Response['writeHead'];
}

/** The request as the compression package should see it: it reads only the method and the headers. */
const asGet = (req: Request): Request => Object.create(req, { method: { value: 'GET' } }) as Request;
