import { createHash } from 'node:crypto';
import type { Express } from 'express';
import type { Assets } from '../lib/assets.js';
import { notModified } from './conditional.js';

const TYPES: Record<string, string> = {
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  woff2: 'font/woff2',
  txt: 'text/plain; charset=utf-8',
};

/** A versioned URL: its bytes can never change, so caches keep it for a year without asking. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** An unversioned or outdated URL (an old page, a bookmark): kept, but checked on each use (304). */
const REVALIDATE = 'public, no-cache';

interface PublicFile {
  body: Buffer;
  type: string;
  /** The start of the SHA-256 of the bytes (base64url): the `v` of its URL and its entity tag. */
  version: string;
  etag: string;
}

/**
 * The files under public/, read and hashed once at start-up (through the assets module, so the
 * single executable serves its embedded copies). Pages link them by content, as
 * `/public/admin.css?v=<hash>`: an upgrade that changes a file changes its URL, so the URL can be
 * cached as immutable.
 */
export class PublicFiles {
  private readonly files = new Map<string, PublicFile>();

  constructor(assets: Assets) {
    for (const path of assets.list('public')) {
      const body = assets.read(path);
      const version = createHash('sha256').update(body).digest('base64url').slice(0, 16);
      const ext = path.slice(path.lastIndexOf('.') + 1);
      this.files.set(path.slice('public/'.length), { body, type: TYPES[ext] ?? 'application/octet-stream', version, etag: `"${version}"` });
    }
  }

  /** The URL a page links `name` (relative to public/) with. A name that is no file is a bug in a template: it throws. */
  url(name: string): string {
    const file = this.files.get(name);
    if (!file) throw new Error(`no such public file: ${name}`);
    return `/public/${name}?v=${file.version}`;
  }

  get(name: string): PublicFile | undefined {
    return this.files.get(name);
  }
}

/** GET /public/<file>: immutable under its versioned URL; under any other, revalidated by its strong ETag. */
export function bindPublicFiles(app: Express, files: PublicFiles) {
  app.get('/public/*path', (req, res, next) => {
    const file = files.get((req.params as { path: string[] }).path.join('/'));
    if (!file) return next();
    res.setHeader('content-type', file.type);
    res.setHeader('etag', file.etag);
    res.setHeader('cache-control', req.query.v === file.version ? IMMUTABLE : REVALIDATE);
    res.setHeader('x-content-type-options', 'nosniff');
    if (notModified(req, file.etag)) {
      res.status(304).end();
      return;
    }
    res.send(file.body);
  });
}
