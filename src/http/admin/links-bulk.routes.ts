import type { Request, Response, Router } from 'express';
import type { Link } from '../../links/link-presenter.js';
import { LINK_ID_PATTERN, updateLinkBody } from '../../links/links.schema.js';
import { changeLinkTags, deleteLink, getLink, type LinkDeps, updateLink } from '../../links/links.service.js';
import { linkCsvHeaderLine, linkToCsvLine } from '../../imports/link-csv.js';
import { AppError, errors } from '../../lib/errors.js';
import { authorize } from '../../policy/policy.js';
import { type Flash, setFlash } from '../../sessions/sessions.service.js';
import { parseInput } from '../middleware/validate.js';
import { sendCsv } from '../send-csv.js';
import { isHtmx, workspaceOf } from './admin-session.js';
import type { RenderDeps } from './render.js';

export type LinksBulkDeps = RenderDeps & LinkDeps;

/** The table shows one page of links (25, more with Load more): a selection is never larger than this. */
export const MAX_BULK_LINKS = 100;

export const BULK_ACTIONS = ['add-tag', 'remove-tag', 'disable', 'enable', 'delete', 'export'] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

/**
 * /admin/links/bulk: one action on the links ticked in the Links table (partials/admin/links/table:
 * the row checkboxes belong to the form #links-bulk through their `form` attribute, as the rows
 * hold forms of their own). Each link goes through the service on its own, so each change is
 * audited and sends its webhook event, and a link that cannot be changed is reported by name
 * while the others are changed. The query string is the list's (?q=&status=&tag=&after=).
 *   POST /links/bulk   htmx: fragment partials/admin/flash into #links-bulk-notice (+ HX-Trigger
 *                      links-changed); plain: 303 to /admin/links?<same query> with a flash.
 *                      action=export answers a CSV download either way (the page's form posts it
 *                      without htmx); a viewer may export, as the API lets links:read list links.
 */
export function bindLinksBulkPages(router: Router, deps: LinksBulkDeps) {
  router.post('/links/bulk', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    // The role first: a viewer learns nothing of the selection's validity or the links' existence.
    authorize(actor, body.action === 'export' ? 'links.read' : 'links.write');
    let request: BulkRequest;
    try {
      request = parseBulkForm(body);
    } catch (e) {
      if (!(e instanceof AppError) || e.status !== 400) throw e;
      return answer(req, res, { kind: 'error', text: e.detail }, 400);
    }
    if (request.action === 'export') {
      // htmx would swap the file into the page: the page's Export button submits the form itself.
      if (isHtmx(req)) return answer(req, res, { kind: 'error', text: 'Export is a download: submit the form without htmx.' }, 400);
      const links = await linksToExport(workspace.workspaceId, request.ids);
      return sendCsv(res, `links-${new Date(deps.clock.now()).toISOString().slice(0, 10)}.csv`, csvOf(links));
    }

    const outcomes: Outcome[] = [];
    for (const id of request.ids) outcomes.push(await applyTo(workspace.workspaceId, res, request, id));
    const changed = outcomes.filter((o) => o.result === 'changed');
    const failed = outcomes.filter((o) => o.result === 'failed');
    const flash: Flash = { kind: failed.length > 0 ? 'error' : 'ok', text: reportOf(request, outcomes) };
    if (failed.length === outcomes.length && failed.every((o) => o.notFound)) {
      // Nothing of this workspace was selected (another workspace's ids, or links deleted meanwhile).
      if (!isHtmx(req)) throw errors.notFound(request.ids.length === 1 ? `Link ${request.ids[0]}` : 'Links');
      return answer(req, res, flash, 404);
    }
    if (isHtmx(req) && changed.length > 0) res.setHeader('hx-trigger', JSON.stringify({ 'links-changed': { ids: changed.map((o) => o.id) } }));
    return answer(req, res, flash, failed.length === outcomes.length ? 422 : 200);
  });

  /** One link: changed, left as it was (it already is what was asked), or failed with a reason. */
  async function applyTo(workspaceId: string, res: Response, request: Exclude<BulkRequest, { action: 'export' }>, id: string): Promise<Outcome> {
    const ctx = res.locals.change!;
    let link: Link | undefined;
    try {
      if (!LINK_ID_PATTERN.test(id)) throw errors.notFound(`Link ${id}`);
      link = await getLink(deps, workspaceId, id);
      switch (request.action) {
        case 'disable':
        case 'enable': {
          const status = request.action === 'disable' ? 'disabled' : 'active';
          if (link.status === status) return outcome(link, 'unchanged');
          await updateLink(deps, workspaceId, ctx, link.id, { status });
          break;
        }
        case 'add-tag':
        case 'remove-tag': {
          const add = request.action === 'add-tag';
          // From the tags the link has when it is written, not when it was read above.
          const changed = await changeLinkTags(deps, workspaceId, ctx, link.id, (tags) => {
            if (tags.includes(request.tag) === add) return undefined;
            const next = add ? [...tags, request.tag] : tags.filter((t) => t !== request.tag);
            // The schema's rules for the whole list too (how many tags a link may have).
            return parseInput(updateLinkBody, { tags: next }, 'body').tags;
          });
          if (!changed) return outcome(link, 'unchanged');
          break;
        }
        case 'delete':
          await deleteLink(deps, workspaceId, ctx, link.id);
          break;
      }
      return outcome(link, 'changed');
    } catch (e) {
      // A refusal of this link (not found, a rule it breaks, storage unavailable) is reported with
      // it, after the links already changed; anything else is a bug, answered 500 and logged.
      if (!(e instanceof AppError)) throw e;
      return { id, label: link ? labelOf(link) : shortId(id), result: 'failed', reason: reasonOf(e), notFound: e.code === 'not_found' };
    }
  }

  /** The selected links of this workspace, in the order selected; ids of no link here are left out. */
  async function linksToExport(workspaceId: string, ids: string[]): Promise<Link[]> {
    const links: Link[] = [];
    for (const id of ids) {
      if (!LINK_ID_PATTERN.test(id)) continue;
      try {
        links.push(await getLink(deps, workspaceId, id));
      } catch (e) {
        if (!(e instanceof AppError) || e.code !== 'not_found') throw e;
      }
    }
    if (links.length === 0) throw errors.notFound(ids.length === 1 ? `Link ${ids[0]}` : 'Links');
    return links;
  }

  /** htmx: the message as a fragment for #links-bulk-notice; plain: back to the same list, with the message as a flash. */
  async function answer(req: Request, res: Response, flash: Flash, status: number) {
    if (isHtmx(req)) return res.status(status).type('html').send(deps.views.render('partials/admin/flash', { flash }));
    await setFlash(deps, workspaceOf(res).session, flash);
    res.redirect(303, listUrl(req.query));
  }
}

