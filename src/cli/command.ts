import type { Config } from '../config.js';
import { userInfo } from 'node:os';
import type { Logger } from 'pino';
import type { ChangeContext } from '../audit/audit.js';
import type { Assets } from '../lib/assets.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Shown in --help, e.g. "--email E". */
  usage: string;
  description: string;
  /** Checked before the command runs; shown without brackets in the usage line. */
  required?: boolean;
}

export interface CommandContext {
  config: Readonly<Config>;
  assets: Assets;
  /**
   * The command's log (made on first call: `version` needs none): on stdout for serve, on stderr
   * for the other commands (their stdout is for results).
   */
  logger(): Promise<Logger>;
  options: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Returns the exit code (default 0). */
export type CommandRun = (ctx: CommandContext) => Promise<number | void>;

/**
 * A command as `--help` shows it. Its implementation is in implementations.ts, which only the
 * command runner (run-command.ts, a bundle of its own) imports: the table, the help and plain
 * `version` load nothing else.
 */
export interface Command {
  /** e.g. ['key', 'create'] */
  name: string[];
  summary: string;
  positionals?: { name: string; required: boolean }[];
  options?: Record<string, OptionSpec>;
  /** Where its log lines go: serve logs on stdout, the other commands keep stdout for their result. */
  logsTo?: 'stdout' | 'stderr';
  /**
   * The whole answer, when these options need neither the configuration nor the database
   * (`version` without --json): given by the command line itself, as fast as --help.
   */
  quickAnswer?: (options: Record<string, string | boolean | undefined>) => string | undefined;
}

export const JSON_OPTION: Record<string, OptionSpec> = {
  json: { type: 'boolean', usage: '--json', description: 'one JSON object per line' },
};

export function stringOption(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.options[name];
  return typeof v === 'string' ? v : undefined;
}

/** The audit actor of CLI commands: the operator, named by their OS account. */
export function operatorContext(): ChangeContext {
  let name = 'unknown';
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry (containers): stay anonymous
  }
  return { actor: { type: 'operator', id: `cli:${name}` }, ip: null };
}

/**
 * The origin of short URLs as the server gives them: LINKQR_BASE_URL, else the address it
 * listens on (as src/app.ts names itself when it has none).
 */
export function serverBaseUrl(config: Pick<CommandContext['config'], 'baseUrl' | 'host' | 'port'>): string {
  if (config.baseUrl !== undefined) return config.baseUrl;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}
