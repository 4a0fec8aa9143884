import { type Router } from 'express';
import { createLinkBody, exportLinksQuery, LINK_ID_PATTERN, listLinksQuery, updateLinkBody } from '../../links/links.schema.js';
import { createLink, deleteLink, getLink, type LinkDeps, listLinks, updateLink } from '../../links/links.service.js';
import { errors } from '../../lib/errors.js';
import { qrOptionsSchema } from '../../qr/qr.js';
import { linkQr, type QrDeps } from '../../qr/qr.service.js';
import { can, changeOf, principalOf } from '../middleware/auth.js';
import { noQuery, parseInput } from '../middleware/validate.js';
import { sendJson } from './send-json.js';
import { sendQrImage } from '../qr-response.js';
import { sendCsv } from '../send-csv.js';
import { linksCsv } from '../../links/links-export.js';

/** An id that cannot be a link id answers 404 like any other unknown id. */
export function linkId(raw: string | string[] | undefined): string {
  if (typeof raw !== 'string' || !LINK_ID_PATTERN.test(raw)) throw errors.notFound(`Link ${String(raw)}`);
  return raw;
}

export function bindLinksApi(router: Router, deps: LinkDeps & QrDeps) {
  // Before /links/:id, which would take "export" for an id.
  router.get('/links/export', can('links.read'), async (req, res) => {
    const { q, tag, status } = parseInput(exportLinksQuery, req.query, 'query');
    await sendCsv(res, `links-${new Date(deps.clock.now()).toISOString().slice(0, 10)}.csv`, linksCsv(deps, principalOf(res).workspaceId, { q, tag, status }));
  });

  router.post('/links', can('links.write'), noQuery, async (req, res) => {
    const link = await createLink(deps, principalOf(res).workspaceId, changeOf(res), parseInput(createLinkBody, req.body, 'body'));
    sendJson(res, 201, link, { location: `/api/v1/links/${link.id}` });
  });

  router.get('/links', can('links.read'), async (req, res) => {
    sendJson(res, 200, await listLinks(deps, principalOf(res).workspaceId, parseInput(listLinksQuery, req.query, 'query')));
  });

  router.get('/links/:id', can('links.read'), noQuery, async (req, res) => {
    sendJson(res, 200, await getLink(deps, principalOf(res).workspaceId, linkId(req.params.id)));
  });

  router.patch('/links/:id', can('links.write'), noQuery, async (req, res) => {
    const id = linkId(req.params.id);
    sendJson(res, 200, await updateLink(deps, principalOf(res).workspaceId, changeOf(res), id, parseInput(updateLinkBody, req.body, 'body')));
  });

  // links:read; the link's first image also needs links:write (it spends one of the plan's QR codes).
  router.get('/links/:id/qr', can('links.read'), async (req, res) => {
    const id = linkId(req.params.id);
    sendQrImage(req, res, await linkQr(deps, changeOf(res).actor, principalOf(res).workspaceId, id, parseInput(qrOptionsSchema, req.query, 'query')), 'inline');
  });

  router.delete('/links/:id', can('links.write'), noQuery, async (req, res) => {
    await deleteLink(deps, principalOf(res).workspaceId, changeOf(res), linkId(req.params.id));
    res.status(204).end();
  });
}
