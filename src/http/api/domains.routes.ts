import type { Router } from 'express';
import { createDomainBody, domainIdOf as domainId, listDomainsQuery, updateDomainBody } from '../../domains/domains.schema.js';
import { createDomain, deleteDomain, type DomainDeps, getDomain, listDomains, updateDomain, verifyDomain } from '../../domains/domains.service.js';
import { can, changeOf, principalOf } from '../middleware/auth.js';
import { noQuery, parseInput } from '../middleware/validate.js';
import { sendJson } from './send-json.js';

export function bindDomainsApi(router: Router, deps: DomainDeps) {
  router.post('/domains', can('domains.manage'), noQuery, async (req, res) => {
    const domain = await createDomain(deps, principalOf(res).workspaceId, changeOf(res), parseInput(createDomainBody, req.body, 'body'));
    sendJson(res, 201, domain, { location: `/api/v1/domains/${domain.id}` });
  });

  router.get('/domains', can('links.read'), async (req, res) => {
    sendJson(res, 200, await listDomains(deps, principalOf(res).workspaceId, parseInput(listDomainsQuery, req.query, 'query')));
  });

  router.get('/domains/:id', can('links.read'), noQuery, async (req, res) => {
    sendJson(res, 200, await getDomain(deps, principalOf(res).workspaceId, domainId(req.params.id)));
  });

  router.patch('/domains/:id', can('domains.manage'), noQuery, async (req, res) => {
    const id = domainId(req.params.id);
    sendJson(res, 200, await updateDomain(deps, principalOf(res).workspaceId, changeOf(res), id, parseInput(updateDomainBody, req.body, 'body')));
  });

  router.post('/domains/:id/verify', can('domains.manage'), noQuery, async (req, res) => {
    sendJson(res, 200, await verifyDomain(deps, principalOf(res).workspaceId, changeOf(res), domainId(req.params.id)));
  });

  router.delete('/domains/:id', can('domains.manage'), noQuery, async (req, res) => {
    await deleteDomain(deps, principalOf(res).workspaceId, changeOf(res), domainId(req.params.id));
    res.status(204).end();
  });
}
