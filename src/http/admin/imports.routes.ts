import type { Request, Response, Router } from 'express';
import { baseHostname } from '../../links/link-presenter.js';
import { exportClicks } from '../../analytics/stats.service.js';
import { clicksExportQuery } from '../../analytics/stats.schema.js';
import type { AnalyticsDeps } from '../../analytics/stats.service.js';
import { listDomains, type DomainDeps } from '../../domains/domains.service.js';
import { IMPORT_FORMATS } from '../../imports/parse-import.js';
import {
  createImportBody,
  getImport,
  importIdOf as importId,
  type ImportDeps,
  listImports,
  runDryRun,
  startImport,
} from '../../imports/imports.service.js';
import { AppError } from '../../lib/errors.js';
import { linksCsv } from '../../links/links-export.js';
import { adminExportLinksQuery } from '../../links/links.schema.js';
import { authorize } from '../../policy/policy.js';
import { parseInput } from '../middleware/validate.js';
import { sendCsv } from '../send-csv.js';
import { isHtmx, redirectTo, workspaceOf } from './admin-session.js';
import { setFlash } from '../../sessions/sessions.service.js';
import { type RenderDeps, renderAdminPage } from './render.js';

export type ImportPagesDeps = RenderDeps & ImportDeps & DomainDeps & AnalyticsDeps;

/** The largest file the import form takes: bigger ones go through the API or the CLI (64 MB). */
export const MAX_FORM_IMPORT_BYTES = 16 * 1024 * 1024;
/** That file percent-encoded by the browser (a line break or a comma takes 3 bytes). */
export const IMPORT_FORM_BYTES = 3 * MAX_FORM_IMPORT_BYTES;

const FORMAT_LABELS: Record<(typeof IMPORT_FORMATS)[number], string> = {
  csv: 'CSV (LinkQR export, or any CSV with a URL column)',
  bitly: 'Bitly export (CSV or JSON)',
  shlink: 'Shlink export (CSV or JSON)',
  kutt: 'Kutt (JSON from its API)',
  yourls: 'YOURLS export (CSV or JSON)',
};

const today = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * Links → Import and the downloads:
 *   GET  /links/import          the form (format, file or pasted text, domain), with the last imports
 *   POST /links/import          queues a dry run (or a real import) → the import's page
 *   GET  /imports/:id           progress (polled by htmx while it runs) and the report
 *   POST /imports/:id/run       runs a finished dry run for real → the new import's page
 *   GET  /links/export          the links as CSV (the list's filters), with a BOM for Excel
 *   GET  /analytics/export      the clicks of the page's range as CSV
 */
export function bindImportPages(router: Router, deps: ImportPagesDeps) {
  router.get('/links/import', (req, res) => importForm(req, res));

  router.post('/links/import', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'links.write');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const values = { format: text(body.format), data: text(body.data), domain: text(body.domain), dryRun: body.dryRun !== 'off' };
    try {
      const input = parseInput(createImportBody, { format: values.format, data: values.data, dryRun: values.dryRun, ...(values.domain ? { domain: values.domain } : {}) }, 'body');
      const job = await startImport(deps, workspace.workspaceId, res.locals.change!, input);
      return redirectTo(req, res, `/admin/imports/${job.id}`);
    } catch (e) {
      if (!(e instanceof AppError) || e.status !== 400) throw e;
      const errs: Record<string, string> = {};
      for (const fe of e.errors ?? []) errs[fe.field] ??= fe.message.charAt(0).toUpperCase() + fe.message.slice(1);
      await importForm(req, res, { values, errors: errs }, 422);
    }
  });

  router.get('/imports/:id', async (req, res) => {
    const { workspace } = workspaceOf(res);
    const id = importId(req.params.id);
    // With the first rows it did not import, in file order: what the person has to look at.
    const job = await getImport(deps, workspace.workspaceId, id);
    const data = { job, report: job.problems, more: job.skipped > job.problems.length, csrfToken: workspaceOf(res).session.csrf_token };
    // While it runs, htmx asks again every second for the progress fragment.
    if (isHtmx(req)) return res.type('html').send(deps.views.render('partials/admin/imports/job', data));
    await renderAdminPage(deps, req, res, 'pages/admin/import-job', { title: job.dryRun ? 'Import check' : 'Import', section: 'links', ...data });
  });

  router.post('/imports/:id/run', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'links.write');
    const id = importId(req.params.id);
    try {
      const job = await runDryRun(deps, workspace.workspaceId, res.locals.change!, id);
      redirectTo(req, res, `/admin/imports/${job.id}`);
    } catch (e) {
      // A second click on "Import N links", or a check too old: said on the check's page.
      if (!(e instanceof AppError) || (e.code !== 'import_not_runnable' && e.code !== 'imports_in_progress')) throw e;
      await setFlash(deps, workspaceOf(res).session, { kind: 'error', text: e.detail });
      redirectTo(req, res, `/admin/imports/${id}`);
    }
  });

  router.get('/links/export', async (req, res) => {
    const { workspace } = workspaceOf(res);
    // The Links page's filters: `status` as its table shows links.
    const { q, tag, status } = parseInput(adminExportLinksQuery, pickFilters(req), 'query');
    await sendCsv(res, `links-${today(deps.clock.now())}.csv`, linksCsv(deps, workspace.workspaceId, { q, tag, state: status && { is: status, at: deps.clock.now() } }, true));
  });

  router.get('/analytics/export', async (req, res) => {
    const { workspace } = workspaceOf(res);
    const from = typeof req.query.from === 'string' ? req.query.from : undefined;
    const to = typeof req.query.to === 'string' ? req.query.to : undefined;
    const query = parseInput(clicksExportQuery, { ...(from ? { from } : {}), ...(to ? { to } : {}) }, 'query');
    const { range, lines } = await exportClicks(deps, workspace.workspaceId, query);
    await sendCsv(res, `clicks-${today(range.from)}-to-${today(range.to - 1)}.csv`, withBom(lines));
  });

  async function importForm(req: Request, res: Response, form?: { values: Record<string, unknown>; errors: Record<string, string> }, status = 200) {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'links.write');
    const [domains, recent] = await Promise.all([listDomains(deps, workspace.workspaceId, { limit: 100 }), listImports(deps, workspace.workspaceId, 10)]);
    await renderAdminPage(deps, req, res, 'pages/admin/import', {
      title: 'Import links',
      section: 'links',
      status,
      formats: IMPORT_FORMATS.map((f) => ({ value: f, label: FORMAT_LABELS[f] })),
      domains: [baseHostname(deps.baseUrl()), ...domains.data.map((d) => d.hostname)],
      form: form ?? { values: { format: 'csv', data: '', domain: '', dryRun: true }, errors: {} },
      recent,
    });
  }
}

const text = (v: unknown) => (typeof v === 'string' ? v : '');


/** The Links page's filters as the export takes them (blank ones left out). */
function pickFilters(req: Request) {
  const out: Record<string, string> = {};
  for (const k of ['q', 'tag', 'status']) {
    const v = req.query[k];
    if (typeof v === 'string' && v.trim() !== '') out[k] = v;
  }
  return out;
}

async function* withBom(lines: AsyncIterable<string>) {
  let first = true;
  for await (const line of lines) {
    yield first ? `\uFEFF${line}` : line;
    first = false;
  }
}
