import type { Express } from 'express';
import type { Assets } from '../lib/assets.js';

const TYPES: Record<string, string> = {
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  woff2: 'font/woff2',
  txt: 'text/plain; charset=utf-8',
};

/** GET /public/<file>: files from public/, read once through the assets module and kept in memory. */
export function bindPublicFiles(app: Express, assets: Assets) {
  const files = new Map(assets.list('public').map((path) => [path.slice('public/'.length), path]));
  const cache = new Map<string, Buffer>();
  app.get('/public/*path', (req, res, next) => {
    const name = (req.params as { path: string[] }).path.join('/');
    const path = files.get(name);
    if (!path) return next();
    let body = cache.get(name);
    if (!body) cache.set(name, (body = assets.read(path)));
    const ext = name.slice(name.lastIndexOf('.') + 1);
    res.setHeader('content-type', TYPES[ext] ?? 'application/octet-stream');
    res.setHeader('cache-control', 'public, max-age=3600');
    res.setHeader('x-content-type-options', 'nosniff');
    res.send(body);
  });
}
