import { type Db, isUniqueViolation } from '../db/db.js';
import { baseHostname } from '../links/link-presenter.js';
import type { DomainRow } from '../db/schema.js';
import { type Clock, toIso } from '../lib/clock.js';
import { errors } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { randomBase62 } from '../lib/base62.js';
import { changes, type ChangeContext, recordAudit } from '../audit/audit.js';
import { requireWithinPlanLimit } from '../workspaces/plans.js';
import type { CreateDomainInput, ListDomainsQuery, UpdateDomainInput } from './domains.schema.js';
import { countDomains, countLinksOnDomain, deleteDomainRow, findDomain, insertDomain, listDomainRows, updateDomainRow } from './domains.repo.js';

export interface DomainDeps {
  db: Db;
  clock: Clock;
  /** The TXT records of a DNS name (node:dns's resolveTxt; tests give their own). */
  resolveTxt(name: string): Promise<string[][]>;
  /** Base of short URLs (LINKQR_BASE_URL), without a trailing slash. */
  baseUrl(): string;
  /** After a commit that added, changed or removed a domain: resolves once this instance routes by the new list. */
  domainsChanged(): Promise<void>;
}

/** The DNS record that proves a workspace controls a hostname: a TXT record on `_linkqr.<hostname>`. */
export const verificationRecord = (row: Pick<DomainRow, 'hostname' | 'verification_token'>) => ({
  type: 'TXT' as const,
  name: `_linkqr.${row.hostname}`,
  value: `linkqr-verification=${row.verification_token}`,
});

/** Domain JSON (SPEC §8, with the proof of ownership). */
export function presentDomain(row: DomainRow) {
  return {
    id: row.id,
    hostname: row.hostname,
    rootRedirect: row.root_redirect,
    notFoundRedirect: row.not_found_redirect,
    verified: row.verified_at !== null,
    verifiedAt: toIso(row.verified_at),
    verification: verificationRecord(row),
    createdAt: toIso(row.created_at)!,
    updatedAt: toIso(row.updated_at)!,
  };
}
export type Domain = ReturnType<typeof presentDomain>;

const AUDITED_DOMAIN_FIELDS = ['rootRedirect', 'notFoundRedirect'] as const;
const notFound = (id: string) => errors.notFound(`Domain ${id}`);

export async function createDomain(deps: DomainDeps, workspaceId: string, ctx: ChangeContext, input: CreateDomainInput): Promise<Domain> {
  if (input.hostname === baseHostname(deps.baseUrl())) {
    throw errors.validation([{ field: 'hostname', message: "is this server's own address (LINKQR_BASE_URL): its links need no domain" }]);
  }
  const now = deps.clock.now();
  const row: DomainRow = {
    id: newId('dom', now),
    workspace_id: workspaceId,
    hostname: input.hostname,
    root_redirect: input.rootRedirect ?? null,
    not_found_redirect: input.notFoundRedirect ?? null,
    verification_token: randomBase62(24),
    verified_at: null,
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

/**
 * Checks the domain's TXT record and, when it holds the token, marks the domain verified: from
 * then on it gets redirects and TLS (tls-allowed). Until then nothing is served on it, so a
 * workspace that claims a name it does not control gets nothing from the claim.
 */
export async function verifyDomain(deps: DomainDeps, workspaceId: string, ctx: ChangeContext, id: string): Promise<Domain> {
  const row = await findDomain(deps.db, workspaceId, id);
  if (!row) throw notFound(id);
  if (row.verified_at !== null) return presentDomain(row);
  const record = verificationRecord(row);
  let found: string[];
  try {
    found = (await deps.resolveTxt(record.name)).map((chunks) => chunks.join(''));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTFOUND' && code !== 'ENODATA') {
      throw errors.conflict('domain_not_verified', `The DNS lookup of ${record.name} failed (${code ?? 'error'}): try again in a minute.`);
    }
    found = [];
  }
  if (!found.includes(record.value)) {
    throw errors.conflict(
      'domain_not_verified',
      found.length === 0
        ? `${record.name} has no TXT record yet: add one holding ${record.value} (DNS changes can take a few minutes to be seen).`
        : `${record.name} has TXT records, but none holds ${record.value}.`,
    );
  }
  const now = deps.clock.now();
  await deps.db.write(async (t) => {
    // Deleted, or released by the instance's operator, while its record was being looked up.
    if ((await updateDomainRow(t, id, { verified_at: now, updated_at: now })).changes === 0) throw notFound(id);
    await recordAudit(t, ctx, { workspaceId, action: 'domain.verify', targetType: 'domain', targetId: id, summary: { hostname: row.hostname }, at: now });
  });
  await deps.domainsChanged();
  return presentDomain({ ...row, verified_at: now, updated_at: now });
}

/** Refused while links live on the domain: deleting them with it would break printed codes silently. */
export async function deleteDomain(deps: DomainDeps, workspaceId: string, ctx: ChangeContext, id: string): Promise<void> {
  const now = deps.clock.now();
  await deps.db.write(async (t) => {
    const row = await findDomain(t, workspaceId, id);
    if (!row) throw notFound(id);
    // Deleted first: on PostgreSQL the delete waits for links being put on the domain (they hold
    // its row shared, findWorkspaceDomainForLinks), so the count below sees them too.
    if ((await deleteDomainRow(t, id)).changes === 0) throw notFound(id);
    const links = await countLinksOnDomain(t, row.hostname);
    if (links > 0) {
      throw errors.conflict(
        'domain_in_use',
        `${links} link${links === 1 ? '' : 's'} live on ${row.hostname}: delete them or move them to another domain first.`,
      );
    }
    await recordAudit(t, ctx, { workspaceId, action: 'domain.delete', targetType: 'domain', targetId: id, summary: { hostname: row.hostname }, at: now });
  });
  await deps.domainsChanged();
}
