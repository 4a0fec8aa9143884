import type { Request, Response } from 'express';
import type { QrLogo } from '../qr/logos.service.js';
import { notModified } from './conditional.js';

/**
 * What an image served from this origin may do when opened by itself: nothing. Logos are checked
 * at upload (src/qr/logo-svg.ts refuses scripts and outside references); this holds besides. Inline
 * styles stay allowed, as editors write SVG logos with them.
 */
const LOGO_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox";

/** A stored QR logo as it is drawn in codes, for the API and the admin pages alike. Its ETag is its hash. */
export function sendLogoImage(req: Request, res: Response, logo: QrLogo & { bytes: Buffer }) {
  const etag = `"${logo.sha256}"`;
  res.set({ etag, 'cache-control': 'private, no-cache', 'x-content-type-options': 'nosniff', 'content-security-policy': LOGO_CSP });
  if (notModified(req, etag)) {
    res.status(304).end();
    return;
  }
  res.set({
    'content-type': logo.contentType,
    'content-disposition': `inline; filename="qr-logo.${logo.contentType === 'image/png' ? 'png' : 'svg'}"`,
    'content-length': String(logo.bytes.length),
  });
  res.status(200).end(logo.bytes);
}
