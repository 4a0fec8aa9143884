import type { Request, Router } from 'express';
import { renderResponsiveClickChart } from '../../analytics/click-chart.js';
import { isCalendarDate } from '../../analytics/stats.schema.js';
import { type AnalyticsDeps, linkStats, listClicks, workspaceStats } from '../../analytics/stats.service.js';
import { withCountryLabels } from './country-names.js';
import { DAY_MS, HOUR_MS } from '../../clicks/rollups.js';
import { AppError, errors } from '../../lib/errors.js';
import { LINK_ID_PATTERN } from '../../links/links.schema.js';
import { getLink } from '../../links/links.service.js';
import type { LinkDeps } from '../../links/links.service.js';
import { allows, authorize } from '../../policy/policy.js';
import { qrOptionsSchema, sizeProblem } from '../../qr/qr.js';
import { linkQr, type QrDeps } from '../../qr/qr.service.js';
import { findQrLogo, logoForCodes } from '../../qr/logos.service.js';
import { logoBlock } from './qr-logo.routes.js';
import { setFlash } from '../../sessions/sessions.service.js';
import { planOfWorkspace } from '../../workspaces/plans.js';
import { parseInput } from '../middleware/validate.js';
import { redirectTo, workspaceOf } from './admin-session.js';
import { refusalFor } from './plan-advice.js';
import { type RenderDeps, renderAdminPage } from './render.js';
import { sendQrImage } from '../qr-response.js';

export type AnalyticsPagesDeps = RenderDeps & AnalyticsDeps & QrDeps & LinkDeps;

/** The range picker's presets; `custom` takes from/to dates. Hours for short ranges, days beyond. */
const PRESETS = {
  '24h': { label: '24 hours', span: 24 * HOUR_MS, interval: 'hour' },
  '7d': { label: '7 days', span: 7 * DAY_MS, interval: 'hour' },
  '30d': { label: '30 days', span: 30 * DAY_MS, interval: 'day' },
  '90d': { label: '90 days', span: 90 * DAY_MS, interval: 'day' },
} as const;
type Preset = keyof typeof PRESETS;
const DEFAULT_PRESET: Preset = '30d';
/** Custom ranges: at most this many days (the chart stays readable, the series bounded). */
const MAX_CUSTOM_DAYS = 731;

