import type { Request, Response, Router } from 'express';
import { AppError, errors } from '../../lib/errors.js';
import { LINK_ID_PATTERN } from '../../links/links.schema.js';
import { allows, authorize } from '../../policy/policy.js';
import { findQrLogo, getQrLogo, type QrLogo, type QrLogoDeps, removeQrLogo, setQrLogo } from '../../qr/logos.service.js';
import { setFlash } from '../../sessions/sessions.service.js';
import { planOfWorkspace } from '../../workspaces/plans.js';
import { logoUpload } from '../api/qr-logo.routes.js';
import { lingerAfterRefusal } from '../middleware/body.js';
import { sendLogoImage } from '../qr-logo-response.js';
import { adminOf, isHtmx, redirectTo, workspaceOf } from './admin-session.js';
import type { RenderDeps } from './render.js';

export type QrLogoPagesDeps = RenderDeps & QrLogoDeps;

/** What partials/admin/qr-logo/form.eta draws: one owner's logo, its upload and remove forms. */
export interface LogoBlock {
  /** The block's DOM id; the file field is `<id>-file`. */
  id: string;
  logo: QrLogo | undefined;
  /** The stored image, its hash in the query so a new logo is fetched anew. */
  imageSrc: string | undefined;
  alt: string;
  uploadAction: string;
  removeAction: string;
  apiPath: string;
  canEdit: boolean;
  csrf: string;
  error?: string;
}

/** The logo block of a link (`linkId`) or of the workspace (null). `canEdit` and `csrf` come from the page. */
export function logoBlock(linkId: string | null, logo: QrLogo | undefined, page: { canEdit: boolean; csrf: string; error?: string }): LogoBlock {
  const base = linkId === null ? '/admin/settings/qr-logo' : `/admin/links/${linkId}/qr-logo`;
  return {
    id: linkId === null ? 'workspace-logo' : 'link-logo',
    logo,
    imageSrc: logo && `${linkId === null ? `${base}/image` : base}?v=${logo.sha256}`,
    alt: linkId === null ? 'The workspace’s logo' : 'This link’s logo',
    uploadAction: base,
    removeAction: `${base}/delete`,
    apiPath: linkId === null ? '/api/v1/qr-logo' : `/api/v1/links/${linkId}/qr-logo`,
    ...page,
  };
}

/** Refusals of an upload that belong beside its field; anything else is not the form's business. */
const UPLOAD_REFUSALS = new Set(['validation_failed', 'payload_too_large', 'unsupported_media_type', 'incomplete_body']);

/**
 * The logo in the middle of QR codes: a link's (the QR card of its page) and the workspace's
 * (Settings, admins). Uploads send the file itself as the body, as the API takes it: public/admin.js
 * posts the chosen file with the session's token in X-CSRF-Token (no multipart parser needed).
 *   POST /links/:id/qr-logo           upload: 204 (the page reloads), or 422 with the block and the error beside the field
 *   POST /links/:id/qr-logo/delete    plain form, back to the QR card
 *   GET  /links/:id/qr-logo           the stored image (the block's thumbnail)
 *   GET  /settings/qr-logo            the Settings panel, as htmx loads it into the page
 *   POST /settings/qr-logo            upload, as for a link
 *   POST /settings/qr-logo/delete
 *   GET  /settings/qr-logo/image
 */
export function bindQrLogoPages(router: Router, deps: QrLogoPagesDeps) {
  router.post('/links/:id/qr-logo', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'links.write');
    await upload(req, res, workspace.workspaceId, linkIdOf(req));
  });

  router.post('/links/:id/qr-logo/delete', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'links.write');
    const id = linkIdOf(req);
    await remove(res, workspace.workspaceId, id, 'This link’s codes now show the workspace’s logo, if it has one.');
    redirectTo(req, res, `/admin/links/${id}#qr`);
  });

  router.get('/links/:id/qr-logo', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'links.read');
    sendLogoImage(req, res, await getQrLogo(deps, workspace.workspaceId, linkIdOf(req)));
  });

  router.get('/settings/qr-logo', async (req, res) => {
    if (!isHtmx(req)) return redirectTo(req, res, '/admin/settings#qr-logo');
    res.type('html').send(deps.views.render('partials/admin/settings/qr-logo', await workspacePanel(res)));
  });

  // The workspace's logo is on every code without one of its own: admins, as for domains.
  router.post('/settings/qr-logo', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'domains.manage');
    await upload(req, res, workspace.workspaceId, null);
  });

  router.post('/settings/qr-logo/delete', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'domains.manage');
    await remove(res, workspace.workspaceId, null, 'Links without a logo of their own now have plain codes.');
    redirectTo(req, res, '/admin/settings#qr-logo');
  });

  router.get('/settings/qr-logo/image', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'links.read');
    sendLogoImage(req, res, await getQrLogo(deps, workspace.workspaceId, null));
  });

  async function upload(req: Request, res: Response, workspaceId: string, linkId: string | null) {
    try {
      await setQrLogo(deps, workspaceId, res.locals.change!, linkId, await logoUpload(req));
    } catch (e) {
      if (!(e instanceof AppError) || !UPLOAD_REFUSALS.has(e.code)) throw e;
      // The body was not read to its end: drop the rest, then close, as the error handler would.
      if (e.status === 413) lingerAfterRefusal(req);
      const message = e.code === 'payload_too_large' ? 'must be at most 64 KB' : (e.errors?.[0]?.message ?? e.detail);
      const block = logoBlock(linkId, await findQrLogo(deps, workspaceId, linkId), { canEdit: true, csrf: adminOf(res).session.csrf_token, error: `The file ${message}.` });
      return res.status(422).type('html').send(deps.views.render('partials/admin/qr-logo/form', block));
    }
    const text = linkId === null ? 'Logo saved: it is drawn in the QR codes of every link without one of its own.' : 'Logo saved: this link’s QR codes show it.';
    await setFlash(deps, adminOf(res).session, { kind: 'ok', text });
    res.status(204).end();
  }

  /** A second click (or another tab) finds it gone: said so, not a 404 page. */
  async function remove(res: Response, workspaceId: string, linkId: string | null, after: string) {
    if (!(await findQrLogo(deps, workspaceId, linkId))) {
      await setFlash(deps, adminOf(res).session, { kind: 'ok', text: 'The logo was removed already.' });
      return;
    }
    await removeQrLogo(deps, workspaceId, res.locals.change!, linkId);
    await setFlash(deps, adminOf(res).session, { kind: 'ok', text: `Logo removed. ${after}` });
  }

  /** The Settings panel: the plan's word on QR codes, else the workspace's logo block. */
  async function workspacePanel(res: Response) {
    const { workspace, actor } = workspaceOf(res);
    const plan = await planOfWorkspace(deps.db, workspace.workspaceId);
    if (plan.features.qr === false) return { unavailable: `The "${plan.name}" plan of this workspace does not include QR codes.` };
    const logo = await findQrLogo(deps, workspace.workspaceId, null);
    return { block: logoBlock(null, logo, { canEdit: allows(actor, 'domains.manage'), csrf: adminOf(res).session.csrf_token }) };
  }
}

function linkIdOf(req: Request): string {
  const id = req.params.id;
  if (typeof id !== 'string' || !LINK_ID_PATTERN.test(id)) throw errors.notFound(`Link ${String(id)}`);
  return id;
}
