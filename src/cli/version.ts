import { VERSION } from '../version.js';
import type { CommandContext } from './command.js';

export async function version({ options }: CommandContext) {
  if (!options.json) {
    process.stdout.write(`linkqr ${VERSION}\n`);
    return;
  }
  // The database layer only for --json: a plain `version` starts as fast as Node itself.
  const { sqliteVersion } = await import('../db/db.js');
  process.stdout.write(`${JSON.stringify({ version: VERSION, node: process.versions.node, sqlite: sqliteVersion() })}\n`);
}
