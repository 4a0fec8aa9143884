import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { DB_FILE } from './db/files.js';
import { backupCommand } from './cli/backup.js';
import { type Command, JSON_OPTION, type OptionSpec } from './cli/command.js';
import {
  keyAllowCommand,
  keyCreateCommand,
  keyDisableCommand,
  keyEnableCommand,
  keyListCommand,
  keyLogCommand,
  keyRevokeCommand,
  keyRotateCommand,
} from './cli/keys.js';
import { auditCommand } from './cli/audit.js';
import { memberAddCommand, memberListCommand, memberRemoveCommand, memberRoleCommand } from './cli/members.js';
import { migrateCommand } from './cli/migrate.js';
import { planListCommand, planUpsertCommand, workspaceSetPlanCommand } from './cli/plans.js';
import { serveCommand } from './cli/serve.js';
import { userCreateCommand } from './cli/users.js';
import { workspaceCreateCommand, workspaceListCommand } from './cli/workspaces.js';
import { type Config, loadConfig, SETTINGS } from './config.js';
import { sqliteVersion } from './db/db.js';
import { storageFailureSentence, storageProblem } from './db/storage-errors.js';
import { shippedAssets } from './lib/assets.js';
import { AppError, OperatorError } from './lib/errors.js';
import { configureNativeAddons } from './lib/native-addons.js';
import { createLogger } from './lib/logger.js';
import pino from 'pino';
import { VERSION } from './version.js';

const versionCommand: Command = {
  name: ['version'],
  summary: 'print the version (--json: with the Node.js and SQLite versions, for bug reports)',
  options: JSON_OPTION,
  async run({ options }) {
    if (!options.json) {
      process.stdout.write(`linkqr ${VERSION}\n`);
      return;
    }
    process.stdout.write(`${JSON.stringify({ version: VERSION, node: process.versions.node, sqlite: sqliteVersion() })}\n`);
  },
};

const COMMANDS: Command[] = [
  serveCommand,
  migrateCommand,
  userCreateCommand,
  workspaceCreateCommand,
  workspaceListCommand,
  workspaceSetPlanCommand,
  planUpsertCommand,
  planListCommand,
  memberAddCommand,
  memberRoleCommand,
  memberRemoveCommand,
  memberListCommand,
  keyCreateCommand,
  keyListCommand,
  keyRevokeCommand,
  keyDisableCommand,
  keyEnableCommand,
  keyRotateCommand,
  keyAllowCommand,
  keyLogCommand,
  auditCommand,
  backupCommand,
  versionCommand,
];

/** Every command accepts the configuration flags (flags win over LINKQR_* variables). */
const CONFIG_OPTIONS: Record<string, OptionSpec> = Object.fromEntries(
  SETTINGS.map((s) => [s.flag, { type: 'string', usage: `--${s.flag} V`, description: `${s.env} (default: ${s.shownDefault ?? (s.fallback || 'none')})` }]),
);

function usageOf(cmd: Command): string {
  const positionals = (cmd.positionals ?? []).map((p) => (p.required ? p.name : `[${p.name}]`));
  const options = Object.values(cmd.options ?? {}).map((o) => `[${o.usage}]`);
  return ['linkqr', ...cmd.name, ...positionals, ...options].join(' ');
}

function commandHelp(cmd: Command): string {
  const lines = [`Usage: ${usageOf(cmd)}`, '', cmd.summary, ''];
  const options = Object.values(cmd.options ?? {});
  if (options.length > 0) {
    lines.push('Options:');
    for (const o of options) lines.push(`  ${o.usage.padEnd(22)} ${o.description}`);
    lines.push('');
  }
  lines.push('Configuration flags (every command):');
  for (const o of Object.values(CONFIG_OPTIONS)) lines.push(`  ${o.usage.padEnd(30)} ${o.description}`);
  return `${lines.join('\n')}\n`;
}

