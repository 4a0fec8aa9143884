import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { type Db, eraseForGood, type Queries } from '../db/db.js';
import type { Clock } from '../lib/clock.js';
import { type SecretBox, UnreadableSecretError } from '../secrets/secret-box.js';
import { DAY_MS } from './rollups.js';

/**
 * Visitor hashes are HMAC-SHA256 of the address keyed with a random salt of the click's UTC day
 * (the idea of privacy-first analytics such as Plausible): equal for the same address within a
 * day, so daily unique visitors can be counted, and unrelated across days.
 *
 * A salt is kept sealed under the at-rest key (a restart during the day keeps the day's visitors)
 * and deleted once its day is over. After that nobody can tell which address a hash was: not by
 * trying all 2^32 IPv4 addresses (there is no key to try them with), not even with the at-rest key.
 */

/**
 * How long after its day a salt still serves: clicks of the day's last moments wait in the click
 * buffer (25 ms, up to minutes while the database cannot be written). A click later than that
 * is stored without a visitor hash rather than keep the salt around.
 */
export const SALT_GRACE_MS = 10 * 60_000;

const SALT_BYTES = 32;
const contextOf = (day: number) => `visitor_salts.salt:${day}`;
const isOver = (day: number, now: number) => now >= day + DAY_MS + SALT_GRACE_MS;

export class VisitorSalts {
  /** Day → salt. Read on every click batch, so held in memory: no database read or decryption per click. */
  private readonly salts = new Map<number, Buffer>();
  /** Day → its salt being read: callers meanwhile wait for the same read, so all get the same salt. */
  private readonly loading = new Map<number, Promise<Buffer>>();

  constructor(private readonly deps: { db: Db; secretBox: SecretBox; clock: Clock; log: Logger }) {}

  /**
   * The salt of the UTC day starting at `day` (midnight, epoch ms), or undefined once that day is
   * over: then it is forgotten here, whatever the retention job has deleted yet.
   */
  async saltFor(day: number): Promise<Buffer | undefined> {
    const now = this.deps.clock.now();
    this.forgetEnded(now);
    if (isOver(day, now)) return undefined;
    const salt = this.salts.get(day);
    if (salt) return salt;
    let loading = this.loading.get(day);
    if (!loading) {
      loading = this.load(day).then(
        (loaded) => {
          this.loading.delete(day);
          this.salts.set(day, loaded);
          return loaded;
        },
        (error: unknown) => {
          this.loading.delete(day);
          throw error;
        },
      );
      this.loading.set(day, loading);
    }
    return loading;
  }

  private forgetEnded(now: number) {
    for (const day of this.salts.keys()) if (isOver(day, now)) this.salts.delete(day);
  }

  /** The day's salt from the database, made by whichever process asks first (one transaction, so all agree). */
  private load(day: number): Promise<Buffer> {
    const { db, secretBox, log } = this.deps;
    const seal = (salt: Buffer) => secretBox.seal(salt.toString('base64'), contextOf(day));
    // Sealed before the transaction: it awaits nothing but its queries.
    const fresh = randomBytes(SALT_BYTES);
    const sealedFresh = seal(fresh);
    return db.tx(async (t) => {
      await t.exec('insert into visitor_salts (day, salt) values (?, ?) on conflict (day) do nothing', day, sealedFresh);
      const stored = (await t.row<{ salt: string }>('select salt from visitor_salts where day = ?', day))!.salt;
      try {
        return Buffer.from(secretBox.open(stored, contextOf(day)), 'base64');
      } catch (e) {
        if (!(e instanceof UnreadableSecretError)) throw e;
        // Sealed under a key this instance lacks (lost or changed): the day starts over.
        await t.exec('update visitor_salts set salt = ? where day = ?', sealedFresh, day);
        log.warn({ day: new Date(day).toISOString().slice(0, 10) }, "the day's visitor salt could not be opened with this instance's key: a new one is used, so earlier visitors of the day count again");
        return fresh;
      }
    });
  }
}

/**
 * Deletes the salts of days over for more than SALT_GRACE_MS, and their bytes from the database
 * file and its WAL (src/db/db.ts, eraseForGood). Returns how many went.
 */
export function deleteEndedSalts(db: Db, now: number): Promise<number> {
  return eraseForGood(db, () => db.tx((t) => deleteEndedSaltRows(t, now)), (deleted) => deleted > 0);
}

/** The rows of deleteEndedSalts, through the caller's transaction; the caller erases their bytes. */
export const deleteEndedSaltRows = async (db: Queries, now: number): Promise<number> =>
  (await db.exec('delete from visitor_salts where day <= ?', now - DAY_MS - SALT_GRACE_MS)).changes;

/**
 * At start-up, through the caller's transaction: salts sealed under a previous key are sealed
 * again under the current one. One that no key here opens is left to `load`, which replaces it.
 */
export async function resealSalts(db: Queries, secretBox: SecretBox): Promise<number> {
  const rows = await db.rows<{ day: number; salt: string }>('select day, salt from visitor_salts');
  let resealed = 0;
  for (const row of rows.filter((r) => !secretBox.isCurrent(r.salt))) {
    try {
      const salt = secretBox.open(row.salt, contextOf(row.day));
      await db.exec('update visitor_salts set salt = ? where day = ?', secretBox.seal(salt, contextOf(row.day)), row.day);
      resealed++;
    } catch (e) {
      if (!(e instanceof UnreadableSecretError)) throw e;
    }
  }
  return resealed;
}
