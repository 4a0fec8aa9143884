import { createServer, type Server } from '../app.js';
import { openStore } from '../store.js';
import { lockDataDir } from '../db/data-dir-lock.js';
import { dropStat4Samples } from '../db/db.js';
import { loadAtRestKeys } from '../secrets/at-rest-key.js';
import { issueSetupToken } from '../setup/setup.service.js';
import { VERSION } from '../version.js';
import type { CommandContext } from './command.js';

/**
 * Runs the server. Everything that can fail at start-up (the data dir in use or unwritable, the
 * at-rest key, a migration, a write, the port) fails before the port opens, and main.ts prints it
 * as one sentence with exit code 1: never a server that listens but cannot do its work.
 */
export async function serve({ config, assets, logger }: CommandContext) {
  const log = await logger();
  // Listening for the signals before anything else: one that arrives while the server starts
  // stops it once started, instead of killing it half-way (no handler means the default action).
  const stopSignal = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  // First: no migration may run under another server's feet. (On PostgreSQL, instances share the
  // database, not a data dir: the migration runner's advisory lock serialises them.)
  const lock = config.databaseUrl ? undefined : lockDataDir(config.dataDir, { startedAt: new Date().toISOString(), version: VERSION });
  try {
    if (lock?.previous) {
      log.warn(
        { pid: lock.previous.pid, startedAt: lock.previous.startedAt },
        'the previous server on this data dir did not stop cleanly (killed or crashed): clicks of its last moments may be lost (README: crash window)',
      );
    }
    // A key file that cannot be read stops the start before a migration (and its backup) runs.
    const atRestKeys = loadAtRestKeys(config);
    const store = await openStore(config, { assets, log, applyPending: true });
    let server: Server;
    let setupToken: string | undefined;
    try {
      // Before the port opens, as every write of the start: one that fails fails the start.
      // Value samples (a hand-run ANALYZE) would slow every joined lookup until the nightly job.
      if (store.db.dialect === 'sqlite') dropStat4Samples(store.db.sqlite);
      setupToken = await issueSetupToken(store);
      server = await createServer(store, { atRestKeys });
      await server.listen();
    } catch (e) {
      await store.db.close();
      throw e;
    }
    // Nothing below can fail: once listening, the server runs until a signal stops it.
    if (setupToken) {
      // The link is for a person at the console, not for the log stream: it is a secret.
      store.log.warn('no user exists yet: open the setup link printed on stderr within 1 hour (restarting issues a new one)');
      process.stderr.write(`\nLinkQR has no account yet. Create the first owner within 1 hour at:\n  ${server.deps.baseUrl()}/setup?token=${setupToken}\n\n`);
    }
    const signal = await stopSignal;
    store.log.info({ signal }, 'shutting down');
    // A failed stop (clicks that could not be written) exits 1 with the reason on stderr (main.ts).
    await server.close();
  } finally {
    lock?.release();
    log.flush();
  }
}
