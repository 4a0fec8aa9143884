import type { Request, Response, Router } from 'express';
import { baseHostname, type Link, linkState } from '../../links/link-presenter.js';
import { adminListLinksQuery, createLinkBody, LINK_ID_PATTERN, updateLinkBody } from '../../links/links.schema.js';
import { createLink, deleteLink, getLink, type LinkDeps, listLinks, updateLink } from '../../links/links.service.js';
import { listLinkTags } from '../../links/links.repo.js';
import { type DomainDeps, listDomains } from '../../domains/domains.service.js';
import { AppError, errors } from '../../lib/errors.js';
import { allows, authorize } from '../../policy/policy.js';
import { setFlash } from '../../sessions/sessions.service.js';
import { parseInput } from '../middleware/validate.js';
import { isHtmx, redirectTo, workspaceOf } from './admin-session.js';
import { refusalFor } from './plan-advice.js';
import { type RenderDeps, renderAdminPage } from './render.js';

export type LinksPagesDeps = RenderDeps & LinkDeps & DomainDeps;

export const LINKS_PAGE_SIZE = 25;

/** One row of the form's targets: a device ('' any), a country ('' any) and a URL, as typed. */
export interface TargetRow {
  device: string;
  country: string;
  url: string;
}

/** What the link form shows: the values as typed, and a message beside each field the server refused. */
export interface LinkFormState {
  values: Record<LinkField, string> & { targets: TargetRow[] };
  errors: Partial<Record<LinkField | 'targets' | 'form', string>>;
  /** The link being edited has a password (the form never shows it). */
  passwordProtected?: boolean;
  /** The link just created, for the "created" notice above an emptied form. */
  created?: Link | undefined;
  /** The domains a link may live on (the base URL's host first); the field is shown when there is a choice. */
  domains?: string[];
  /** `errors.form` is a plan's refusal and the user an instance admin: it links to the plans (src/http/admin/plan-advice.ts). */
  changePlan?: boolean;
}

const FIELDS = ['url', 'domain', 'slug', 'title', 'tags', 'expiresAt', 'expiredUrl', 'maxClicks', 'redirectCode', 'forwardQuery', 'password', 'removePassword'] as const;
type LinkField = (typeof FIELDS)[number];

const EMPTY_FORM: LinkFormState['values'] = {
  url: '', domain: '', slug: '', title: '', tags: '', expiresAt: '', expiredUrl: '', maxClicks: '', redirectCode: '302', forwardQuery: 'on', password: '', removePassword: '', targets: [],
};

/**
 * /admin/links: the table (searched as you type, more rows on demand), the create form, the edit
 * dialog, disable/enable and delete. Each route names the fragment it answers htmx with; without
 * JavaScript the same routes answer whole pages and redirects.
 *   GET  /links                 page (plain ?q=&after= pages without JavaScript)
 *   GET  /links/table           fragment: partials/admin/links/table (search, links-changed)
 *   GET  /links/rows            fragment: partials/admin/links/rows (Load more)
 *   POST /links                 fragment: partials/admin/links/create-form (+ HX-Trigger links-changed)
 *   GET  /links/:id/edit        fragment: partials/admin/links/edit-form (in the dialog) or a page
 *   POST /links/:id             fragment: the row out of band, dialog closed; or the form with errors
 *   POST /links/:id/status      fragment: partials/admin/links/row
 *   POST /links/:id/delete      empty (the row is removed)
 */
