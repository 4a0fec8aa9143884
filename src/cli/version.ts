import { VERSION } from '../version.js';

/** `version --json`; plain `version` is answered by the command line itself (commands.ts, quickAnswer). */
export async function version() {
  const { sqliteVersion } = await import('../db/db.js');
  process.stdout.write(`${JSON.stringify({ version: VERSION, node: process.versions.node, sqlite: sqliteVersion() })}\n`);
}
