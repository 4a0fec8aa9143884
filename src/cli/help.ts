import { SETTINGS } from '../config.js';
import { VERSION } from '../version.js';
import type { Command, OptionSpec } from './command.js';

/** The help texts, all made from the command table and the settings: nothing listed twice. */

/** Every configuration setting is also a flag of every command (flags win over LINKQR_* variables). */
export const CONFIG_OPTIONS: Record<string, OptionSpec> = Object.fromEntries(
  SETTINGS.map((s) => [s.flag, { type: 'string', usage: `--${s.flag} V`, description: `${s.about} (${s.env}, default: ${s.shownDefault ?? (s.fallback || 'none')})` }]),
);

const CONFIG_NOTE = 'Every command also takes the configuration flags (--data-dir, --log-level, …), before or after it: see "linkqr --help".';

/** Required options bare, optional ones in brackets: `linkqr key create --workspace W … [--env E]`. */
export function usageOf(cmd: Command): string {
  const positionals = (cmd.positionals ?? []).map((p) => (p.required ? p.name : `[${p.name}]`));
  const options = Object.values(cmd.options ?? {}).map((o) => (o.required ? o.usage : `[${o.usage}]`));
  return ['linkqr', ...cmd.name, ...positionals, ...options].join(' ');
}

const table = (rows: [string, string][], indent = '  ') => {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `${indent}${left.padEnd(width)}  ${right}`);
};

export function commandHelp(cmd: Command): string {
  const lines = [`Usage: ${usageOf(cmd)}`, '', cmd.summary, ''];
  const options = Object.values(cmd.options ?? {});
  if (options.length > 0) lines.push('Options:', ...table(options.map((o) => [o.usage, o.description])), '');
  lines.push(CONFIG_NOTE);
  return `${lines.join('\n')}\n`;
}

const commandRows = (commands: readonly Command[]) => table(commands.map((c) => [c.name.join(' '), c.summary]));

export function generalHelp(commands: readonly Command[]): string {
  return [
    `linkqr ${VERSION}: short links and QR codes with API keys and signed webhooks`,
    '',
    'Usage: linkqr [configuration flags] <command> [options]   (without a command, linkqr serves)',
    '',
    'Commands:',
    ...commandRows(commands),
    '',
    'Configuration flags, for every command, before or after it (each is also an environment variable; the flag wins):',
    ...table(Object.values(CONFIG_OPTIONS).map((o) => [o.usage, o.description])),
    '',
    'Run "linkqr <command> --help" for its options.',
    '',
  ].join('\n');
}

/** `linkqr key`: the commands of a group. */
export function groupHelp(group: string, commands: readonly Command[]): string {
  return [
    ...commandRows(commands.filter((c) => c.name[0] === group)),
    '',
    `Run "linkqr ${group} <command> --help" for its options.`,
    '',
  ].join('\n');
}
