import type { Logger } from 'pino';
import { type Config, loadConfig, SETTINGS } from '../config.js';
import { DB_FILE } from '../db/files.js';
import { storageFailureSentence, storageProblem, unreadableDatabaseSentence } from '../db/storage-errors.js';
import { shippedAssets } from '../lib/assets.js';
import { AppError, OperatorError } from '../lib/errors.js';
import { configureNativeAddons } from '../lib/native-addons.js';
import { COMMANDS } from './commands.js';
import { IMPLEMENTATIONS } from './implementations.js';

/**
 * Runs a command whose command line src/main.ts has checked: reads the configuration, runs the
 * implementation, and says any failure in one sentence. It is a bundle of its own, loaded only
 * once a command has to run, so `--help` and plain `version` never read it: two bundles in fact
 * (scripts/build.mjs), one with the server for `serve` and one without it for every other command.
 * Only plain data crosses from the command line to here.
 */
export interface CheckedCommandLine {
  name: string[];
  options: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** The exit code. Never throws: a failure is written to stderr. */
export async function runCommand({ name, options, positionals }: CheckedCommandLine): Promise<number> {
  const cmd = COMMANDS.find((c) => c.name.join(' ') === name.join(' '));
  const run = IMPLEMENTATIONS[name.join(' ')];
  let config: Config | undefined;
  let log: Promise<Logger> | undefined;
  const logger = (settings: Config) => (log ??= import('../lib/logger.js').then((m) => m.consoleLogger(settings, cmd?.logsTo ?? 'stderr')));
  try {
    if (!cmd || !run) throw new Error(`no implementation for "${name.join(' ')}"`);
    const flags = Object.fromEntries(SETTINGS.map((s) => [s.flag, options[s.flag] as string | undefined]));
    const settings = loadConfig(process.env, flags);
    config = settings;
    configureNativeAddons(settings);
    return (await run({ config: settings, assets: shippedAssets(), logger: () => logger(settings), options, positionals })) ?? 0;
  } catch (err) {
    return reported(config ? await explained(err, config, () => logger(config!)) : err);
  }
}

/**
 * A failure as the operator should read it. A disk that refuses writes (read-only, full,
 * failing) is a sentence about the data dir, found by asking the file system. Anything else
 * unexpected is a bug: one line here, the stack in the log at debug level.
 */
async function explained(err: unknown, config: Config, logger: () => Promise<Logger>): Promise<unknown> {
  if (err instanceof OperatorError || err instanceof AppError) return err;
  if (storageProblem(err)) return new OperatorError(storageFailureSentence(err, config.dataDir, DB_FILE), { cause: err });
  const unreadable = unreadableDatabaseSentence(err, config.dataDir, DB_FILE);
  if (unreadable) return new OperatorError(unreadable, { cause: err });
  const log = await logger();
  log.debug({ err }, 'unexpected error');
  log.flush?.();
  const message = (err as Error)?.message ?? String(err);
  return new OperatorError(`unexpected error: ${message} (run with --log-level debug for the stack trace)`, { cause: err });
}

/** Writes the failure to stderr; returns the exit code. */
function reported(err: unknown): number {
  if (err instanceof AppError) {
    const fields = err.errors?.map((f) => `\n  - ${f.field}: ${f.message}`).join('') ?? '';
    process.stderr.write(`linkqr: ${err.detail}${fields}\n`);
    return err.code === 'usage' ? 2 : 1;
  }
  if (err instanceof OperatorError) {
    process.stderr.write(`linkqr: ${err.message}\n`);
    return err.exitCode;
  }
  // Before the configuration was read: nothing to explain it with.
  process.stderr.write(`linkqr: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}
