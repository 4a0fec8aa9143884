import type { Db, Queries } from '../db/db.js';
import type { Clock } from '../lib/clock.js';
import { presentLink } from '../links/link-presenter.js';
import { errors } from '../lib/errors.js';
import { findLink } from '../links/links.repo.js';
import { type Actor, authorize } from '../policy/policy.js';
import { requirePlanFeature, requireWithinPlanLimit } from '../workspaces/plans.js';
import { logoForCodes } from './logos.service.js';
import type { QrImage, QrOptions, QrRenderer } from './qr.js';

export interface QrDeps {
  db: Db;
  clock: Clock;
  baseUrl(): string;
  qr: QrRenderer;
}

/** What the plan's qrCodes limit counts: links whose QR code has been generated at least once. */
export const countQrCodes = async (db: Queries, workspaceId: string) =>
  (await db.row<{ n: number }>('select count(*) as n from links where workspace_id = ? and qr_generated_at is not null', workspaceId))!.n;

/**
 * The QR image of a link's tracked URL (`<shortUrl>?qr=1`, so scans are recorded as such). The
 * first image of a link makes it one of the workspace's QR codes, within the plan's limit: a
 * change, so the actor needs `links.write` for it (a `links:read` key or a viewer only reads
 * codes that exist, as in the admin UI); every later image of it (any size, colour or format)
 * is free and needs only what the route asked. The link's logo, else the workspace's, is drawn in
 * the middle unless `options.logo` is 'none'.
 */
export async function linkQr(deps: QrDeps, actor: Actor, workspaceId: string, linkId: string, options: QrOptions): Promise<QrImage & { slug: string }> {
  const { db } = deps;
  await requirePlanFeature(db, workspaceId, 'qr');
  const link = await findLink(db, workspaceId, linkId);
  if (!link) throw errors.notFound(`Link ${linkId}`);
  if (link.qr_generated_at === null) authorize(actor, 'links.write', 'create this link’s first QR code, which counts against the plan’s QR codes');
  const logo = options.logo === 'none' ? undefined : await logoForCodes(deps, workspaceId, linkId);
  const image = await deps.qr.render(presentLink(link, deps.baseUrl()).qrUrl, options, logo);
  if (link.qr_generated_at === null) {
    await db.tx(async (t) => {
      // Checked inside the transaction that counts the code, so two first requests cannot both pass.
      if ((await t.row<{ at: number | null }>('select qr_generated_at as at from links where id = ?', linkId))?.at != null) return;
      await requireWithinPlanLimit(t, workspaceId, 'qrCodes', () => countQrCodes(t, workspaceId));
      await t.exec('update links set qr_generated_at = ? where id = ?', deps.clock.now(), linkId);
    });
  }
  return { ...image, slug: link.slug };
}
