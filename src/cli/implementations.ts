import type { CommandContext, CommandRun } from './command.js';

/**
 * What each command of commands.ts does, by its name. Each implementation is imported when its
 * command runs (esbuild keeps each one lazily initialised inside the runner's bundle), so
 * `key create` loads what creating a key needs, not the HTTP server.
 */

/** The command's implementation, imported on first use. */
const lazy =
  <M>(load: () => Promise<M>, pick: (module: M) => CommandRun): CommandRun =>
  async (ctx: CommandContext) =>
    pick(await load())(ctx);

const serve = () => import('./serve.js');
const migrate = () => import('./migrate.js');
const users = () => import('./users.js');
const workspaces = () => import('./workspaces.js');
const plans = () => import('./plans.js');
const members = () => import('./members.js');
const keys = () => import('./keys.js');
const audit = () => import('./audit.js');
const links = () => import('./links.js');
const domains = () => import('./domains.js');
const backup = () => import('./backup.js');
const copyDatabase = () => import('./copy-database.js');
const version = () => import('./version.js');

/** Keyed by the command's words (`key create`); src/cli/cli.test.ts checks it matches the table. */
export const IMPLEMENTATIONS: Record<string, CommandRun> = {
  serve: lazy(serve, (m) => m.serve),
  migrate: lazy(migrate, (m) => m.migrate),
  'user create': lazy(users, (m) => m.userCreate),
  'user reset-password': lazy(users, (m) => m.userResetPassword),
  'user reset-two-factor': lazy(users, (m) => m.userResetTwoFactor),
  'workspace create': lazy(workspaces, (m) => m.workspaceCreate),
  'workspace list': lazy(workspaces, (m) => m.workspaceList),
  'workspace set-plan': lazy(plans, (m) => m.workspaceSetPlan),
  'plan upsert': lazy(plans, (m) => m.planUpsert),
  'plan list': lazy(plans, (m) => m.planList),
  'member add': lazy(members, (m) => m.memberAdd),
  'member role': lazy(members, (m) => m.memberRole),
  'member remove': lazy(members, (m) => m.memberRemove),
  'member list': lazy(members, (m) => m.memberList),
  'key create': lazy(keys, (m) => m.keyCreate),
  'key list': lazy(keys, (m) => m.keyList),
  'key revoke': lazy(keys, (m) => m.keyRevoke),
  'key disable': lazy(keys, (m) => m.keyDisable),
  'key enable': lazy(keys, (m) => m.keyEnable),
  'key rotate': lazy(keys, (m) => m.keyRotate),
  'key allow': lazy(keys, (m) => m.keyAllow),
  'key log': lazy(keys, (m) => m.keyLog),
  'links export': lazy(links, (m) => m.linksExport),
  'links import': lazy(links, (m) => m.linksImport),
  'domain release': lazy(domains, (m) => m.domainRelease),
  audit: lazy(audit, (m) => m.audit),
  backup: lazy(backup, (m) => m.backup),
  'copy-database': lazy(copyDatabase, (m) => m.copyDatabaseCommand),
  version: lazy(version, (m) => m.version),
};

