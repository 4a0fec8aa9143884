import type { Logger } from 'pino';
import { deleteEndedSaltRows, resealSalts } from '../clicks/visitor-salts.js';
import { type Db, eraseForGood } from '../db/db.js';
import { resealIdempotencyRecords } from '../idempotency/idempotency.repo.js';
import type { Clock } from '../lib/clock.js';
import { deleteSetting } from '../settings/settings.repo.js';
import { resealTotpSecrets } from '../users/two-factor.js';
import { checkEndpointSecrets } from '../webhooks/endpoint-secrets.js';
import type { AtRestKeys } from './at-rest-key.js';
import { SecretBox } from './secret-box.js';

/** Where versions before 0008 kept the visitor hash key, in clear. */
const LEGACY_IP_HASH_KEY = 'ip_hash_key';

/**
 * At start-up, before serving: brings what the database holds in line with this instance's
 * at-rest key, in one transaction, idempotently (a second start finds nothing to do).
 *
 * - Secrets an older version left in clear (webhook secrets, stored answers) are sealed, and so
 *   are those sealed under a previous key (the key file, once LINKQR_SECRET is set), two-factor
 *   secrets included.
 * - The old visitor hash key is deleted: with it gone, the hashes it made cannot be reversed.
 * - Endpoints whose secrets cannot be opened (a lost or changed key) are marked, and named in
 *   the log: their deliveries wait until someone rotates their secret. (A server whose key differs
 *   from one running on the same PostgreSQL database refuses to start before this: shared-key.ts.)
 *
 * What was in clear is erased from the file and its WAL (src/db/db.ts, eraseForGood): the
 * database files and backups taken afterwards hold no trace of it.
 */
export async function prepareSecretsAtRest(deps: { db: Db; keys: AtRestKeys; log: Logger; clock: Clock }): Promise<SecretBox> {
  const { db, keys, log, clock } = deps;
  const secretBox = new SecretBox(keys);
  log.info({ key: keys.current.source, previousKeys: keys.previous.map((k) => k.source) }, 'at-rest key loaded');
  if (keys.warning) log.warn(keys.warning);

  const done = await eraseForGood(
    db,
    () =>
      db.tx(async (t) => {
        const endpoints = await checkEndpointSecrets(t, secretBox, clock.now());
        const idempotencyRecords = await resealIdempotencyRecords(t, secretBox);
        // Salts of days that are over go, rather than being sealed again (the retention job may not have run since).
        const endedSalts = await deleteEndedSaltRows(t, clock.now());
        const visitorSalts = await resealSalts(t, secretBox);
        const legacyIpHashKey = (await deleteSetting(t, LEGACY_IP_HASH_KEY)).changes;
        const totp = await resealTotpSecrets(t, secretBox);
        return { endpoints, idempotencyRecords, endedSalts, visitorSalts, legacyIpHashKey, totp };
      }),
    (d) => d.endpoints.resealed + d.idempotencyRecords + d.endedSalts + d.visitorSalts + d.legacyIpHashKey + d.totp.resealed > 0,
  );
  const sealed = {
    webhookSecrets: done.endpoints.resealed,
    idempotencyRecords: done.idempotencyRecords,
    visitorSalts: done.visitorSalts,
    totpSecrets: done.totp.resealed,
  };
  if (Object.values(sealed).some((n) => n > 0) || done.legacyIpHashKey > 0) {
    log.info({ sealed, legacyIpHashKeyDeleted: done.legacyIpHashKey > 0 }, 'secrets sealed under the at-rest key');
  }
  if (done.endpoints.unreadable.length > 0) {
    log.error(
      { endpoints: done.endpoints.unreadable },
      "the at-rest key cannot open these webhook endpoints' signing secrets (LINKQR_SECRET changed, or linkqr.key lost): " +
        'their deliveries wait until each secret is rotated (API: POST /api/v1/webhooks/{id}/rotate-secret, or Rotate secret in the admin UI)',
    );
  }
  if (done.totp.unreadable.length > 0) {
    log.error(
      { users: done.totp.unreadable },
      "the at-rest key cannot open these users' two-factor secrets (LINKQR_SECRET changed, or linkqr.key lost): " +
        'their authenticator codes are refused; they sign in with a recovery code, or an instance admin resets their two-factor sign-in',
    );
  }
  return secretBox;
}
