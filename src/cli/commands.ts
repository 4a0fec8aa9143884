import { SCOPES } from '../keys/scopes.js';
import { ROLES } from '../policy/policy.js';
import { DEFAULT_ROTATION_GRACE_MS } from '../secrets/rotation-grace.js';
import { PLAN_FEATURES, PLAN_LIMITS } from '../workspaces/plan-catalog.js';
import { VERSION } from '../version.js';
import { type Command, JSON_OPTION, type OptionSpec } from './command.js';

/** Every command: what `--help` shows. What each one does is in implementations.ts. */

const WORKSPACE: OptionSpec = { type: 'string', usage: '--workspace W', description: 'workspace name', required: true };
const MEMBER_EMAIL: OptionSpec = { type: 'string', usage: '--email E', description: 'the user (must exist: linkqr user create)', required: true };
const MEMBER_ROLE: OptionSpec = { type: 'string', usage: '--role R', description: ROLES.join(', '), required: true };
const LIMIT = (max: number): OptionSpec => ({ type: 'string', usage: '--limit N', description: `how many (1 to ${max}, default 50)` });
const ID = [{ name: 'ID', required: true }];

export const COMMANDS: Command[] = [
  {
    name: ['serve'],
    summary: 'run the server (HTTP API, redirects, admin)',
    options: {
      // Configuration flags, shown here because they are what one changes most when serving.
      host: { type: 'string', usage: '--host H', description: 'address to listen on (LINKQR_HOST, default 127.0.0.1)' },
      port: { type: 'string', usage: '--port P', description: 'port to listen on, 0 for any free one (LINKQR_PORT, default 8080)' },
    },
    logsTo: 'stdout',
  },
  {
    name: ['migrate'],
    summary: 'apply pending migrations, or list them with --status',
    options: {
      status: { type: 'boolean', usage: '--status', description: 'list migrations and whether each is applied' },
      ...JSON_OPTION,
    },
  },
  {
    name: ['user', 'create'],
    summary: 'create a user; with --workspace, create W if missing and add the user with --role (default owner)',
    options: {
      email: { type: 'string', usage: '--email E', description: 'the login email', required: true },
      'password-stdin': {
        type: 'boolean',
        usage: '--password-stdin',
        description: 'read the password from standard input (passwords are never taken as arguments)',
        required: true,
      },
      role: { type: 'string', usage: '--role R', description: ROLES.join(', ') },
      workspace: { type: 'string', usage: '--workspace W', description: 'workspace name' },
    },
  },
  {
    name: ['user', 'reset-password'],
    summary: "print a one-time link (only the link, on stdout) where the user chooses a new password; using it ends the user's sessions",
    options: {
      email: { type: 'string', usage: '--email E', description: 'the user (the link is built on LINKQR_BASE_URL)', required: true },
    },
  },
  {
    name: ['user', 'reset-two-factor'],
    summary: 'turn off the two-factor sign-in of a user who lost their authenticator and recovery codes: their password alone signs them in until they set it up again',
    options: {
      email: { type: 'string', usage: '--email E', description: 'the user', required: true },
    },
  },
  {
    name: ['workspace', 'create'],
    summary: 'create a workspace on the default plan; prints its id',
    positionals: [{ name: 'W', required: true }],
  },
  {
    name: ['workspace', 'list'],
    summary: 'list workspaces',
    options: JSON_OPTION,
  },
  {
    name: ['workspace', 'set-plan'],
    summary: 'move a workspace to a plan (takes effect on its next request)',
    positionals: [
      { name: 'W', required: true },
      { name: 'P', required: true },
    ],
  },
  {
    name: ['plan', 'upsert'],
    summary: 'create or change a plan: features on/off and limits (none removes a limit)',
    positionals: [{ name: 'P', required: true }],
    options: {
      feature: { type: 'string', usage: '--feature api=on,webhooks=off', description: `features: ${PLAN_FEATURES.join(', ')}` },
      limit: {
        type: 'string',
        usage: '--limit links=100,members=5',
        description: `limits: ${PLAN_LIMITS.join(', ')} (apiRequestsPerMinute=none follows LINKQR_API_RATE_LIMIT; =unlimited or 0 lifts it)`,
      },
      ...JSON_OPTION,
    },
  },
  {
    name: ['plan', 'list'],
    summary: 'list plans with their features, limits and how many workspaces use each',
    options: JSON_OPTION,
  },
  {
    name: ['member', 'add'],
    summary: 'add an existing user to a workspace with a role',
    options: { workspace: WORKSPACE, email: MEMBER_EMAIL, role: MEMBER_ROLE },
  },
  {
    name: ['member', 'role'],
    summary: "change a member's role (a workspace keeps at least one owner)",
    options: { workspace: WORKSPACE, email: MEMBER_EMAIL, role: MEMBER_ROLE },
  },
  {
    name: ['member', 'remove'],
    summary: 'remove a member from a workspace (not its last owner)',
    options: { workspace: WORKSPACE, email: MEMBER_EMAIL },
  },
  {
    name: ['member', 'list'],
    summary: 'list the members of a workspace',
    options: { workspace: WORKSPACE, ...JSON_OPTION },
  },
  {
    name: ['key', 'create'],
    summary: 'create an API key and print it (only the key, on stdout, once)',
    options: {
      workspace: WORKSPACE,
      name: { type: 'string', usage: '--name N', description: 'what the key is for, e.g. "CRM sync"', required: true },
      scopes: { type: 'string', usage: '--scopes a,b', description: `comma-separated: ${SCOPES.join(', ')}`, required: true },
      env: { type: 'string', usage: '--env E', description: 'environment label: production (default), staging, development or free text' },
      expires: { type: 'string', usage: '--expires 90d', description: 'expire after this long (s, m, h, d)' },
      'allow-cidr': { type: 'string', usage: '--allow-cidr 10.0.0.0/8,…', description: 'usable only from these networks (IPv4/IPv6 CIDRs; default: any address)' },
    },
  },
  {
    name: ['key', 'list'],
    summary: 'list the API keys of a workspace (never their secrets)',
    options: { workspace: WORKSPACE, ...JSON_OPTION },
  },
  {
    name: ['key', 'revoke'],
    summary: 'revoke an API key for good (takes effect on its next request)',
    positionals: ID,
  },
  {
    name: ['key', 'disable'],
    summary: 'disable an API key (reversible with key enable)',
    positionals: ID,
  },
  {
    name: ['key', 'enable'],
    summary: 'enable a disabled API key',
    positionals: ID,
  },
  {
    name: ['key', 'rotate'],
    summary: `give a key a new secret and print it; the old one works for --grace (default ${DEFAULT_ROTATION_GRACE_MS / 86_400_000}d, at most 7d)`,
    positionals: ID,
    options: { grace: { type: 'string', usage: '--grace 1d', description: 'how long the old secret stays valid (0 to 7d)' } },
  },
  {
    name: ['key', 'allow'],
    summary: 'limit where a key may be used from: comma-separated CIDRs, or "any" (takes effect on its next request)',
    positionals: [...ID, { name: 'CIDRS|any', required: true }],
  },
  {
    name: ['key', 'log'],
    summary: "a key's recent requests, newest first (kept 30 days): which integration uses it",
    positionals: ID,
    options: {
      limit: LIMIT(1_000),
      before: { type: 'string', usage: '--before ID', description: 'only requests older than this entry (the id of the last one shown)' },
      ...JSON_OPTION,
    },
  },
  {
    name: ['links', 'export'],
    summary: "write the workspace's links as CSV (LinkQR's format, which links import reads back) to stdout or --out F",
    options: { workspace: WORKSPACE, out: { type: 'string', usage: '--out F', description: 'write to this new file instead of stdout' } },
  },
  {
    name: ['links', 'import'],
    summary: 'import links from FILE (LinkQR CSV, or a Bitly, Shlink, Kutt or YOURLS export); --dry-run only checks',
    positionals: [{ name: 'FILE', required: true }],
    options: {
      workspace: WORKSPACE,
      format: { type: 'string', usage: '--format F', description: 'csv, bitly, shlink, kutt or yourls', required: true },
      'dry-run': { type: 'boolean', usage: '--dry-run', description: 'report what would be created and every problem; create nothing' },
      domain: { type: 'string', usage: '--domain D', description: "put every link on this domain (default: each row's own, else the server's)" },
      ...JSON_OPTION,
    },
  },
  {
    name: ['domain', 'release'],
    summary: 'free a hostname a workspace added but never verified, so another workspace can add it: removes that domain and its links on it (a verified domain is refused)',
    positionals: [{ name: 'HOSTNAME', required: true }],
    options: JSON_OPTION,
  },
  {
    name: ['audit'],
    summary: 'recent audit entries of a workspace, newest first',
    options: { workspace: WORKSPACE, limit: LIMIT(10_000), ...JSON_OPTION },
  },
  {
    name: ['backup'],
    summary: 'write a consistent online copy of the database to FILE (safe while the server runs)',
    positionals: [{ name: 'FILE', required: true }],
    options: { force: { type: 'boolean', usage: '--force', description: 'replace FILE if it exists' } },
  },
  {
    name: ['copy-database'],
    summary: 'copy every row of this database (SQLite in the data dir, or LINKQR_DATABASE_URL) into an empty database of the other kind; with the server stopped',
    options: {
      to: { type: 'string', usage: '--to T', description: 'a postgres:// URL (from SQLite), or a data dir (from PostgreSQL)', required: true },
      ...JSON_OPTION,
    },
  },
  {
    name: ['version'],
    summary: 'print the version (--json: with the Node.js and SQLite versions, for bug reports)',
    options: JSON_OPTION,
    quickAnswer: (options) => (options.json ? undefined : `linkqr ${VERSION}\n`),
  },
];