/** LinkQR's CSV (src/imports/link-csv.ts), as the whole list's export writes it; the BOM makes Excel read UTF-8. */
async function* csvOf(links: Link[]) {
  yield `\uFEFF${linkCsvHeaderLine()}`;
  for (const link of links) yield linkToCsvLine(link);
}

type BulkRequest =
  | { action: 'add-tag' | 'remove-tag'; ids: string[]; tag: string }
  | { action: 'disable' | 'enable' | 'delete'; ids: string[] }
  | { action: 'export'; ids: string[] };

interface Outcome {
  id: string;
  /** The short URL without its scheme (which domain matters); the id of a link not found. */
  label: string;
  result: 'changed' | 'unchanged' | 'failed';
  reason?: string;
  notFound?: boolean;
}

const text = (v: unknown) => (typeof v === 'string' ? v : '');
const list = (v: unknown) => (Array.isArray(v) ? v.map(text) : [text(v)]);

/** The form as a request, or a 400 whose detail says what to do (the page shows it as it is). */
function parseBulkForm(body: Record<string, unknown>): BulkRequest {
  const action = body.action;
  if (action === undefined || action === '') throw errors.badRequest('no_action', 'Choose what to do with the selected links.');
  if (!(BULK_ACTIONS as readonly unknown[]).includes(action)) {
    throw errors.badRequest('unknown_action', `There is no bulk action “${String(action).slice(0, 40)}”: choose one of ${BULK_ACTIONS.join(', ')}.`);
  }
  const a = action as BulkAction;
  const ids = [...new Set(list(body.ids).filter((id) => id !== ''))];
  if (ids.length === 0) throw errors.badRequest('no_selection', 'Select at least one link: tick the box at the start of its row.');
  if (ids.length > MAX_BULK_LINKS) {
    throw errors.badRequest('too_many_links', `Select at most ${MAX_BULK_LINKS} links at a time (${ids.length} were sent).`);
  }
  if (a === 'delete' && body.confirm !== 'yes') {
    throw errors.badRequest('delete_not_confirmed', `Deleting ${linksCount(ids.length)} needs confirming: tick “Confirm delete”, then apply again. A deleted link's short URL stops working and its click history is removed.`);
  }
  if (a === 'add-tag' || a === 'remove-tag') return { action: a, ids, tag: tagOf(body.tag, a) };
  return { action: a, ids };
}

