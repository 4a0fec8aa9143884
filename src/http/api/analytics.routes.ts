import type { Router } from 'express';
import { clicksExportQuery, linkStatsQuery, listClicksQuery, workspaceStatsQuery } from '../../analytics/stats.schema.js';
import { type AnalyticsDeps, exportClicks, linkStats, listClicks, workspaceStats } from '../../analytics/stats.service.js';
import { sendCsv } from '../send-csv.js';
import { can, principalOf } from '../middleware/auth.js';
import { parseInput } from '../middleware/validate.js';
import { linkId } from './links.routes.js';
import { sendJson } from './send-json.js';

export function bindAnalyticsApi(router: Router, deps: AnalyticsDeps) {
  router.get('/stats', can('analytics.read'), async (req, res) => {
    sendJson(res, 200, await workspaceStats(deps, principalOf(res).workspaceId, parseInput(workspaceStatsQuery, req.query, 'query')));
  });

  router.get('/clicks/export', can('analytics.read'), async (req, res) => {
    const { range, lines } = await exportClicks(deps, principalOf(res).workspaceId, parseInput(clicksExportQuery, req.query, 'query'));
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    await sendCsv(res, `clicks-${day(range.from)}-to-${day(range.to - 1)}.csv`, lines);
  });

  router.get('/links/:id/stats', can('analytics.read'), async (req, res) => {
    const id = linkId(req.params.id);
    sendJson(res, 200, await linkStats(deps, principalOf(res).workspaceId, id, parseInput(linkStatsQuery, req.query, 'query')));
  });

  router.get('/links/:id/clicks', can('analytics.read'), async (req, res) => {
    const id = linkId(req.params.id);
    sendJson(res, 200, await listClicks(deps, principalOf(res).workspaceId, id, parseInput(listClicksQuery, req.query, 'query')));
  });
}
