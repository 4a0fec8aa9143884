import type { Command } from './command.js';

export type Invocation =
  /** `linkqr --help`, `-h`, `help` */
  | { kind: 'help' }
  /** `linkqr key`, `linkqr key --help`: a group name without its command. */
  | { kind: 'group'; group: string; helpAsked: boolean }
  | { kind: 'unknown'; words: string[] }
  /** `args`: the flags given before the command and everything after its name, for parseArgs. */
  | { kind: 'command'; command: Command; args: string[] };

const isFlag = (arg: string) => arg.startsWith('-') && arg !== '-';
const HELP_FLAGS = ['--help', '-h'];

/**
 * Finds the command in a command line whose flags may come before or after it:
 * `linkqr --data-dir /x workspace list` is `linkqr workspace list --data-dir /x`. Before the command
 * name, `valueFlags` (the configuration flags: every one takes a value) have their value skipped;
 * any other flag is taken as a switch and left for parseArgs to judge. Without a command,
 * linkqr serves: a bare `linkqr`, or `linkqr --port 9000`.
 */
export function resolveCommandLine(argv: readonly string[], commands: readonly Command[], valueFlags: ReadonlySet<string>): Invocation {
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length && isFlag(argv[i]!)) {
    const arg = argv[i]!;
    const takesValue = !arg.includes('=') && valueFlags.has(arg.replace(/^--/, '')) && i + 1 < argv.length;
    leading.push(...argv.slice(i, takesValue ? i + 2 : i + 1));
    i += takesValue ? 2 : 1;
  }
  const words = argv.slice(i);
  if (words.length === 0) {
    if (leading.some((a) => HELP_FLAGS.includes(a))) return { kind: 'help' };
    if (leading.includes('--version')) return invoke(commands, ['version'], []);
    return invoke(commands, ['serve'], leading);
  }
  if (words[0] === 'help' && words.length === 1) return { kind: 'help' };
  const found = invoke(commands, words, leading);
  if (found.kind !== 'unknown') return found;
  const [group, verb] = words as [string, string | undefined];
  const isGroup = commands.some((c) => c.name.length > 1 && c.name[0] === group);
  const verbGiven = verb !== undefined && !isFlag(verb);
  if (isGroup && !verbGiven) return { kind: 'group', group, helpAsked: [...leading, ...words].some((a) => HELP_FLAGS.includes(a)) };
  return { kind: 'unknown', words: isGroup ? [group, verb!] : [group] };
}

/** The longest command name the words start with. */
function invoke(commands: readonly Command[], words: readonly string[], leading: string[]): Invocation {
  const matches = commands.filter((c) => c.name.every((word, i) => words[i] === word)).sort((a, b) => b.name.length - a.name.length);
  const command = matches[0];
  return command ? { kind: 'command', command, args: [...leading, ...words.slice(command.name.length)] } : { kind: 'unknown', words: [...words] };
}