/** The tag as the link schema takes it (trimmed; no commas, at most 50 characters). */
function tagOf(value: unknown, action: 'add-tag' | 'remove-tag'): string {
  if (typeof value !== 'string' || value.trim() === '') throw errors.badRequest('no_tag', `Type the tag to ${action === 'add-tag' ? 'add' : 'remove'}.`);
  try {
    return parseInput(updateLinkBody, { tags: [value] }, 'body').tags![0]!;
  } catch (e) {
    if (!(e instanceof AppError)) throw e;
    throw errors.badRequest('invalid_tag', `The tag ${e.errors?.[0]?.message ?? 'is not valid'}.`);
  }
}

const outcome = (link: Link, result: 'changed' | 'unchanged'): Outcome => ({ id: link.id, label: labelOf(link), result });
const labelOf = (link: Link) => link.shortUrl.replace(/^https?:\/\//, '');
/** An id as sent, short enough for a message. */
const shortId = (id: string) => (id.length > 32 ? `${id.slice(0, 32)}…` : id);
const linksCount = (n: number) => `${n} link${n === 1 ? '' : 's'}`;

/** Why one link was not changed, in words that follow its name. */
function reasonOf(e: AppError): string {
  if (e.code === 'not_found') return 'not found: deleted, or not in this workspace';
  const fieldMessages = (e.errors ?? []).map((fe) => fe.message);
  return fieldMessages.length > 0 ? fieldMessages.join('; ') : e.detail;
}

/**
 * What was done, for the flash or the notice: "Disabled 3 links (1 link was already disabled)."
 * then each link that could not be changed, by name, with the reason.
 */
function reportOf(request: Exclude<BulkRequest, { action: 'export' }>, outcomes: Outcome[]): string {
  const count = (r: Outcome['result']) => outcomes.filter((o) => o.result === r).length;
  const [changed, unchanged] = [count('changed'), count('unchanged')];
  const was = (n: number) => `${linksCount(n)} ${n === 1 ? 'was' : 'were'}`;
  // [what was done, what was already so, the same when nothing else was done]
  const [done, same, sameAlone] = ((): [string, string, string] => {
    switch (request.action) {
      case 'add-tag':
        return [`Added the tag “${request.tag}” to ${linksCount(changed)}`, `${linksCount(unchanged)} already had it`, `${linksCount(unchanged)} already had the tag “${request.tag}”`];
      case 'remove-tag':
        return [`Removed the tag “${request.tag}” from ${linksCount(changed)}`, `${linksCount(unchanged)} did not have it`, `${linksCount(unchanged)} did not have the tag “${request.tag}”`];
      case 'disable':
        return [`Disabled ${linksCount(changed)}`, `${was(unchanged)} already disabled`, `${was(unchanged)} already disabled`];
      case 'enable':
        return [`Enabled ${linksCount(changed)}`, `${was(unchanged)} already enabled`, `${was(unchanged)} already enabled`];
      case 'delete':
        return [`Deleted ${linksCount(changed)}`, '', ''];
    }
  })();
  const failures = outcomes.filter((o) => o.result === 'failed');
  const parts = [];
  if (changed > 0) parts.push(`${done}${unchanged > 0 ? ` (${same})` : ''}.`);
  else if (unchanged > 0) parts.push(`Nothing to change: ${sameAlone}.`);
  if (failures.length > 0) parts.push(`${failures.length === 1 ? '1 link' : `${failures.length} links`} could not be changed: ${failures.map((o) => `${o.label} (${o.reason})`).join('; ')}.`);
  return parts.join(' ');
}

/** The list the form was posted from: only its own parameters travel back. */
function listUrl(query: Request['query']): string {
  const params = new URLSearchParams();
  for (const name of ['q', 'status', 'tag', 'after']) {
    const value = query[name];
    if (typeof value === 'string' && value !== '') params.set(name, value);
  }
  return `/admin/links${params.size > 0 ? `?${params}` : ''}`;
}
