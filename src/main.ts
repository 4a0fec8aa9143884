import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import type { Command } from './cli/command.js';
import { resolveCommandLine } from './cli/command-line.js';
import { COMMANDS } from './cli/commands.js';
import { CONFIG_OPTIONS, commandHelp, generalHelp, groupHelp, usageOf } from './cli/help.js';
import { type Config, loadConfig, SETTINGS } from './config.js';
import { DB_FILE } from './db/files.js';
import { storageFailureSentence, storageProblem, unreadableDatabaseSentence } from './db/storage-errors.js';
import { shippedAssets } from './lib/assets.js';
import { AppError, OperatorError } from './lib/errors.js';
import { configureNativeAddons } from './lib/native-addons.js';
import { notOnPostgresYet } from './db/postgres-not-yet.js';

// The entry point: find the command, check its arguments, read the configuration, run it. Only
// what every command needs is imported here; each command's implementation, the logger and the
// database are imported when a command needs them (src/cli/commands.ts), so `version` and
// `--help` add little to Node's own start (scripts/bench/cold-start.mjs).

/** A mistake in how the command was called: said in one line with the usage, exit code 2. */
class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const call = resolveCommandLine(argv, COMMANDS, new Set(Object.keys(CONFIG_OPTIONS)));
  switch (call.kind) {
    case 'help':
      process.stdout.write(generalHelp(COMMANDS));
      return 0;
    case 'group':
      // Asked for (`linkqr key --help`): the list is the answer. Not asked (`linkqr key`, or
      // `linkqr key $VERB` with an empty VERB in a script): a usage error that lists the choices.
      if (call.helpAsked) {
        process.stdout.write(`Commands of linkqr ${call.group}:\n${groupHelp(call.group, COMMANDS)}`);
        return 0;
      }
      process.stderr.write(`linkqr ${call.group}: which one? Its commands are:\n${groupHelp(call.group, COMMANDS)}`);
      return 2;
    case 'unknown':
      process.stderr.write(`linkqr: unknown command "${call.words.join(' ')}"; "linkqr --help" lists the commands\n`);
      return 2;
  }
  const cmd = call.command;
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseCommandArgs(cmd, call.args));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`linkqr ${cmd.name.join(' ')}: ${e.message}\n\nUsage: ${usageOf(cmd)}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(commandHelp(cmd));
    return 0;
  }

  const flags = Object.fromEntries(SETTINGS.map((s) => [s.flag, values[s.flag] as string | undefined]));
  const config = loadConfig(process.env, flags);
  // Before the command touches anything (the data dir's lock, its key file): with PostgreSQL set,
  // only the commands that work on it run.
  if (config.databaseUrl && !cmd.worksOnPostgres) throw notOnPostgresYet(cmd.name);
  configureNativeAddons(config);
  let log: Promise<Logger> | undefined;
  const logger = () => (log ??= import('./lib/logger.js').then((m) => m.consoleLogger(config, cmd.logsTo ?? 'stderr')));
  try {
    const code = await cmd.run({ config, assets: shippedAssets(), logger, options: values, positionals });
    return code ?? 0;
  } catch (err) {
    throw await explained(err, config, logger);
  }
}

/** The command's options (and the configuration flags, wherever they are), checked against what it takes. */
function parseCommandArgs(cmd: Command, args: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        ...Object.fromEntries(Object.entries({ ...CONFIG_OPTIONS, ...cmd.options }).map(([k, o]) => [k, { type: o.type }])),
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(parseArgsMistake(e as Error & { code?: string }));
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return { values, positionals: parsed.positionals };
  const expected = cmd.positionals ?? [];
  const missingPositional = expected.some((p, i) => p.required && parsed.positionals[i] === undefined);
  if (missingPositional || parsed.positionals.length > expected.length) {
    throw new UsageError(`expected ${expected.map((p) => p.name).join(' ') || 'no arguments'}`);
  }
  const missing = Object.entries(cmd.options ?? {}).filter(([name, o]) => o.required && values[name] === undefined).map(([name]) => `--${name}`);
  if (missing.length > 0) throw new UsageError(`${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} required`);
  return { values, positionals: parsed.positionals };
}

/** parseArgs' messages, shortened to what the operator needs: "unknown option --colour", "--workspace needs a value". */
function parseArgsMistake(e: Error & { code?: string }): string {
  const option = /'(-[^' ]+)/.exec(e.message)?.[1];
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) return `unknown option ${option}`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option && /argument missing/.test(e.message)) return `${option} needs a value`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option && /does not take an argument/.test(e.message)) return `${option} takes no value`;
  return e.message;
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

// The output cannot be written. `linkqr audit … | head`: the reader has what it wanted and closed
// the pipe (EPIPE), so stop quietly, as the standard tools do. Anything else (a full disk under
// `> file`) is one sentence, like every other failure, not an unhandled 'error' event.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') process.stderr.write(`linkqr: cannot write the output: ${err.message}\n`);
  process.exit(err.code === 'EPIPE' ? 0 : 1);
});

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
      process.exitCode = err.exitCode;
    } else {
      // Before the configuration was read: nothing to explain it with.
      process.stderr.write(`linkqr: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