function generalHelp(): string {
  const lines = [`linkqr ${VERSION}: short links and QR codes with API keys and signed webhooks`, '', 'Commands:'];
  for (const cmd of COMMANDS) lines.push(`  ${cmd.name.join(' ').padEnd(18)} ${cmd.summary}`);
  lines.push('', 'Run "linkqr <command> --help" for its options. Without a command, linkqr serves.');
  return `${lines.join('\n')}\n`;
}

function findCommand(args: string[]): { cmd: Command; rest: string[] } | undefined {
  for (const cmd of [...COMMANDS].sort((a, b) => b.name.length - a.name.length)) {
    if (cmd.name.every((word, i) => args[i] === word)) return { cmd, rest: args.slice(cmd.name.length) };
  }
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  // A bare `linkqr` or `linkqr --port 9000` serves.
  if (argv.length === 0 || (argv[0]!.startsWith('-') && !['--help', '-h', '--version'].includes(argv[0]!))) argv = ['serve', ...argv];
  if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(generalHelp());
    return 0;
  }
  if (argv[0] === '--version') argv = ['version'];
  const found = findCommand(argv);
  if (!found) {
    process.stderr.write(`linkqr: unknown command "${argv.slice(0, 2).join(' ')}"\n\n${generalHelp()}`);
    return 2;
  }
  const { cmd, rest } = found;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        ...Object.fromEntries(Object.entries({ ...CONFIG_OPTIONS, ...cmd.options }).map(([k, o]) => [k, { type: o.type }])),
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    process.stderr.write(`linkqr ${cmd.name.join(' ')}: ${(e as Error).message}\n\nUsage: ${usageOf(cmd)}\n`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(commandHelp(cmd));
    return 0;
  }
  const expected = cmd.positionals ?? [];
  const missing = expected.filter((p, i) => p.required && parsed.positionals[i] === undefined);
  if (missing.length > 0 || parsed.positionals.length > expected.length) {
    process.stderr.write(`linkqr ${cmd.name.join(' ')}: expected ${expected.map((p) => p.name).join(' ') || 'no arguments'}\n\nUsage: ${usageOf(cmd)}\n`);
    return 2;
  }

  const values = parsed.values as Record<string, string | boolean | undefined>;
  const flags = Object.fromEntries(SETTINGS.map((s) => [s.flag, values[s.flag] as string | undefined]));
  const config = loadConfig(process.env, flags);
  configureNativeAddons(config);
  const log = createLogger(config.logLevel, pino.destination({ fd: cmd === serveCommand ? 1 : 2, sync: cmd !== serveCommand }));
  try {
    const code = await cmd.run({ config, assets: shippedAssets(), log, options: values, positionals: parsed.positionals });
    return code ?? 0;
  } catch (err) {
    throw explained(err, config, log);
  }
}

/**
 * A failure as the operator should read it. A disk that refuses writes (read-only, full,
 * failing) is a sentence about the data dir, found by asking the file system. Anything else
 * unexpected is a bug: one line here, the stack in the log at debug level.
 */
function explained(err: unknown, config: Config, log: Logger): unknown {
  if (err instanceof OperatorError || err instanceof AppError) return err;
  if (storageProblem(err)) return new OperatorError(storageFailureSentence(err, config.dataDir, DB_FILE), { cause: err });
  log.debug({ err }, 'unexpected error');
  log.flush?.();
  const message = (err as Error)?.message ?? String(err);
  return new OperatorError(`unexpected error: ${message} (run with --log-level debug for the stack trace)`, { cause: err });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof AppError) {
      const fields = err.errors?.map((f) => `\n  - ${f.field}: ${f.message}`).join('') ?? '';
      process.stderr.write(`linkqr: ${err.detail}${fields}\n`);
      process.exitCode = err.code === 'usage' ? 2 : 1;
    } else if (err instanceof OperatorError) {
      process.stderr.write(`linkqr: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      // Before the configuration was read: nothing to explain it with.
      process.stderr.write(`linkqr: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