export function bindLinksPages(router: Router, deps: LinksPagesDeps) {
  /** The base URL's host, then the workspace's domains. */
  const domainChoices = async (workspaceId: string) => [
    baseHostname(deps.baseUrl()),
    ...(await listDomains(deps, workspaceId, { limit: 100 })).data.map((d) => d.hostname),
  ];

  router.get('/links', async (req, res) => {
    const view = await tableView(req, res);
    const domains = await domainChoices(workspaceOf(res).workspace.workspaceId);
    await renderAdminPage(deps, req, res, 'pages/admin/links', { title: 'Links', section: 'links', ...view, form: { values: EMPTY_FORM, errors: {}, domains } });
  });

  router.get('/links/table', async (req, res) => {
    const view = await tableView(req, res, { withTagChoices: false });
    // The address bar follows the search and filters, so a reload or a shared URL shows the same list.
    res.setHeader('hx-replace-url', pageUrl(view.filters, undefined));
    renderFragment(res, 'partials/admin/links/table', view);
  });

  router.get('/links/rows', async (req, res) => {
    renderFragment(res, 'partials/admin/links/rows', await tableView(req, res, { withTagChoices: false }));
  });

  router.post('/links', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'links.write');
    const values = formValues(req);
    let created: Link;
    try {
      created = await createLink(deps, workspace.workspaceId, res.locals.change!, parseInput(createLinkBody, toCreateInput(values), 'body'));
    } catch (e) {
      const errs = formErrors(e);
      const refusal = errs.form === undefined ? undefined : refusalFor(res, errs.form);
      if (refusal) errs.form = refusal.text;
      const form: LinkFormState = { values, errors: errs, domains: await domainChoices(workspace.workspaceId), changePlan: refusal?.changePlan };
      if (!isHtmx(req)) {
        const view = await tableView(req, res);
        return renderAdminPage(deps, req, res, 'pages/admin/links', { title: 'Links', section: 'links', status: 422, ...view, form });
      }
      return renderFragment(res, 'partials/admin/links/create-form', { form }, 422);
    }
    if (!isHtmx(req)) {
      await setFlash(deps, workspaceOf(res).session, { kind: 'ok', text: `Created ${created.shortUrl}` });
      return redirectTo(req, res, '/admin/links');
    }
    res.setHeader('hx-trigger', JSON.stringify({ 'links-changed': { id: created.id } }));
    // The next link most likely goes where this one went.
    const domains = await domainChoices(workspace.workspaceId);
    renderFragment(res, 'partials/admin/links/create-form', { form: { values: { ...EMPTY_FORM, domain: created.domain }, errors: {}, created, domains } }, 201);
  });

  router.get('/links/:id/edit', async (req, res) => {
    const { link, workspaceId } = await linkForWrite(req, res);
    const form = { values: valuesOf(link), errors: {}, domains: await domainChoices(workspaceId), passwordProtected: link.passwordProtected };
    if (isHtmx(req)) return renderFragment(res, 'partials/admin/links/edit-form', { link, form });
    await renderAdminPage(deps, req, res, 'pages/admin/link-edit', { title: `Edit /${link.slug}`, section: 'links', link, form });
  });

  router.post('/links/:id', async (req, res) => {
    const { link, workspaceId } = await linkForWrite(req, res);
    const values = formValues(req);
    let updated: Link;
    try {
      const input = parseInput(updateLinkBody, toUpdateInput(values), 'body');
      const changed = Object.fromEntries(Object.entries(input).filter(([k, v]) => !sameValue(link, k, v)));
      updated = Object.keys(changed).length === 0 ? link : await updateLink(deps, workspaceId, res.locals.change!, link.id, changed);
    } catch (e) {
      const form = { values, errors: formErrors(e), domains: await domainChoices(workspaceId), passwordProtected: link.passwordProtected };
      if (!isHtmx(req)) return renderAdminPage(deps, req, res, 'pages/admin/link-edit', { title: `Edit /${link.slug}`, section: 'links', status: 422, link, form });
      return renderFragment(res, 'partials/admin/links/edit-form', { link, form }, 422);
    }
    if (!isHtmx(req)) {
      await setFlash(deps, workspaceOf(res).session, { kind: 'ok', text: `Saved ${updated.shortUrl}` });
      return redirectTo(req, res, '/admin/links');
    }
    // The form leaves the dialog (which closes), and the row is redrawn where it is.
    res.setHeader('hx-trigger', JSON.stringify({ 'close-dialog': null }));
    renderFragment(res, 'partials/admin/links/row-oob', rowData(deps, updated, true));
  });

  router.post('/links/:id/status', async (req, res) => {
    const { link, workspaceId } = await linkForWrite(req, res);
    const status = (req.body as Record<string, unknown>)?.status;
    if (status !== 'active' && status !== 'disabled') throw errors.badRequest('invalid_status', 'Status must be active or disabled.');
    const updated = status === link.status ? link : await updateLink(deps, workspaceId, res.locals.change!, link.id, { status });
    if (!isHtmx(req)) {
      await setFlash(deps, workspaceOf(res).session, { kind: 'ok', text: `${status === 'active' ? 'Enabled' : 'Disabled'} ${updated.shortUrl}` });
      return redirectTo(req, res, '/admin/links');
    }
    renderFragment(res, 'partials/admin/links/row', rowData(deps, updated, true));
  });

  router.post('/links/:id/delete', async (req, res) => {
    const { link, workspaceId } = await linkForWrite(req, res);
    await deleteLink(deps, workspaceId, res.locals.change!, link.id);
    if (!isHtmx(req)) {
      await setFlash(deps, workspaceOf(res).session, { kind: 'ok', text: `Deleted ${link.shortUrl}` });
      return redirectTo(req, res, '/admin/links');
    }
    res.status(200).type('html').send('');
  });

  /**
   * The list as asked by ?q=&status=&tag=&after= (a bad cursor, an overlong search or an unknown
   * status is a 400 page, as in the API). `status` is what the table's badges say (expired and
   * limit_reached too), not the stored field the API filters on. Blank parameters are what the
   * plain GET form sends for "All".
   * The tag filter's choices cost a scan of the workspace's tags: only whole pages draw the toolbar.
   */
  async function tableView(req: Request, res: Response, { withTagChoices = true } = {}) {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'links.read');
    const query = parseInput(
      adminListLinksQuery,
      {
        limit: String(LINKS_PAGE_SIZE),
        q: text(req.query.q) || undefined,
        status: text(req.query.status) || undefined,
        tag: text(req.query.tag) || undefined,
        after: text(req.query.after) || undefined,
      },
      'query',
    );
    const [page, tags] = await Promise.all([
      listLinks(deps, workspace.workspaceId, { ...query, status: undefined, state: query.status }),
      withTagChoices ? listLinkTags(deps.db, workspace.workspaceId) : ([] as string[]),
    ]);
    const canWrite = allows(actor, 'links.write');
    const filters = { q: query.q ?? '', status: query.status ?? '', tag: query.tag ?? '' };
    // A tag no link carries any more still shows as chosen, so the list is never filtered invisibly.
    if (withTagChoices && filters.tag && !tags.includes(filters.tag)) tags.unshift(filters.tag);
    return {
      q: filters.q,
      // Not spread: `status` beside the page's data would be taken for the HTTP status.
      filters,
      tags,
      after: query.after,
      canWrite,
      rows: page.data.map((l) => rowData(deps, l, canWrite)),
      nextCursor: page.nextCursor,
      moreUrl: page.nextCursor ? pageUrl(filters, page.nextCursor) : undefined,
      moreRowsUrl: page.nextCursor ? pageUrl(filters, page.nextCursor, '/admin/links/rows') : undefined,
      newestUrl: pageUrl(filters, undefined),
    };
  }

  /** The link a change is about. A role that may not write is refused before learning whether the id exists. */
  async function linkForWrite(req: Request, res: Response) {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'links.write');
    const id = req.params.id;
    if (typeof id !== 'string' || !LINK_ID_PATTERN.test(id)) throw errors.notFound(`Link ${String(id)}`);
    return { link: await getLink(deps, workspace.workspaceId, id), workspaceId: workspace.workspaceId };
  }

  function renderFragment(res: Response, partial: string, data: Record<string, unknown>, status = 200) {
    const csrfToken = workspaceOf(res).session.csrf_token;
    res.status(status).type('html').send(deps.views.render(partial, { ...data, csrfToken }));
  }
}

