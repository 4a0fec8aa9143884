import { hkdfSync, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { OperatorError } from '../lib/errors.js';

/**
 * Where the key that seals secrets at rest comes from. It must never be in the database, or a
 * copy of the database (a backup) would hold both the lock and its key:
 *
 * - `LINKQR_SECRET` set: the key is derived from it (HKDF-SHA256 with a purpose label, so the
 *   same secret can key other things later without giving this key away). Instances sharing one
 *   database share LINKQR_SECRET, and so this key.
 * - Otherwise a random key kept in `<data dir>/linkqr.key` (mode 0600), made on first start.
 *   Backups copy the database only, never this file.
 *
 * When LINKQR_SECRET is set on an instance that had a key file, the file's key stays readable as
 * a previous key: what it sealed is sealed again under the new key at start-up.
 */

export const KEY_FILE = 'linkqr.key';

const KEY_BYTES = 32;
const ENCRYPTION_LABEL = 'linkqr at-rest encryption v1';
const ID_LABEL = 'linkqr at-rest key id v1';

export interface AtRestKey {
  /** Short and public: names the key in sealed values, so a value is opened with the key that sealed it. */
  id: string;
  /** The AES-256 key. */
  key: Buffer;
  /** For the start-up log line: where the key came from (never the key). */
  source: string;
}

export interface AtRestKeys {
  current: AtRestKey;
  previous: AtRestKey[];
  /** Why an operator should look at the key file (group- or world-readable), if they should. */
  warning?: string;
}

/** A key file the operator must fix: reported as one sentence, the server does not start. */
export class KeyFileError extends OperatorError {
  override name = 'KeyFileError';
}

export function loadAtRestKeys(config: { secret: string | undefined; dataDir: string; databaseUrl?: string | undefined }): AtRestKeys {
  const file = join(config.dataDir, KEY_FILE);
  // Instances that share a PostgreSQL database share its sealed secrets: a key file in each one's
  // data dir would leave every instance but the first unable to read the webhook secrets.
  if (config.databaseUrl && config.secret === undefined) {
    throw new KeyFileError(
      'with PostgreSQL (LINKQR_DATABASE_URL), set LINKQR_SECRET, the same on every instance: it is the key that seals webhook secrets in the shared database',
    );
  }
  if (config.secret !== undefined) {
    const current = derive(Buffer.from(config.secret, 'utf8'), 'LINKQR_SECRET');
    const previous = readKeyFile(file);
    return { current, previous: previous ? [derive(previous, file)] : [] };
  }
  const material = readKeyFile(file) ?? createKeyFile(file);
  const loose = (statSync(file).mode & 0o077) !== 0;
  return {
    current: derive(material, file),
    previous: [],
    ...(loose ? { warning: `${file} can be read by other users of this machine: chmod 600 it` } : {}),
  };
}

/**
 * Every key that may have sealed what a database holds, creating nothing: LINKQR_SECRET's, and the
 * key file of a SQLite data dir (linkqr copy-database opens the source's secrets with these).
 */
export function existingAtRestKeys(config: { secret: string | undefined; dataDir?: string }): AtRestKey[] {
  const keys: AtRestKey[] = [];
  if (config.secret !== undefined) keys.push(derive(Buffer.from(config.secret, 'utf8'), 'LINKQR_SECRET'));
  const file = config.dataDir === undefined ? undefined : join(config.dataDir, KEY_FILE);
  const material = file === undefined ? undefined : readKeyFile(file);
  if (material) keys.push(derive(material, file!));
  return keys;
}

function derive(material: Buffer, source: string): AtRestKey {
  const expand = (label: string, length: number) => Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), label, length));
  return { id: expand(ID_LABEL, 6).toString('base64url'), key: expand(ENCRYPTION_LABEL, KEY_BYTES), source };
}

/** The key in the file (base64 of 32 bytes, one line), or undefined when there is no file. */
function readKeyFile(file: string): Buffer | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KeyFileError(`cannot read the at-rest key ${file}: ${(e as Error).message}`);
  }
  const key = Buffer.from(text, 'base64');
  // Never replace a damaged file with a new key: what the old one sealed would be lost for good.
  if (key.length !== KEY_BYTES || key.toString('base64') !== text) {
    throw new KeyFileError(
      `${file} is not a LinkQR key (one line: base64 of 32 bytes). Restore it from your copy; ` +
        'or move it away to start with a new key, then rotate every webhook signing secret.',
    );
  }
  return key;
}

/**
 * Writes a new key under a temporary name, flushed, then links it into place: link() fails when
 * the name exists, so two processes starting at once end up with the one key that got there first.
 */
function createKeyFile(file: string): Buffer {
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  let fd: number;
  try {
    fd = openSync(temp, 'wx', 0o600);
  } catch (e) {
    throw new KeyFileError(`cannot create the at-rest key ${file}: ${(e as Error).message}. Make the data dir writable, or set LINKQR_SECRET.`);
  }
  try {
    writeSync(fd, `${randomBytes(KEY_BYTES).toString('base64')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    rmSync(temp, { force: true });
  }
  syncDirectory(file);
  return readKeyFile(file)!;
}

/** The new name must survive a power cut as surely as the data it will seal. */
function syncDirectory(file: string) {
  const fd = openSync(join(file, '..'), 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
