import { type ChangeContext, contextInWorkspace, recordAudit } from '../audit/audit.js';
import type { Queries } from '../db/db.js';
import { toIso } from '../lib/clock.js';
import { errors } from '../lib/errors.js';
import { type LinkDeps, removeLink } from '../links/links.service.js';
import { authorizeInstance } from '../policy/policy.js';
import { findWorkspaceById } from '../workspaces/workspaces.repo.js';
import { deleteUnverifiedDomainRow, findDomainByHostname, linksOnDomain, unverifiedDomainRows } from './domains.repo.js';
import { canonicalHostname } from './hostnames.js';

/**
 * Claims on hostnames that were never proven. A hostname belongs to one workspace of the
 * instance from the moment it is added, verified or not, so a workspace can hold a name it does
 * not control and keep its real owner, in another workspace, from adding it. The instance's
 * operators (the CLI, instance admins on the Instance page) can release such a claim.
 */

export type ReleaseDeps = Pick<LinkDeps, 'db' | 'clock' | 'baseUrl' | 'linkChanged' | 'outboxChanged'>;

/** An unverified domain as the Instance page lists it. */
export type UnverifiedClaim = {
  hostname: string;
  workspaceId: string;
  workspace: string;
  /** The claiming workspace's links on it: what a release removes. */
  links: number;
  createdAt: string;
};

export type ReleasedClaim = {
  hostname: string;
  workspaceId: string;
  workspace: string;
  linksRemoved: number;
};

export async function listUnverifiedClaims(db: Queries): Promise<UnverifiedClaim[]> {
  return (await unverifiedDomainRows(db)).map((r) => ({
    hostname: r.hostname,
    workspaceId: r.workspace_id,
    workspace: r.workspace,
    links: Number(r.links),
    createdAt: toIso(r.created_at)!,
  }));
}

/**
 * Deletes an unverified domain and the claiming workspace's links on it, in one transaction,
 * audited in that workspace (as `domain.release`): then any workspace can add the name. Those
 * links never redirected (an unverified domain's Host is served as any unknown host), but each
 * leaves as a deleted link does, so the workspace's webhooks hear `link.deleted`. A verified
 * domain is refused: its workspace proved by DNS that it controls the name.
 */
export async function releaseDomainClaim(deps: ReleaseDeps, ctx: ChangeContext, typed: string): Promise<ReleasedClaim> {
  authorizeInstance(ctx.actor);
  const hostname = canonicalHostname(typed);
  if (hostname === undefined) throw errors.badRequest('invalid_hostname', `"${typed}" is not a domain name such as go.example.com.`);
  const now = deps.clock.now();
  const released = await deps.db.write(async (t) => {
    const domain = await findDomainByHostname(t, hostname);
    if (!domain) throw errors.notFound(`The domain ${hostname}`);
    const workspace = (await findWorkspaceById(t, domain.workspace_id))!;
    // Conditional on the row: a verification that committed first wins, and nothing is removed.
    if (domain.verified_at !== null || (await deleteUnverifiedDomainRow(t, domain.id)).changes === 0) throw verifiedRefusal(hostname, workspace.name);
    const links = await linksOnDomain(t, domain.workspace_id, hostname);
    for (const link of links) await removeLink(t, deps.baseUrl(), link, now);
    await recordAudit(t, await contextInWorkspace(t, ctx, domain.workspace_id), {
      workspaceId: domain.workspace_id, action: 'domain.release', targetType: 'domain', targetId: domain.id,
      summary: { hostname, linksRemoved: links.length }, at: now,
    });
    return { workspace, links };
  });
  // No domainsChanged(): the domain list that requests are routed by holds verified domains only, and this one never was.
  for (const link of released.links) deps.linkChanged(link.domain, link.slug);
  if (released.links.length > 0) deps.outboxChanged();
  return { hostname, workspaceId: released.workspace.id, workspace: released.workspace.name, linksRemoved: released.links.length };
}

const verifiedRefusal = (hostname: string, workspace: string) =>
  errors.conflict(
    'domain_verified',
    `${hostname} is verified: workspace "${workspace}" proved by its DNS record that it controls the name, so it is not released. An admin of that workspace can remove it (Settings → Domains).`,
  );