const text = (v: unknown) => (typeof v === 'string' ? v : '');

/** A list's address: only the filters in use, so "All" leaves no empty parameter behind. */
function pageUrl(filters: { q: string; status: string; tag: string }, after: string | undefined, path = '/admin/links') {
  const params = new URLSearchParams();
  if (filters.q) params.set('q', filters.q);
  if (filters.status) params.set('status', filters.status);
  if (filters.tag) params.set('tag', filters.tag);
  if (after) params.set('after', after);
  return `${path}${params.size > 0 ? `?${params}` : ''}`;
}

/** Status as a visitor meets it (linkState, which the status filter asks too): a disabled, expired or used-up link does not redirect to its target. */
function effectiveStatus(link: Link, now: number): { key: string; label: string; note?: string } {
  switch (linkState(link, now)) {
    case 'disabled':
      return { key: 'disabled', label: 'Disabled' };
    case 'expired':
      return { key: 'expired', label: 'Expired', note: link.expiredUrl ? 'Sends to the expired URL' : 'Answers 410' };
    case 'limit_reached':
      return { key: 'expired', label: 'Limit reached' };
    case 'active':
      return { key: 'active', label: 'Active' };
  }
}

const DATE = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', year: 'numeric', month: 'short', day: 'numeric' });
const TIME = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', hour: '2-digit', minute: '2-digit' });
const dateOf = (iso: string) => DATE.format(new Date(iso));
const timeOf = (iso: string) => TIME.format(new Date(iso));

