import { resolve } from 'node:path';
import { isPostgresUrl, redactUrl } from './db/postgres-url.js';
import { parseDuration } from './lib/duration.js';
import { OperatorError } from './lib/errors.js';

/** Settings of SPEC §1. The only module that reads process.env. */
export interface Config {
  host: string;
  port: number;
  /** Without a trailing slash. Undefined means "http://HOST:PORT" of the bound socket. */
  baseUrl: string | undefined;
  dataDir: string;
  /**
   * postgres://… when the database is PostgreSQL; undefined: SQLite in the data dir. Holds the
   * password: show it only through redactUrl (src/db/postgres-url.ts).
   */
  databaseUrl: string | undefined;
  logLevel: LogLevel;
  /** Undefined: pretty for a person at a terminal, JSON lines otherwise (decided per output stream). */
  logFormat: LogFormat | undefined;
  /** Express's `trust proxy` value: false, true, a hop count, or a list of addresses/CIDRs. */
  trustProxy: boolean | number | string[];
  webhookAllowedCidrs: string[];
  backupCron: string;
  backupKeep: number;
  /** Delays before each retry, in milliseconds. */
  webhookRetrySchedule: number[];
  /** Keys the encryption of secrets at rest (webhook signing secrets, visitor salts); never stored. */
  secret: string | undefined;
  /** Where the single executable unpacks its native addons. Undefined: `<dataDir>/.addons`. */
  addonDir: string | undefined;
  /** API requests per minute per key when the workspace's plan sets none; 0 is unlimited. */
  apiRateLimit: number;
  /**
   * smtp://… or smtps://… of the mail server that sends invitations and password resets;
   * undefined: no mail. Holds the password: show it only through redactUrl.
   */
  smtpUrl: string | undefined;
  /** The From of that mail, `linkqr@example.com` or `LinkQR <linkqr@example.com>`; set whenever smtpUrl is. */
  mailFrom: string | undefined;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const DEFAULT_BACKUP_CRON = '0 3 * * *';

/**
 * node-cron loads child_process and crypto when it is imported (~15 ms, most of a command's start):
 * it is required only to check a schedule the operator set, not by every command that reads the
 * configuration.
 */
function isCronExpression(raw: string): boolean {
  return (require('node-cron') as typeof import('node-cron')).validate(raw);
}

/**
 * lib/net.ts loads node:net (~3 ms, the largest part of `linkqr --help`): required only to check
 * a setting that lists networks.
 */
function parseCidr(text: string) {
  return (require('./lib/net.js') as typeof import('./lib/net.js')).parseCidr(text);
}

/** A billion a minute is far beyond what one process can serve: a larger number is a typo. */
const MAX_API_RATE_LIMIT = 1_000_000_000;

/** A mail address as the From of a message: `a@b.c`, or `Name <a@b.c>`; no line breaks (header injection). */
function parseMailFrom(raw: string): string | { error: string } | undefined {
  const text = raw.trim();
  if (text === '') return undefined;
  const address = /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/;
  const named = /^([^<>\r\n]*)<([^<>]+)>$/.exec(text);
  const ok = !/[\r\n]/.test(text) && (named ? address.test(named[2]!) : address.test(text));
  return ok ? text : { error: 'must be a mail address such as linkqr@example.com or "LinkQR <linkqr@example.com>"' };
}

const SMTP_PROTOCOLS = ['smtp:', 'smtps:'];

interface Setting<K extends keyof Config> {
  key: K;
  env: string;
  flag: string;
  fallback: string;
  /** What --help shows as the default when `fallback` is empty but means something. */
  shownDefault?: string;
  /** What it is, in a few words, for --help. */
  about: string;
  /** How a bad value is shown in the error; default: quoted as given. For settings that hold secrets. */
  shown?: (raw: string) => string;
  parse(raw: string): Config[K] | { error: string };
}

const setting = <K extends keyof Config>(s: Setting<K>) => s;

/** One row per setting: env var, flag, default, and how to parse it. Flags win over env. */
export const SETTINGS = [
  setting({
    key: 'host', env: 'LINKQR_HOST', flag: 'host', fallback: '127.0.0.1', about: 'address to listen on',
    parse: (raw) => (raw.trim() !== '' && !/\s/.test(raw) ? raw : { error: 'must be a host name or address' }),
  }),
  setting({
    key: 'port', env: 'LINKQR_PORT', flag: 'port', fallback: '8080', about: 'port to listen on, 0 for any free one',
    parse: (raw) => {
      const n = Number(raw);
      return /^\d+$/.test(raw) && n <= 65535 ? n : { error: 'must be an integer from 0 to 65535' };
    },
  }),
  setting({
    key: 'baseUrl', env: 'LINKQR_BASE_URL', flag: 'base-url', fallback: '', shownDefault: 'http://HOST:PORT', about: 'origin of short URLs, e.g. https://go.example.com',
    parse: (raw) => {
      if (raw === '') return undefined;
      try {
        const url = new URL(raw);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') return { error: 'must be an http:// or https:// URL' };
        // A bare "?" or "#" leaves url.search/hash empty but stays in href, so look at the text.
        if (/[?#]/.test(raw) || url.username || url.password) return { error: 'must not have a query, fragment or credentials' };
        return url.href.replace(/\/+$/, '');
      } catch {
        return { error: 'must be an absolute URL such as https://go.example.com' };
      }
    },
  }),
  setting({
    key: 'dataDir', env: 'LINKQR_DATA_DIR', flag: 'data-dir', fallback: './data', about: 'holds the database, backups and the key file',
    parse: (raw) => (raw.trim() !== '' ? resolve(raw) : { error: 'must be a directory path' }),
  }),
  setting({
    // The data dir stays in use with PostgreSQL: the key file, backups and native addons live there.
    key: 'databaseUrl', env: 'LINKQR_DATABASE_URL', flag: 'database-url', fallback: '', shownDefault: 'unset: SQLite in <data dir>/linkqr.db',
    about: 'PostgreSQL database, postgres://USER:PASSWORD@HOST:5432/DB, for the server and every command',
    shown: (raw) => JSON.stringify(redactUrl(raw)),
    parse: (raw) =>
      raw === ''
        ? undefined
        : isPostgresUrl(raw)
          ? raw
          : { error: 'must be a PostgreSQL URL such as postgres://linkqr:PASSWORD@db.example.com:5432/linkqr (postgres:// or postgresql://), or unset for SQLite in the data dir' },
  }),
  setting({
    // Empty means <data dir>/.addons. It must allow executables: a noexec mount cannot load them.
    key: 'addonDir', env: 'LINKQR_ADDON_DIR', flag: 'addon-dir', fallback: '', shownDefault: '<data dir>/.addons', about: 'where the single executable unpacks its native addons',
    parse: (raw) =>
      raw === '' ? undefined : raw.trim() !== '' ? resolve(raw) : { error: 'must be a directory path on a filesystem that allows executables (not noexec)' },
  }),
  setting({
    key: 'logLevel', env: 'LINKQR_LOG_LEVEL', flag: 'log-level', fallback: 'info', about: 'trace, debug, info, warn, error, fatal or silent',
    parse: (raw) =>
      (LOG_LEVELS as readonly string[]).includes(raw) ? (raw as LogLevel) : { error: `must be one of ${LOG_LEVELS.join(', ')}` },
  }),
  setting({
    key: 'logFormat', env: 'LINKQR_LOG_FORMAT', flag: 'log-format', fallback: '', shownDefault: 'pretty on a terminal, else json',
    about: 'pretty: one readable line per event; json: one JSON object per line',
    parse: (raw) =>
      raw === '' ? undefined : (LOG_FORMATS as readonly string[]).includes(raw) ? (raw as LogFormat) : { error: `must be ${LOG_FORMATS.join(' or ')}` },
  }),
  setting({
    key: 'trustProxy', env: 'LINKQR_TRUST_PROXY', flag: 'trust-proxy', fallback: 'off', about: 'on, a hop count, or proxy addresses/CIDRs',
    parse: (raw) => {
      const word = raw.trim().toLowerCase();
      if (['off', 'false', 'no', '0', ''].includes(word)) return false;
      if (['on', 'true', 'yes'].includes(word)) return true;
      if (/^\d+$/.test(word)) return Number(word);
      const parts = word.split(',').map((p) => p.trim());
      const named = ['loopback', 'linklocal', 'uniquelocal'];
      const bad = parts.filter((p) => !named.includes(p) && !parseCidr(p));
      return bad.length === 0
        ? parts
        : { error: `must be off, on, a hop count, or addresses/CIDRs (bad: ${bad.join(', ')})` };
    },
  }),
  setting({
    key: 'webhookAllowedCidrs', env: 'LINKQR_WEBHOOK_ALLOWED_CIDRS', flag: 'webhook-allowed-cidrs', fallback: '', about: 'intranet networks webhooks may reach',
    parse: (raw) => {
      const parts = raw.split(',').map((p) => p.trim()).filter(Boolean);
      const bad = parts.filter((p) => !parseCidr(p));
      return bad.length === 0 ? parts : { error: `must be a comma-separated list of CIDRs (bad: ${bad.join(', ')})` };
    },
  }),
  setting({
    key: 'backupCron', env: 'LINKQR_BACKUP_CRON', flag: 'backup-cron', fallback: DEFAULT_BACKUP_CRON, about: 'when the scheduled backup runs',
    parse: (raw) => (raw === DEFAULT_BACKUP_CRON || isCronExpression(raw) ? raw : { error: 'must be a cron expression such as "0 3 * * *"' }),
  }),
  setting({
    key: 'backupKeep', env: 'LINKQR_BACKUP_KEEP', flag: 'backup-keep', fallback: '7', about: 'scheduled backups kept',
    parse: (raw) => {
      const n = Number(raw);
      return /^\d+$/.test(raw) && n >= 1 && n <= 1000 ? n : { error: 'must be an integer from 1 to 1000' };
    },
  }),
  setting({
    key: 'webhookRetrySchedule', env: 'LINKQR_WEBHOOK_RETRY_SCHEDULE', flag: 'webhook-retry-schedule', about: 'delays between webhook retries',
    fallback: '5s,5m,30m,2h,5h,10h,14h,20h,24h',
    parse: (raw) => {
      const parts = raw.split(',').map((p) => p.trim());
      const delays = parts.map(parseDuration);
      const bad = parts.filter((_, i) => delays[i] === undefined);
      if (bad.length > 0) {
        return { error: `must be comma-separated durations like 5s,5m,2h, each at most 36500d (bad: ${bad.map((b) => JSON.stringify(b)).join(', ')})` };
      }
      if (parts.length > 20) return { error: 'must have at most 20 retries' };
      return delays as number[];
    },
  }),
  setting({
    key: 'apiRateLimit', env: 'LINKQR_API_RATE_LIMIT', flag: 'api-rate-limit', fallback: '1200', about: 'API requests per minute per key, 0 for no limit',
    parse: (raw) => {
      const n = Number(raw);
      return /^\d{1,10}$/.test(raw) && n <= MAX_API_RATE_LIMIT
        ? n
        : { error: `must be a whole number of requests per minute per API key, from 0 (unlimited) to ${MAX_API_RATE_LIMIT}` };
    },
  }),
  setting({
    // The at-rest key is derived from it (src/secrets/at-rest-key.ts); unset, a key file in the data dir is made.
    key: 'secret', env: 'LINKQR_SECRET', flag: 'secret', fallback: '', shownDefault: 'unset: a random key in <data dir>/linkqr.key', about: 'derives the key that encrypts secrets at rest',
    shown: () => '(hidden)',
    parse: (raw) => (raw === '' ? undefined : raw.length >= 32 ? raw : { error: 'must be at least 32 characters' }),
  }),
  setting({
    key: 'smtpUrl', env: 'LINKQR_SMTP_URL', flag: 'smtp-url', fallback: '', shownDefault: 'unset: no mail',
    about: 'mail server for invitations and password resets, smtp://USER:PASSWORD@HOST:587 (STARTTLS, required except to a relay on localhost) or smtps://…:465',
    shown: (raw) => JSON.stringify(redactUrl(raw)),
    parse: (raw) => {
      if (raw === '') return undefined;
      const url = URL.parse(raw);
      return url && SMTP_PROTOCOLS.includes(url.protocol) && url.hostname !== ''
        ? raw
        : { error: 'must be an SMTP URL such as smtp://linkqr:PASSWORD@mail.example.com:587 (smtp:// or smtps://), or unset for no mail' };
    },
  }),
  setting({
    key: 'mailFrom', env: 'LINKQR_MAIL_FROM', flag: 'mail-from', fallback: '', shownDefault: 'none (required with --smtp-url)',
    about: 'sender of that mail, e.g. "LinkQR <linkqr@example.com>"',
    parse: parseMailFrom,
  }),
];

/** Settings that only make sense together: what each one alone cannot check (`bad`: those refused already). */
function crossProblems(config: Partial<Config>, bad: ReadonlySet<keyof Config>): string[] {
  if (config.smtpUrl !== undefined && config.mailFrom === undefined && !bad.has('mailFrom')) {
    return ['LINKQR_SMTP_URL (--smtp-url) is set without LINKQR_MAIL_FROM (--mail-from): set the address mail is sent from, e.g. "LinkQR <linkqr@example.com>"'];
  }
  return [];
}

export class ConfigError extends OperatorError {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads every setting, validates all of them, and reports every bad one at once. */
export function loadConfig(env: NodeJS.ProcessEnv, flags: Record<string, string | undefined> = {}): Readonly<Config> {
  const config: Partial<Record<keyof Config, unknown>> = {};
  const problems: string[] = [];
  const bad = new Set<keyof Config>();
  for (const s of SETTINGS) {
    const fromFlag = flags[s.flag];
    const raw = fromFlag ?? env[s.env] ?? s.fallback;
    const parsed = s.parse(raw);
    if (parsed !== null && typeof parsed === 'object' && 'error' in parsed) {
      const source = fromFlag !== undefined ? `--${s.flag}` : s.env;
      // A setting that holds a secret says how it may be shown; the others are quoted as given.
      const shown = s.shown ? s.shown(raw) : JSON.stringify(raw);
      problems.push(`${source}=${shown}: ${parsed.error}`);
      bad.add(s.key);
    } else {
      config[s.key] = parsed;
    }
  }
  problems.push(...crossProblems(config as Partial<Config>, bad));
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config as Config);
}
