import { type Db, isUniqueViolation, type Queries } from '../db/db.js';
import type { LinkRow } from '../db/schema.js';
import type { Clock } from '../lib/clock.js';
import { errors } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { changes, type ChangeContext, recordAudit } from '../audit/audit.js';
import { enqueueEvent } from '../outbox/events.js';
import { requireWithinPlanLimit } from '../workspaces/plans.js';
import { findWorkspaceDomainForLinks } from '../domains/domains.repo.js';
import { canonicalHostname } from '../domains/hostnames.js';
import { type Link, presentLink } from './link-presenter.js';
import type { CreateLinkInput, LinkState, ListLinksQuery, UpdateLinkInput } from './links.schema.js';
import { countLinks, deleteLinkRow, findLink, findLinkForUpdate, insertLink, listLinkRows, updateLinkRow } from './links.repo.js';
import { randomSlug } from './slugs.js';
import { hashPassword } from '../lib/passwords.js';
import { deleteLinkLogo } from '../qr/logos.repo.js';

export interface LinkDeps {
  db: Db;
  clock: Clock;
  /** Base of short URLs, without a trailing slash. */
  baseUrl(): string;
  /** Called after a commit that changed what a slug of a domain ('' for the base URL's) redirects to. */
  linkChanged(domain: string, slug: string): void;
  /** Called after a commit that added events, so their deliveries start now. */
  outboxChanged(): void;
}

const AUDITED_LINK_FIELDS = [
  'domain', 'slug', 'url', 'title', 'tags', 'status', 'expiresAt', 'expiredUrl', 'maxClicks', 'redirectCode', 'forwardQuery', 'targets', 'passwordProtected',
] as const;

/** The `targets` column: none is NULL, so the redirect path tells "no rules" without parsing. */
const targetsColumn = (targets: CreateLinkInput['targets']) => (targets && targets.length > 0 ? JSON.stringify(targets) : null);

/** `onDomain`: the link's added domain, named in the field's message too; '' for the base URL's host. */
const slugTaken = (slug: string, hostname: string, onDomain: string) =>
  errors.conflict('slug_taken', `The slug "${slug}" is already in use on ${hostname}.`, [
    { field: 'slug', message: onDomain === '' ? 'is already in use' : `is already in use on ${onDomain}` },
  ]);

/**
 * The `domain` column for a link's domain as sent: '' for the base URL's host (by host name, or
 * host and port as its short URLs show it), else a domain the workspace added.
 */
export async function domainColumn(db: Queries, baseUrl: string, workspaceId: string, sent: string): Promise<string> {
  const base = new URL(baseUrl);
  const lower = sent.toLowerCase();
  if (lower === base.hostname || lower === base.host) return '';
  const hostname = canonicalHostname(sent);
  if (hostname !== undefined && hostname === base.hostname) return '';
  if (hostname !== undefined && (await findWorkspaceDomainForLinks(db, workspaceId, hostname))) return hostname;
  throw errors.validation([
    { field: 'domain', message: `is not a domain of this workspace: add it first (Settings, or POST /api/v1/domains), or use ${base.hostname}` },
  ]);
}


function assertFuture(clock: Clock, expiresAt: number | null | undefined) {
  if (expiresAt != null && expiresAt <= clock.now()) {
    throw errors.validation([{ field: 'expiresAt', message: 'must be in the future' }]);
  }
}

/** The row of a new link made by `ctx` at `now`: what createLink inserts (the seed script and benchmarks insert it directly). */
export function newLinkRow(workspaceId: string, ctx: ChangeContext, input: CreateLinkInput, now: number, domain = ''): LinkRow {
  return {
    id: newId('lnk', now),
    workspace_id: workspaceId,
    slug: input.slug ?? randomSlug(),
    url: input.url,
    title: input.title ?? null,
    tags: JSON.stringify(input.tags ?? []),
    status: 'active',
    expires_at: input.expiresAt ?? null,
    expired_url: input.expiredUrl ?? null,
    max_clicks: input.maxClicks ?? null,
    redirect_code: input.redirectCode ?? 302,
    forward_query: input.forwardQuery === false ? 0 : 1,
    created_by_user_id: ctx.actor.type === 'user' ? ctx.actor.id : null,
    created_by_key_id: ctx.actor.type === 'key' ? ctx.actor.id : null,
    clicks: 0,
    total_clicks: 0,
    last_clicked_at: null,
    qr_generated_at: null,
    created_at: now,
    updated_at: now,
    domain,
    targets: targetsColumn(input.targets),
    password_hash: null,
  };
}

