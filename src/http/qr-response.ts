import type { Request, Response } from 'express';
import type { QrImage } from '../qr/qr.js';
import { notModified } from './conditional.js';

/**
 * A link's QR image, for the API and the admin pages alike. `no-cache`: the image changes with
 * the slug, so clients revalidate (a cheap 304 on the strong ETag) rather than keep a stale code.
 */
export function sendQrImage(req: Request, res: Response, image: QrImage & { slug: string }, disposition: 'inline' | 'attachment') {
  res.set({ etag: image.etag, 'cache-control': 'private, no-cache', 'x-content-type-options': 'nosniff' });
  if (notModified(req, image.etag)) {
    res.status(304).end();
    return;
  }
  const extension = image.contentType === 'image/png' ? 'png' : 'svg';
  res.set({
    'content-type': image.contentType,
    'content-disposition': `${disposition}; filename="${image.slug}-qr.${extension}"`,
    // Stated, not left to res.end: HEAD sends no body to count, and GET's length is HEAD's.
    'content-length': String(image.body.length),
  });
  res.status(200).end(image.body);
}
