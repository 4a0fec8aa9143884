import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import * as sea from 'node:sea';

/**
 * The only reader of files the server ships with (migrations/, views/, public/, and the
 * IP-to-country database, read from its npm package under node_modules/: src/geo/country-lookup.ts).
 * Everything goes through here so the single executable can serve them from inside itself.
 * Paths are relative to the project root and use forward slashes.
 */
export interface Assets {
  read(path: string): Buffer;
  readText(path: string): string;
  /** Every asset under `dir`, recursively, sorted. */
  list(dir: string): string[];
}

/** The files this build ships with: embedded in the single executable, else on disk beside the code. */
export function shippedAssets(): Assets {
  return sea.isSea() ? embeddedAssets() : diskAssets();
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

/**
 * What scripts/build-binary.mjs embeds in the single executable beside the files, under
 * MANIFEST_KEY: Node 20 cannot list a binary's assets, so the list travels with them.
 */
export interface EmbeddedManifest {
  /** Asset keys of the shipped files (their paths, as diskAssets names them), sorted. */
  files: string[];
  /** Native addons by name: the asset holding the `.node` file and the SHA-256 of its bytes. */
  addons: Record<string, { asset: string; sha256: string }>;
}

export const MANIFEST_KEY = 'linkqr/manifest.json';

let manifest: EmbeddedManifest | undefined;

/** The manifest of the running single executable; throws outside one. */
export function embeddedManifest(): EmbeddedManifest {
  if (!sea.isSea()) throw new Error('not running as the single executable');
  manifest ??= JSON.parse(sea.getAsset(MANIFEST_KEY, 'utf8')) as EmbeddedManifest;
  return manifest;
}

function embeddedAssets(): Assets {
  const { files } = embeddedManifest();
  const known = new Set(files);
  const read = (path: string) => {
    if (!known.has(path)) throw Object.assign(new Error(`no such embedded file: ${path}`), { code: 'ENOENT' });
    return Buffer.from(sea.getAsset(path));
  };
  return {
    read,
    readText: (path) => read(path).toString('utf8'),
    list: (dir) => files.filter((f) => f.startsWith(`${dir.replace(/\/+$/, '')}/`)),
  };
}
