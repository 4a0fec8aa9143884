import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as sea from 'node:sea';
import { type Config, ConfigError } from '../config.js';
import { embeddedManifest } from './assets.js';

/**
 * The native addon (better-sqlite3's), loaded one way for every runtime:
 * - from node_modules, as the package would (tsx, `node dist/linkqr.cjs`);
 * - inside the single executable, from the `.node` bytes embedded in it: written once to the
 *   addon directory under its content hash, then `process.dlopen`ed (a shared object can only
 *   be loaded from a file).
 * The bundle (scripts/build.mjs) routes the package's own `bindings` call here. (argon2 is Node's
 * own, in node:crypto: src/lib/passwords.ts.)
 */
export type AddonName = 'better_sqlite3';

const FROM_PACKAGE: Record<AddonName, () => object> = {
  // better-sqlite3 13 ships Node-API builds in prebuilds/ and picks one itself.
  better_sqlite3: () => createRequire(packageJson('better-sqlite3'))('./lib/binding.js').getBinding(null) as object,
};

const packageJson = (name: string) => createRequire(__filename).resolve(`${name}/package.json`);

let addonDir: string | undefined;
const loaded = new Map<AddonName, object>();

/**
 * Where the single executable unpacks its addons: LINKQR_ADDON_DIR, else `<data dir>/.addons`.
 * Called once the configuration is read, before the first addon is needed.
 */
export function configureNativeAddons(config: Pick<Config, 'addonDir' | 'dataDir'>): void {
  addonDir = config.addonDir ?? join(config.dataDir, '.addons');
}

/** The addon's exports, loaded now (once per process). */
export function nativeAddon(name: AddonName): object {
  let addon = loaded.get(name);
  if (!addon) {
    addon = sea.isSea() ? loadEmbedded(name) : FROM_PACKAGE[name]();
    loaded.set(name, addon);
  }
  return addon;
}

function loadEmbedded(name: AddonName): object {
  const entry = embeddedManifest().addons[name];
  if (!entry) throw new Error(`the native addon ${name} is not embedded in this executable`);
  if (addonDir === undefined) throw new Error('configureNativeAddons() must run before the first native addon is loaded');
  const dir = addonDir;
  const file = join(dir, `${name}-${entry.sha256}.node`);
  try {
    if (!existsSync(file)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // Under a name of its own first (no two running processes share a pid, and a process writes
      // each addon once): a concurrent start sees either no file or a whole one.
      const temp = `${file}.${process.pid}.tmp`;
      try {
        writeFileSync(temp, Buffer.from(sea.getRawAsset(entry.asset) as ArrayBuffer), { mode: 0o755 });
        renameSync(temp, file);
      } finally {
        rmSync(temp, { force: true });
      }
    }
    const module = { exports: {} };
    process.dlopen(module, file);
    return module.exports;
  } catch (e) {
    throw new ConfigError([
      `LINKQR_ADDON_DIR (--addon-dir) ${JSON.stringify(dir)}: cannot load the native addon ${name} there (${(e as Error).message}); ` +
        'use a writable directory on a filesystem that allows executables (not one mounted noexec, as /tmp often is)',
    ]);
  }
}
