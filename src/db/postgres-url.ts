// The PostgreSQL URL of LINKQR_DATABASE_URL: what counts as one, and how it is shown. It holds
// the database password, so nothing prints or logs it except through `redactUrl`.

const PROTOCOLS = ['postgres:', 'postgresql:'];

/** Whether `raw` is a URL PostgreSQL's clients take (postgres:// or postgresql://). */
export function isPostgresUrl(raw: string): boolean {
  try {
    return PROTOCOLS.includes(new URL(raw).protocol);
  } catch {
    return false;
  }
}

/**
 * The URL with its password replaced by "***", for messages and logs. A text that is not a URL at
 * all may still hold a password somewhere: it is hidden whole.
 */
export function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return '(hidden: not a URL)';
  }
  if (url.password) url.password = '***';
  // A password may also come as ?password=… (libpq's parameters, which pg reads too).
  for (const key of [...url.searchParams.keys()]) if (/pass/i.test(key)) url.searchParams.set(key, '***');
  return url.href;
}

/** host:port/database, for sentences about the connection (no user, no password). */
export function describeServer(raw: string): string {
  try {
    const url = new URL(raw);
    const host = decodeURIComponent(url.hostname) || url.searchParams.get('host') || 'localhost';
    const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || '(default database)';
    return `${host}:${url.port || '5432'}/${database}`;
  } catch {
    return 'the PostgreSQL server';
  }
}
