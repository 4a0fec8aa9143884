import type { Router } from 'express';
import { createImportBody, getImport, importIdOf as importId, type ImportDeps, listImportRows, listImportRowsQuery, startImport } from '../../imports/imports.service.js';
import { can, changeOf, principalOf } from '../middleware/auth.js';
import { noQuery, parseInput } from '../middleware/validate.js';
import { sendJson } from './send-json.js';

export function bindImportsApi(router: Router, deps: ImportDeps) {
  router.post('/imports', can('links.write'), noQuery, async (req, res) => {
    const job = await startImport(deps, principalOf(res).workspaceId, changeOf(res), parseInput(createImportBody, req.body, 'body'));
    sendJson(res, 202, job, { location: `/api/v1/imports/${job.id}` });
  });

  router.get('/imports/:id', can('links.read'), noQuery, async (req, res) => {
    sendJson(res, 200, await getImport(deps, principalOf(res).workspaceId, importId(req.params.id)));
  });

  router.get('/imports/:id/rows', can('links.read'), async (req, res) => {
    const id = importId(req.params.id);
    sendJson(res, 200, await listImportRows(deps, principalOf(res).workspaceId, id, parseInput(listImportRowsQuery, req.query, 'query')));
  });
}
