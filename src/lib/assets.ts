import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

/**
 * The only reader of files the server ships with (migrations/, views/, public/).
 * Everything goes through here so the single executable can serve them from inside itself.
 * Paths are relative to the project root and use forward slashes.
 */
export interface Assets {
  read(path: string): Buffer;
  readText(path: string): string;
  /** Every asset under `dir`, recursively, sorted. */
  list(dir: string): string[];
}

export function diskAssets(root = findProjectRoot(__dirname)): Assets {
  const read = (path: string) => readFileSync(join(root, path));
  return {
    read,
    readText: (path) => read(path).toString('utf8'),
    list(dir) {
      const base = join(root, dir);
      if (!existsSync(base)) return [];
      const out: string[] = [];
      const walk = (d: string) => {
        for (const name of readdirSync(d)) {
          const full = join(d, name);
          if (statSync(full).isDirectory()) walk(full);
          else out.push(relative(root, full).split(sep).join('/'));
        }
      };
      walk(base);
      return out.sort();
    },
  };
}

/** The folder holding package.json and migrations/, from the source tree or from dist/. */
function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'migrations'))) return dir;
    if (dirname(dir) === dir) throw new Error(`cannot find the LinkQR project root above ${start}`);
  }
}
