import { type Db, isUniqueViolation } from '../db/db.js';
import type { DomainRow } from '../db/schema.js';
import { type Clock, toIso } from '../lib/clock.js';
import { errors } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { changes, type ChangeContext, recordAudit } from '../audit/audit.js';
import { requireWithinPlanLimit } from '../workspaces/plans.js';
import type { CreateDomainInput, ListDomainsQuery, UpdateDomainInput } from './domains.schema.js';
import { countDomains, countLinksOnDomain, deleteDomainRow, findDomain, insertDomain, listDomainRows, updateDomainRow } from './domains.repo.js';

export interface DomainDeps {
  db: Db;
  clock: Clock;
  /** Base of short URLs (LINKQR_BASE_URL), without a trailing slash. */
  baseUrl(): string;
  /** After a commit that added, changed or removed a domain: resolves once this instance routes by the new list. */
  domainsChanged(): Promise<void>;
}

/** Domain JSON (SPEC §8). */
export function presentDomain(row: DomainRow) {
  return {
    id: row.id,
    hostname: row.hostname,
    rootRedirect: row.root_redirect,
    notFoundRedirect: row.not_found_redirect,
    createdAt: toIso(row.created_at)!,
    updatedAt: toIso(row.updated_at)!,
  };
}
export type Domain = ReturnType<typeof presentDomain>;

const AUDITED_DOMAIN_FIELDS = ['rootRedirect', 'notFoundRedirect'] as const;
const notFound = (id: string) => errors.notFound(`Domain ${id}`);

export async function createDomain(deps: DomainDeps, workspaceId: string, ctx: ChangeContext, input: CreateDomainInput): Promise<Domain> {
  if (input.hostname === new URL(deps.baseUrl()).hostname) {
    throw errors.validation([{ field: 'hostname', message: "is this server's own address (LINKQR_BASE_URL): its links need no domain" }]);
  }
  const now = deps.clock.now();
  const row: DomainRow = {
    id: newId('dom', now),
    workspace_id: workspaceId,
    hostname: input.hostname,
    root_redirect: input.rootRedirect ?? null,
    not_found_redirect: input.notFoundRedirect ?? null,
    created_at: now,
    updated_at: now,
  };
  try {
    await deps.db.write(async (t) => {
      await requireWithinPlanLimit(t, workspaceId, 'domains', () => countDomains(t, workspaceId));
      await insertDomain(t, row);
      await recordAudit(t, ctx, { workspaceId, action: 'domain.create', targetType: 'domain', targetId: row.id, summary: { hostname: row.hostname }, at: now });
    });
  } catch (e) {
    if (isUniqueViolation(e)) {
      throw errors.conflict('domain_taken', `${row.hostname} is already added to this server.`, [{ field: 'hostname', message: 'is already added to this server' }]);
    }
    throw e;
  }
  await deps.domainsChanged();
  return presentDomain(row);
}

export async function getDomain(deps: DomainDeps, workspaceId: string, id: string): Promise<Domain> {
  const row = await findDomain(deps.db, workspaceId, id);
  if (!row) throw notFound(id);
  return presentDomain(row);
}

export async function listDomains(deps: DomainDeps, workspaceId: string, query: ListDomainsQuery): Promise<{ data: Domain[]; nextCursor: string | null }> {
  const rows = await listDomainRows(deps.db, workspaceId, query.limit + 1, query.after);
  const page = rows.slice(0, query.limit);
  return { data: page.map(presentDomain), nextCursor: rows.length > query.limit ? page[page.length - 1]!.id : null };
}

export async function updateDomain(deps: DomainDeps, workspaceId: string, ctx: ChangeContext, id: string, input: UpdateDomainInput): Promise<Domain> {
  const now = deps.clock.now();
  const patch: Partial<DomainRow> = { updated_at: now };
  if (input.rootRedirect !== undefined) patch.root_redirect = input.rootRedirect;
  if (input.notFoundRedirect !== undefined) patch.not_found_redirect = input.notFoundRedirect;
  const domain = await deps.db.write(async (t) => {
    const before = await findDomain(t, workspaceId, id);
    if (!before) throw notFound(id);
    await updateDomainRow(t, id, patch);
    const after = presentDomain({ ...before, ...patch });
    await recordAudit(t, ctx, {
      workspaceId, action: 'domain.update', targetType: 'domain', targetId: id,
      summary: { hostname: before.hostname, ...changes(presentDomain(before), after, AUDITED_DOMAIN_FIELDS) }, at: now,
    });
    return after;
  });
  await deps.domainsChanged();
  return domain;
}

/** Refused while links live on the domain: deleting them with it would break printed codes silently. */
export async function deleteDomain(deps: DomainDeps, workspaceId: string, ctx: ChangeContext, id: string): Promise<void> {
  const now = deps.clock.now();
  await deps.db.write(async (t) => {
    const row = await findDomain(t, workspaceId, id);
    if (!row) throw notFound(id);
    const links = await countLinksOnDomain(t, row.hostname);
    if (links > 0) {
      throw errors.conflict(
        'domain_in_use',
        `${links} link${links === 1 ? '' : 's'} live on ${row.hostname}: delete them or move them to another domain first.`,
      );
    }
    await deleteDomainRow(t, id);
    await recordAudit(t, ctx, { workspaceId, action: 'domain.delete', targetType: 'domain', targetId: id, summary: { hostname: row.hostname }, at: now });
  });
  await deps.domainsChanged();
}
