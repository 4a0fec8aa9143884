import type { Request, Router } from 'express';
import { MAX_LOGO_BYTES } from '../../qr/logo.js';
import { getQrLogo, type LogoUpload, type QrLogoDeps, removeQrLogo, setQrLogo } from '../../qr/logos.service.js';
import { can, changeOf, principalOf } from '../middleware/auth.js';
import { readBody } from '../middleware/body.js';
import { noQuery } from '../middleware/validate.js';
import { sendLogoImage } from '../qr-logo-response.js';
import { linkId } from './links.routes.js';
import { sendJson } from './send-json.js';

/** The upload: the raw request body (at most the largest logo accepted) and its Content-Type. */
export async function logoUpload(req: Request): Promise<LogoUpload> {
  return { bytes: (await readBody(req, MAX_LOGO_BYTES)) ?? Buffer.alloc(0), contentType: req.headers['content-type'] };
}

/**
 * The logo in the middle of QR codes: a link's own, and the workspace's (which links without one
 * get). PUT takes the image itself as the body (image/png or image/svg+xml), not JSON: bound before
 * the JSON body parser (router.ts), which refuses other media types.
 */
export function bindQrLogoApi(router: Router, deps: QrLogoDeps) {
  router.put('/links/:id/qr-logo', can('links.write'), noQuery, async (req, res) => {
    const id = linkId(req.params.id);
    sendJson(res, 200, await setQrLogo(deps, principalOf(res).workspaceId, changeOf(res), id, await logoUpload(req)));
  });

  router.get('/links/:id/qr-logo', can('links.read'), noQuery, async (req, res) => {
    sendLogoImage(req, res, await getQrLogo(deps, principalOf(res).workspaceId, linkId(req.params.id)));
  });

  router.delete('/links/:id/qr-logo', can('links.write'), noQuery, async (req, res) => {
    await removeQrLogo(deps, principalOf(res).workspaceId, changeOf(res), linkId(req.params.id));
    res.status(204).end();
  });

  // The workspace's logo is on every code without one of its own: admins, as for domains.
  router.put('/qr-logo', can('domains.manage'), noQuery, async (req, res) => {
    sendJson(res, 200, await setQrLogo(deps, principalOf(res).workspaceId, changeOf(res), null, await logoUpload(req)));
  });

  router.get('/qr-logo', can('links.read'), noQuery, async (req, res) => {
    sendLogoImage(req, res, await getQrLogo(deps, principalOf(res).workspaceId, null));
  });

  router.delete('/qr-logo', can('domains.manage'), noQuery, async (req, res) => {
    await removeQrLogo(deps, principalOf(res).workspaceId, changeOf(res), null);
    res.status(204).end();
  });
}
