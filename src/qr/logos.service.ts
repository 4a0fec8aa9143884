import { type ChangeContext, recordAudit } from '../audit/audit.js';
import type { Db, Queries } from '../db/db.js';
import { type Clock, toIso } from '../lib/clock.js';
import { errors } from '../lib/errors.js';
import { findLink } from '../links/links.repo.js';
import { requirePlanFeature } from '../workspaces/plans.js';
import { type Logo, parseLogo } from './logo.js';
import { deleteLogoRow, findLogo, findLogoInEffect, type LogoHead, readLogoBytes, upsertLogo } from './logos.repo.js';
import type { QrRenderer } from './qr.js';

// A logo in the middle of a workspace's QR codes: the workspace's own, or one link's, which wins
// over it. Codes with a logo are drawn at error correction H (src/qr/qr.ts).

export interface QrLogoDeps {
  db: Db;
  clock: Clock;
  qr: QrRenderer;
}

/** An upload as it came: the raw body and its Content-Type, which parseLogo checks against the bytes. */
export interface LogoUpload {
  bytes: Buffer;
  contentType: string | undefined;
}

/** Whose logo: one link's (its id), or the workspace's (null). */
type Owner = string | null;

/** QrLogo JSON. The bytes themselves are read at the logo's own URL. */
export function presentQrLogo(head: LogoHead) {
  return {
    linkId: head.link_id,
    contentType: head.content_type,
    sizeBytes: head.size_bytes,
    sha256: head.sha256,
    createdAt: toIso(head.created_at)!,
  };
}
export type QrLogo = ReturnType<typeof presentQrLogo>;

const target = (workspaceId: string, linkId: Owner) =>
  linkId === null ? { targetType: 'workspace', targetId: workspaceId } : { targetType: 'link', targetId: linkId };

const noLogo = (linkId: Owner) => errors.notFound(linkId === null ? 'The QR logo of this workspace' : `The QR logo of link ${linkId}`);

/** 404 for a link of another workspace (or none), before anything else is said about it. */
async function requireLink(db: Queries, workspaceId: string, linkId: Owner): Promise<void> {
  if (linkId !== null && !(await findLink(db, workspaceId, linkId))) throw errors.notFound(`Link ${linkId}`);
}

/**
 * Sets the logo of a link (`linkId`) or of the workspace (null), replacing the one it had. The
 * upload must be a logo parseLogo accepts and that draws (QrRenderer.tryLogo): refused with 400 on
 * `logo` otherwise. What is stored is the logo as parsed (a PNG without its metadata, the checked
 * SVG), so what GET returns is what the codes show.
 */
export async function setQrLogo(deps: QrLogoDeps, workspaceId: string, ctx: ChangeContext, linkId: Owner, upload: LogoUpload): Promise<QrLogo> {
  await requirePlanFeature(deps.db, workspaceId, 'qr');
  await requireLink(deps.db, workspaceId, linkId);
  const logo = parseLogo(upload.bytes, upload.contentType);
  // Outside the transaction: drawing a trial code takes milliseconds the writer should not wait.
  await deps.qr.tryLogo(logo);
  const now = deps.clock.now();
  return deps.db.write(async (t) => {
    // Again inside: the link may have been deleted since, and its logo must not outlive it.
    await requireLink(t, workspaceId, linkId);
    await upsertLogo(t, { workspace_id: workspaceId, link_id: linkId, content_type: logo.contentType, bytes: logo.bytes, sha256: logo.sha256, created_at: now });
    const stored = presentQrLogo((await findLogo(t, workspaceId, linkId))!);
    await recordAudit(t, ctx, {
      workspaceId, action: 'qr_logo.set', ...target(workspaceId, linkId),
      summary: { contentType: stored.contentType, sizeBytes: stored.sizeBytes, sha256: stored.sha256 }, at: now,
    });
    return stored;
  });
}

/** Removes the logo of a link or of the workspace; 404 when it has none. */
export async function removeQrLogo(deps: QrLogoDeps, workspaceId: string, ctx: ChangeContext, linkId: Owner): Promise<void> {
  await requirePlanFeature(deps.db, workspaceId, 'qr');
  const now = deps.clock.now();
  await deps.db.write(async (t) => {
    await requireLink(t, workspaceId, linkId);
    const head = await findLogo(t, workspaceId, linkId);
    if (!head) throw noLogo(linkId);
    await deleteLogoRow(t, head.id);
    await recordAudit(t, ctx, {
      workspaceId, action: 'qr_logo.remove', ...target(workspaceId, linkId),
      summary: { contentType: head.content_type, sizeBytes: head.size_bytes, sha256: head.sha256 }, at: now,
    });
  });
}

/** The logo of a link or of the workspace, with its bytes; 404 when it has none. */
export async function getQrLogo(deps: Pick<QrLogoDeps, 'db'>, workspaceId: string, linkId: Owner): Promise<QrLogo & { bytes: Buffer }> {
  await requirePlanFeature(deps.db, workspaceId, 'qr');
  await requireLink(deps.db, workspaceId, linkId);
  const head = await findLogo(deps.db, workspaceId, linkId);
  const stored = head && (await readLogoBytes(deps.db, head.id));
  if (!head || !stored) throw noLogo(linkId);
  return { ...presentQrLogo(head), bytes: stored.bytes };
}

/** The logo of a link or of the workspace, if it has one: what the admin pages show about it. */
export async function findQrLogo(deps: Pick<QrLogoDeps, 'db'>, workspaceId: string, linkId: Owner): Promise<QrLogo | undefined> {
  const head = await findLogo(deps.db, workspaceId, linkId);
  return head && presentQrLogo(head);
}

/** The logo a link's codes are drawn with (its own, else the workspace's), parsed; undefined when neither is set. */
export async function logoForCodes(deps: Pick<QrLogoDeps, 'db' | 'qr'>, workspaceId: string, linkId: string): Promise<Logo | undefined> {
  const head = await findLogoInEffect(deps.db, workspaceId, linkId);
  if (!head) return undefined;
  return deps.qr.storedLogo(head.sha256, async () => {
    const stored = await readLogoBytes(deps.db, head.id);
    return stored && { bytes: stored.bytes, contentType: stored.content_type };
  });
}
