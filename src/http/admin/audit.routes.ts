import type { Request, Response, Router } from 'express';
import { type AuditReadDeps, auditCsv, auditFilterChoices, readAuditPage } from '../../audit/audit-log.service.js';
import { type AuditQuery, auditQueryString, FILTER_FIELDS, parseAuditQuery } from '../../audit/audit.schema.js';
import type { Clock } from '../../lib/clock.js';
import { authorize } from '../../policy/policy.js';
import { sendCsv } from '../send-csv.js';
import { workspaceOf } from './admin-session.js';
import { type RenderDeps, renderAdminPage } from './render.js';

export type AuditPagesDeps = RenderDeps & AuditReadDeps & { clock: Clock };

/**
 * The Audit log: GET /audit (the page), /audit/entries (its filters and entries, for htmx, which
 * pushes the page's URL) and /audit/export (the same filters as CSV). Filters and the page are in
 * the query string, so a view can be shared; a filter that does not hold is answered 400 with its
 * message beside the field.
 */
export function bindAuditPages(router: Router, deps: AuditPagesDeps) {
  router.get('/audit', async (req, res) => {
    const view = await auditView(req, res);
    await renderAdminPage(deps, req, res, 'pages/admin/audit', { title: 'Audit log', section: 'audit', status: view.invalid ? 400 : 200, view });
  });

  router.get('/audit/entries', async (req, res) => {
    const view = await auditView(req, res);
    res.setHeader('hx-push-url', view.urls.self);
    res.status(view.invalid ? 400 : 200).type('html').send(deps.views.render('partials/admin/audit/view', { view }));
  });

  router.get('/audit/export', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'audit.read');
    const query = parseAuditQuery(req.query as Record<string, unknown>);
    if (Object.keys(query.errors).length > 0) {
      // The page, with the messages beside the fields, rather than a file of nothing.
      const view = await auditView(req, res);
      return renderAdminPage(deps, req, res, 'pages/admin/audit', { title: 'Audit log', section: 'audit', status: 400, view });
    }
    await sendCsv(res, `audit-${new Date(deps.clock.now()).toISOString().slice(0, 10)}.csv`, auditCsv(deps, workspace.workspaceId, query.filter, true));
  });

  async function auditView(req: Request, res: Response) {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'audit.read');
    const query = parseAuditQuery(req.query as Record<string, unknown>);
    const invalid = Object.keys(query.errors).length > 0;
    const [choices, page] = await Promise.all([
      auditFilterChoices(deps, workspace.workspaceId, query.values),
      invalid ? undefined : readAuditPage(deps, workspace.workspaceId, query.filter, query.cursor),
    ]);
    return {
      values: query.values,
      errors: query.errors,
      invalid,
      choices,
      page,
      filtered: FILTER_FIELDS.some((f) => query.values[f] !== ''),
      paged: query.cursor !== undefined,
      urls: urlsOf(query, page),
    };
  }
}

/** Each address as a page (href, and what htmx pushes) and as the fragment htmx fetches. */
function urlsOf(query: AuditQuery, page: { older?: string; newer?: string } | undefined) {
  const at = (where?: { before: string } | { after: string }) => ({
    page: `/admin/audit${auditQueryString(query.values, where)}`,
    fragment: `/admin/audit/entries${auditQueryString(query.values, where)}`,
  });
  const c = query.cursor;
  return {
    self: at(c ? (c.towards === 'older' ? { before: `${c.at}-${c.id}` } : { after: `${c.at}-${c.id}` }) : undefined).page,
    newest: at(),
    older: page?.older ? at({ before: page.older }) : undefined,
    newer: page?.newer ? at({ after: page.newer }) : undefined,
    all: { page: '/admin/audit', fragment: '/admin/audit/entries' },
    export: `/admin/audit/export${auditQueryString(query.values)}`,
  };
}