interface RangeView {
  preset: Preset | 'custom';
  presets: { key: Preset; label: string; current: boolean }[];
  from: number;
  to: number;
  interval: 'hour' | 'day';
  /** The date inputs: first and last day shown (to is exclusive, so its day is the one before). */
  fromDate: string;
  toDate: string;
  label: string;
  error?: { field: 'from' | 'to'; message: string };
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const ceilTo = (ms: number, step: number) => Math.ceil(ms / step) * step;

/**
 * ?range=24h|7d|30d|90d, or ?from=YYYY-MM-DD&to=YYYY-MM-DD (both days included). Presets end at
 * the next whole hour (short ones) or the end of today (UTC), so the workspace rollups apply.
 */
function rangeOf(query: Request['query'], now: number): RangeView {
  const presets = (current: string) => (Object.keys(PRESETS) as Preset[]).map((key) => ({ key, label: PRESETS[key].label, current: key === current }));
  const preset = (key: Preset, error?: RangeView['error']): RangeView => {
    const p = PRESETS[key];
    // The end of the current hour or day, so what happened this very millisecond is in.
    const to = ceilTo(now + 1, p.interval === 'hour' ? HOUR_MS : DAY_MS);
    const from = to - p.span;
    return { preset: key, presets: presets(key), from, to, interval: p.interval, fromDate: isoDate(from), toDate: isoDate(to - 1), label: `Last ${p.label}`, error };
  };
  const fromText = typeof query.from === 'string' ? query.from.trim() : '';
  const toText = typeof query.to === 'string' ? query.to.trim() : '';
  if (fromText === '' && toText === '') {
    const asked = typeof query.range === 'string' && query.range in PRESETS ? (query.range as Preset) : DEFAULT_PRESET;
    return preset(asked);
  }
  const invalid = (field: 'from' | 'to', message: string) => ({ ...preset(DEFAULT_PRESET, { field, message }), fromDate: fromText, toDate: toText });
  if (!DATE.test(fromText) || !isCalendarDate(fromText)) return invalid('from', 'Enter a start date that exists (YYYY-MM-DD).');
  if (!DATE.test(toText) || !isCalendarDate(toText)) return invalid('to', 'Enter an end date that exists (YYYY-MM-DD).');
  const from = Date.parse(`${fromText}T00:00:00Z`);
  const to = Date.parse(`${toText}T00:00:00Z`) + DAY_MS;
  if (from >= to) return invalid('to', 'The end date must be on or after the start date.');
  if (to - from > MAX_CUSTOM_DAYS * DAY_MS) return invalid('to', `Choose at most ${MAX_CUSTOM_DAYS} days.`);
  const days = (to - from) / DAY_MS;
  return {
    preset: 'custom',
    presets: presets('custom'),
    from,
    to,
    interval: days <= 3 ? 'hour' : 'day',
    fromDate: fromText,
    toDate: toText,
    label: days === 1 ? fromText : `${fromText} to ${toText}`,
  };
}

/** The plan's refusal, shown as a notice in the page rather than an error page. */
function planRefusal(e: unknown): string {
  if (e instanceof AppError && e.code === 'plan_feature_disabled') return e.detail;
  throw e;
}

const percent = (part: number, whole: number) => (whole === 0 ? '0%' : `${Math.round((part / whole) * 100)}%`);

function summaryCards(s: { total: number; human: number; bots: number; qr: number }) {
  return [
    { key: 'human', label: 'Human clicks', value: s.human, note: s.total === 0 ? '' : `${percent(s.human, s.total)} of all` },
    { key: 'qr', label: 'QR scans', value: s.qr, note: s.total === 0 ? '' : `${percent(s.qr, s.total)} of all` },
    { key: 'bots', label: 'Bots and previews', value: s.bots, note: 'Crawlers, link previews, HEAD' },
    { key: 'total', label: 'All requests', value: s.total, note: '' },
  ];
}

/**
 * /admin/analytics (the workspace over a range) and /admin/links/:id (one link: chart, referrer,
 * device, browser and OS tables, recent clicks, and its QR code).
 *   GET  /analytics           page
 *   GET  /links/:id           page
 *   GET  /links/:id/qr        the QR image (?format=svg|png&size=…&download=1); counts the link as a QR code once
 *   POST /links/:id/qr        "Create QR code": counts it, then back to the page
 */
export function bindAnalyticsPages(router: Router, deps: AnalyticsPagesDeps) {
  router.get('/analytics', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'analytics.read');
    const range = rangeOf(req.query, deps.clock.now());
    let unavailable: string | undefined;
    let stats;
    try {
      stats = await workspaceStats(deps, workspace.workspaceId, { from: range.from, to: range.to, interval: range.interval, limit: 10 });
    } catch (e) {
      unavailable = planRefusal(e);
    }
    await renderAdminPage(deps, req, res, 'pages/admin/analytics', {
      title: 'Analytics',
      section: 'analytics',
      status: range.error ? 422 : 200,
      workspaceName: workspace.name,
      range,
      unavailable,
      cards: stats && summaryCards(stats),
      chart: stats && renderResponsiveClickChart(stats.series, { interval: stats.interval, title: `Clicks in ${workspace.name}` }),
      topLinks: stats?.topLinks.map((t) => ({ ...t, shortLabel: t.link.shortUrl.replace(/^https?:\/\//, '') })),
      countries: stats && withCountryLabels(stats.countries),
    });
  });

  router.get('/links/:id', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'analytics.read');
    const link = await getLink(deps, workspace.workspaceId, linkIdOf(req));
    const range = rangeOf(req.query, deps.clock.now());
    let unavailable: string | undefined;
    let stats;
    let recent;
    try {
      [stats, recent] = await Promise.all([
        linkStats(deps, workspace.workspaceId, link.id, { from: range.from, to: range.to, interval: range.interval }),
        listClicks(deps, workspace.workspaceId, link.id, { limit: 10 }).then((page) => page.data),
      ]);
    } catch (e) {
      unavailable = planRefusal(e);
    }
    const qr = await qrView(req, link, workspace.workspaceId);
    await renderAdminPage(deps, req, res, 'pages/admin/link', {
      title: `/${link.slug}`,
      section: 'links',
      status: range.error ? 422 : 200,
      link,
      range,
      canWrite: allows(actor, 'links.write'),
      unavailable,
      cards: stats && summaryCards(stats),
      chart: stats && renderResponsiveClickChart(stats.series, { interval: stats.interval, title: link.title ?? `/${link.slug}` }),
      facets: stats && [
        { key: 'referrers', title: 'Referrers', rows: stats.referrers, empty: 'Direct / none' },
        { key: 'devices', title: 'Devices', rows: stats.devices, empty: '' },
        { key: 'browsers', title: 'Browsers', rows: stats.browsers, empty: '' },
        { key: 'os', title: 'Operating systems', rows: stats.os, empty: '' },
        { key: 'countries', title: 'Countries', rows: withCountryLabels(stats.countries), empty: 'Unknown' },
      ],
      recent,
      qr,
      canCreateQr: allows(actor, 'links.write'),
    });
  });

  router.get('/links/:id/qr', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'links.read');
    const { download, ...options } = req.query;
    const image = await linkQr(deps, actor, workspace.workspaceId, linkIdOf(req), parseInput(qrOptionsSchema, options, 'query'));
    sendQrImage(req, res, image, download === '1' ? 'attachment' : 'inline');
  });

  // Creating the code uses one of the plan's QR codes: a change, so members and up. The image
  // route creates it too on a first request, and refuses that to a viewer (linkQr asks the policy).
  router.post('/links/:id/qr', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'links.write');
    const id = linkIdOf(req);
    try {
      await linkQr(deps, actor, workspace.workspaceId, id, parseInput(qrOptionsSchema, {}, 'query'));
    } catch (e) {
      if (!(e instanceof AppError) || (e.code !== 'plan_limit_reached' && e.code !== 'plan_feature_disabled')) throw e;
      await setFlash(deps, workspaceOf(res).session, { kind: 'error', ...refusalFor(res, e.detail) });
    }
    redirectTo(req, res, `/admin/links/${id}#qr`);
  });

  /** The QR card: the plan's word on QR codes, whether this link has one yet, and the chosen look. */
  async function qrView(req: Request, link: { id: string; qrUrl: string }, workspaceId: string) {
    const plan = await planOfWorkspace(deps.db, workspaceId);
    if (plan.features.qr === false) return { unavailable: `The "${plan.name}" plan of this workspace does not include QR codes.` };
    // Undefined when the link was deleted since the page read it: then it has no code either.
    const row = await deps.db.row<{ at: number | null }>('select qr_generated_at as at from links where id = ?', link.id);
    const asked = { size: str(req.query.size), ecc: str(req.query.ecc), fg: str(req.query.fg), bg: str(req.query.bg), logo: str(req.query.logo) };
    const given = Object.fromEntries(Object.entries(asked).filter(([, v]) => v !== ''));
    const parsed = qrOptionsSchema.safeParse(given);
    // The link's own logo (its block on the card), and the one its codes are drawn with (its own, else the workspace's).
    const [ownLogo, logo] = await Promise.all([findQrLogo(deps, workspaceId, link.id), logoForCodes(deps, workspaceId, link.id)]);
    const errorsByField: Record<string, string> = {};
    if (!parsed.success) {
      for (const issue of parsed.error.issues) errorsByField[String(issue.path[0] ?? 'size')] ??= besideField(issue.message);
    } else {
      // A size scanners cannot read for this link: the words the image route would answer.
      const tooSmall = sizeProblem(link.qrUrl, parsed.data, parsed.data.logo === 'none' ? undefined : logo);
      if (tooSmall) errorsByField.size = besideField(tooSmall);
    }
    // The preview keeps to the last valid look: every option from its default when any is wrong.
    const options = parsed.success && Object.keys(errorsByField).length === 0 ? parsed.data : qrOptionsSchema.parse({});
    const query = (format: 'svg' | 'png', extra: Record<string, string> = {}) =>
      `/admin/links/${link.id}/qr?${new URLSearchParams({ format, size: String(options.size), ecc: options.ecc, fg: options.fg, bg: options.bg, margin: String(options.margin), ...(options.logo ? { logo: options.logo } : {}), ...extra })}`;
    return {
      created: row !== undefined && row.at !== null,
      values: { size: asked.size || String(options.size), ecc: errorsByField.ecc ? options.ecc : asked.ecc || options.ecc, fg: `#${(asked.fg || options.fg).replace(/^#/, '')}`, bg: `#${(asked.bg || options.bg).replace(/^#/, '')}` },
      errors: errorsByField,
      preview: query('svg'),
      downloadSvg: query('svg', { download: '1' }),
      downloadPng: query('png', { download: '1' }),
      limit: plan.limits.qrCodes ?? null,
      logo: {
        // Whose logo the codes show: 'link', 'workspace', or undefined (none); `without`: left out on request.
        drawn: ownLogo ? 'link' : logo ? 'workspace' : undefined,
        without: options.logo === 'none',
        // canEdit and csrf are the page's.
        block: logoBlock(link.id, ownLogo, { canEdit: false, csrf: '' }),
      },
    };
  }
}

const str = (v: unknown) => (typeof v === 'string' ? v.trim() : '');

/** The form's labels of the colours the image route's messages name by their parameters. */
const COLOUR_LABELS: Record<string, string> = { fg: 'the colour', bg: 'the background' };

/**
 * A message of the QR options (written for the image route, whose parameters it names) as the
 * form shows it beside its field: a sentence, naming the other colour as the form labels it.
 */
function besideField(message: string): string {
  const named = message.replace(/\b(fg|bg)\b/g, (name) => COLOUR_LABELS[name]!);
  return named.charAt(0).toUpperCase() + named.slice(1);
}

function linkIdOf(req: Request): string {
  const id = req.params.id;
  if (typeof id !== 'string' || !LINK_ID_PATTERN.test(id)) throw errors.notFound(`Link ${String(id)}`);
  return id;
}