/** What a table row shows. */
function rowData(deps: LinkDeps, link: Link, canWrite: boolean) {
  const now = deps.clock.now();
  const destination = (() => {
    try {
      const u = new URL(link.url);
      return { host: u.host, rest: `${u.pathname === '/' ? '' : u.pathname}${u.search}${u.hash}` };
    } catch {
      return { host: link.url, rest: '' };
    }
  })();
  return {
    link,
    canWrite,
    status: effectiveStatus(link, now),
    destination,
    shortLabel: link.shortUrl.replace(/^https?:\/\//, ''),
    shortHost: link.shortUrl.replace(/^https?:\/\//, '').slice(0, -(link.slug.length + 1)),
    created: { date: dateOf(link.createdAt), time: timeOf(link.createdAt) },
    expires: link.expiresAt ? { date: dateOf(link.expiresAt), full: `${dateOf(link.expiresAt)} ${timeOf(link.expiresAt)} UTC` } : undefined,
  };
}

function formValues(req: Request): LinkFormState['values'] {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const values = { ...EMPTY_FORM };
  for (const f of FIELDS) values[f] = text(body[f]);
  // Rows of three repeated fields; a row left wholly blank is no target.
  const list = (v: unknown) => (Array.isArray(v) ? v.map(text) : [text(v)]);
  const [devices, countries, urls] = [list(body.targetDevice), list(body.targetCountry), list(body.targetUrl)];
  values.targets = urls
    .map((url, i) => ({ device: devices[i] ?? '', country: (countries[i] ?? '').trim(), url: url.trim() }))
    .filter((t) => t.device !== '' || t.country !== '' || t.url !== '');
  return values;
}

/** The targets as the API takes them: a blank device or country means any. */
const targetsOf = (rows: TargetRow[]) =>
  rows.map((t) => ({ ...(t.device === '' ? {} : { device: t.device }), ...(t.country === '' ? {} : { country: t.country }), url: t.url }));

/** datetime-local (no zone; the form says UTC) → ISO 8601 the schema accepts. */
function isoFromLocal(v: string) {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(v) ? `${v}:00Z` : /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(v) ? `${v}Z` : v;
}

const numberOrText = (v: string) => (/^-?\d+$/.test(v.trim()) ? Number(v.trim()) : v);
const tagsOf = (v: string) =>
  v
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');

/** The create form as the API's JSON body: blank optional fields are left out. */
function toCreateInput(v: LinkFormState['values']): Record<string, unknown> {
  const out: Record<string, unknown> = { url: v.url };
  if (v.domain !== '') out.domain = v.domain;
  if (v.slug.trim() !== '') out.slug = v.slug.trim();
  if (v.title.trim() !== '') out.title = v.title;
  if (v.tags.trim() !== '') out.tags = tagsOf(v.tags);
  if (v.expiresAt.trim() !== '') out.expiresAt = isoFromLocal(v.expiresAt.trim());
  if (v.expiredUrl.trim() !== '') out.expiredUrl = v.expiredUrl;
  if (v.maxClicks.trim() !== '') out.maxClicks = numberOrText(v.maxClicks);
  if (v.redirectCode !== '') out.redirectCode = numberOrText(v.redirectCode);
  out.forwardQuery = v.forwardQuery === 'on';
  if (v.targets.length > 0) out.targets = targetsOf(v.targets);
  if (v.password !== '') out.password = v.password;
  return out;
}

/** The edit form as a PATCH body: every field sent, a blank optional field clears it. */
function toUpdateInput(v: LinkFormState['values']): Record<string, unknown> {
  return {
    url: v.url,
    // Sent only when the form offered the choice.
    ...(v.domain === '' ? {} : { domain: v.domain }),
    slug: v.slug.trim(),
    title: v.title.trim() === '' ? null : v.title,
    tags: tagsOf(v.tags),
    expiresAt: v.expiresAt.trim() === '' ? null : isoFromLocal(v.expiresAt.trim()),
    expiredUrl: v.expiredUrl.trim() === '' ? null : v.expiredUrl,
    maxClicks: v.maxClicks.trim() === '' ? null : numberOrText(v.maxClicks),
    redirectCode: numberOrText(v.redirectCode),
    forwardQuery: v.forwardQuery === 'on',
    targets: targetsOf(v.targets),
    // Blank keeps the password; the box removes it.
    ...(v.removePassword === 'on' ? { password: null } : v.password !== '' ? { password: v.password } : {}),
  };
}

/** Whether a parsed PATCH field already holds the link's value (so saving an untouched form changes nothing). */
function sameValue(link: Link, field: string, value: unknown): boolean {
  switch (field) {
    case 'expiresAt':
      return (link.expiresAt === null ? null : Date.parse(link.expiresAt)) === value;
    case 'tags':
    case 'targets':
      return JSON.stringify(link[field]) === JSON.stringify(value);
    case 'password':
      return value === null && !link.passwordProtected;
    default:
      return (link as Record<string, unknown>)[field] === value;
  }
}

/** A link as the edit form's values. */
function valuesOf(link: Link): LinkFormState['values'] {
  return {
    url: link.url,
    domain: link.domain,
    slug: link.slug,
    title: link.title ?? '',
    tags: link.tags.join(', '),
    expiresAt: link.expiresAt ? link.expiresAt.slice(0, 16) : '',
    expiredUrl: link.expiredUrl ?? '',
    maxClicks: link.maxClicks === null ? '' : String(link.maxClicks),
    redirectCode: String(link.redirectCode),
    forwardQuery: link.forwardQuery ? 'on' : '',
    password: '',
    removePassword: '',
    targets: link.targets.map((t) => ({ device: t.device ?? '', country: t.country ?? '', url: t.url })),
  };
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** A target row's fields as the form labels them (partials/admin/links/options). */
const TARGET_LABELS: Record<string, string> = { device: 'device', country: 'country code', url: 'URL' };

/**
 * The API's field errors (from the zod schema or the service) beside the form's fields; a refusal
 * without fields (a plan limit) above the form. Anything else is not the form's business.
 */
function formErrors(e: unknown): LinkFormState['errors'] {
  if (!(e instanceof AppError) || e.status >= 500 || e.status === 401) throw e;
  if (e.code === 'insufficient_role' || e.code === 'not_found') throw e;
  const out: LinkFormState['errors'] = {};
  for (const fe of e.errors ?? []) {
    const [head = 'form', index] = fe.field.split('.');
    const field = (FIELDS as readonly string[]).includes(head) || head === 'targets' ? (head as LinkField | 'targets') : 'form';
    const message =
      head === 'tags' && index !== undefined
        ? `Each tag ${fe.message}`
        : head === 'targets' && index !== undefined
          ? `Target ${Number(index) + 1}: ${TARGET_LABELS[fe.field.split('.')[2] ?? ''] ?? 'it'} ${fe.message}`
          : capitalise(fe.message);
    out[field] ??= message;
  }
  if (Object.keys(out).length === 0) out.form = e.detail;
  return out;
}