export async function createLink(deps: LinkDeps, workspaceId: string, ctx: ChangeContext, input: CreateLinkInput): Promise<Link> {
  assertFuture(deps.clock, input.expiresAt);
  const now = deps.clock.now();
  const row = newLinkRow(workspaceId, ctx, input, now);
  // Hashed before the transaction: argon2 takes tens of milliseconds, which no lock should wait for.
  if (input.password) row.password_hash = await hashPassword(input.password);
  // A random 7-char slug collides rarely; try a few before giving up.
  for (let attempt = 0; ; attempt++) {
    try {
      const { deliveries, link } = await deps.db.write(async (t) => {
        // In the transaction: a domain deleted meanwhile cannot get a link.
        if (input.domain !== undefined) row.domain = await domainColumn(t, deps.baseUrl(), workspaceId, input.domain);
        const link = presentLink(row, deps.baseUrl());
        await requireWithinPlanLimit(t, workspaceId, 'links', () => countLinks(t, workspaceId));
        await insertLink(t, row);
        const event = await enqueueEvent(t, { workspaceId, type: 'link.created', data: link, at: now });
        await recordAudit(t, ctx, { workspaceId, action: 'link.create', targetType: 'link', targetId: row.id, summary: { ...(row.domain === '' ? {} : { domain: row.domain }), slug: row.slug, url: row.url }, at: now });
        return { deliveries: event.deliveries, link };
      });
      deps.linkChanged(row.domain, row.slug);
      // No subscriber, nothing to send: waking the dispatcher would only cost a claim query.
      if (deliveries > 0) deps.outboxChanged();
      return link;
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      if (input.slug !== undefined) throw slugTaken(input.slug, presentLink(row, deps.baseUrl()).domain, row.domain);
      if (attempt === 4) throw e;
      row.slug = randomSlug();
    }
  }
}

export async function getLink(deps: LinkDeps, workspaceId: string, id: string): Promise<Link> {
  const row = await findLink(deps.db, workspaceId, id);
  if (!row) throw errors.notFound(`Link ${id}`);
  return presentLink(row, deps.baseUrl());
}

/** A page of links; `state` (the admin's filter) picks them as its table shows them now. */
export async function listLinks(
  deps: LinkDeps,
  workspaceId: string,
  { state, ...query }: ListLinksQuery & { state?: LinkState | undefined },
): Promise<{ data: Link[]; nextCursor: string | null }> {
  // One extra row tells whether another page exists without a count query.
  const rows = await listLinkRows(deps.db, { workspaceId, ...query, state: state && { is: state, at: deps.clock.now() }, limit: query.limit + 1 });
  const page = rows.slice(0, query.limit);
  return {
    data: page.map((r) => presentLink(r, deps.baseUrl())),
    nextCursor: rows.length > query.limit ? page[page.length - 1]!.id : null,
  };
}

export async function updateLink(deps: LinkDeps, workspaceId: string, ctx: ChangeContext, id: string, input: UpdateLinkInput): Promise<Link> {
  assertFuture(deps.clock, input.expiresAt);
  const now = deps.clock.now();
  const patch: Partial<LinkRow> = { updated_at: now };
  if (input.url !== undefined) patch.url = input.url;
  if (input.slug !== undefined) patch.slug = input.slug;
  if (input.title !== undefined) patch.title = input.title;
  if (input.tags !== undefined) patch.tags = JSON.stringify(input.tags);
  if (input.expiresAt !== undefined) patch.expires_at = input.expiresAt;
  if (input.expiredUrl !== undefined) patch.expired_url = input.expiredUrl;
  if (input.maxClicks !== undefined) patch.max_clicks = input.maxClicks;
  if (input.redirectCode !== undefined) patch.redirect_code = input.redirectCode;
  if (input.forwardQuery !== undefined) patch.forward_query = input.forwardQuery ? 1 : 0;
  if (input.targets !== undefined) patch.targets = targetsColumn(input.targets);
  if (input.password !== undefined) patch.password_hash = input.password === null ? null : await hashPassword(input.password);
  if (input.status !== undefined) patch.status = input.status;

  return (await writeLinkUpdate(deps, workspaceId, ctx, id, now, async (t) => {
    if (input.domain !== undefined) patch.domain = await domainColumn(t, deps.baseUrl(), workspaceId, input.domain);
    return patch;
  }))!;
}

