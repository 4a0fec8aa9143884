import type { Queries } from '../db/db.js';
import type { UserRow } from '../db/schema.js';
import { verifySecret } from '../lib/passwords.js';
import { findUserByEmail } from '../users/users.repo.js';

/**
 * An argon2id hash with the parameters real passwords get (src/lib/passwords.ts), of a password
 * nobody types. An unknown email is checked against it so that it takes as long to refuse as a
 * wrong password: the response time does not tell which emails have accounts.
 */
const DUMMY_HASH = '$argon2id$v=19$m=19456,p=1,t=2$l+05sGDjifAKi++RjllMxg$ZiVGeitJcA8yX/virT38OtMmxjazl1QbbjctYzRByjw';

/** The user with this email and password, or undefined (for an unknown email and a wrong password alike). */
export async function checkCredentials(deps: { db: Queries }, email: string, password: string): Promise<UserRow | undefined> {
  const user = email.length <= 254 ? await findUserByEmail(deps.db, email.trim().toLowerCase()) : undefined;
  const ok = await verifySecret(user?.password_hash ?? DUMMY_HASH, password);
  return ok && user ? user : undefined;
}