/**
 * Changes a link's tags from the list its row holds inside the write: a bulk "add tag" that read
 * the link before would lose a tag another edit added meanwhile. `next` gives the new list, or
 * undefined to leave the link as it is (nothing is written). Resolves to the link as written, or
 * undefined when it was left as it was.
 */
export function changeLinkTags(
  deps: LinkDeps,
  workspaceId: string,
  ctx: ChangeContext,
  id: string,
  next: (tags: string[]) => string[] | undefined,
): Promise<Link | undefined> {
  const now = deps.clock.now();
  return writeLinkUpdate(deps, workspaceId, ctx, id, now, async (_t, before) => {
    const tags = next(JSON.parse(before.tags) as string[]);
    return tags && { tags: JSON.stringify(tags), updated_at: now };
  });
}

/**
 * One change of a link: `patchOf` gets the row as the write reads it (locked on PostgreSQL until
 * the commit, so the change cannot be based on a row another write is changing) and returns the
 * columns to write, or undefined to write nothing. Then the event, the audit entry and the redirect
 * caches, as for every change of a link.
 */
async function writeLinkUpdate(
  deps: LinkDeps,
  workspaceId: string,
  ctx: ChangeContext,
  id: string,
  now: number,
  patchOf: (t: Queries, before: LinkRow) => Promise<Partial<LinkRow> | undefined>,
): Promise<Link | undefined> {
  let before: LinkRow | undefined;
  let patch: Partial<LinkRow> | undefined;
  let link: Link | undefined;
  try {
    link = await deps.db.write(async (t) => {
      before = await findLinkForUpdate(t, workspaceId, id);
      if (!before) throw errors.notFound(`Link ${id}`);
      patch = await patchOf(t, before);
      if (!patch) return undefined;
      await updateLinkRow(t, id, patch);
      const updated = presentLink((await findLink(t, workspaceId, id))!, deps.baseUrl());
      await enqueueEvent(t, { workspaceId, type: 'link.updated', data: updated, at: now });
      const changed = changes(presentLink(before, deps.baseUrl()), updated, AUDITED_LINK_FIELDS);
      await recordAudit(t, ctx, { workspaceId, action: 'link.update', targetType: 'link', targetId: id, summary: changed, at: now });
      return updated;
    });
  } catch (e) {
    // A new slug, or the same slug moved to a domain where another link has it.
    if (isUniqueViolation(e) && before && patch) {
      const moved = { ...before, ...patch };
      throw slugTaken(moved.slug, presentLink(moved, deps.baseUrl()).domain, moved.domain);
    }
    throw e;
  }
  if (!link) return undefined;
  deps.linkChanged(before!.domain, before!.slug);
  const domain = patch!.domain ?? before!.domain;
  if (link.slug !== before!.slug || domain !== before!.domain) deps.linkChanged(domain, link.slug);
  deps.outboxChanged();
  return link;
}

export async function deleteLink(deps: LinkDeps, workspaceId: string, ctx: ChangeContext, id: string): Promise<void> {
  const now = deps.clock.now();
  const deleted = await deps.db.write(async (t) => {
    const row = await findLink(t, workspaceId, id);
    if (!row) throw errors.notFound(`Link ${id}`);
    await removeLink(t, deps.baseUrl(), row, now);
    await recordAudit(t, ctx, { workspaceId, action: 'link.delete', targetType: 'link', targetId: id, summary: { slug: row.slug, url: row.url }, at: now });
    return row;
  });
  deps.linkChanged(deleted.domain, deleted.slug);
  deps.outboxChanged();
}

/**
 * What deleting a link is, in the caller's transaction: its row, its QR logo, and the
 * `link.deleted` event (the link as it was). The caller audits it, and after the commit calls
 * linkChanged(row.domain, row.slug) and outboxChanged, as deleteLink does.
 */
export async function removeLink(t: Queries, baseUrl: string, row: LinkRow, at: number): Promise<void> {
  await deleteLinkRow(t, row.id);
  await deleteLinkLogo(t, row.id);
  await enqueueEvent(t, { workspaceId: row.workspace_id, type: 'link.deleted', data: presentLink(row, baseUrl), at });
}
