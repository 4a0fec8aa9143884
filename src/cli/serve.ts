import { createServer, openStore } from '../app.js';
import { issueSetupToken } from '../setup/setup.service.js';
import type { Command } from './command.js';

export const serveCommand: Command = {
  name: ['serve'],
  summary: 'run the server (HTTP API, redirects, admin); --host and --port override the config',
  async run({ config, assets, log }) {
    const store = openStore(config, { assets, log, applyPending: true });
    const server = createServer(store);
    await server.listen();
    const setupToken = issueSetupToken(store);
    if (setupToken) {
      // The link is for a person at the console, not for the log stream: it is a secret.
      store.log.warn('no user exists yet: open the setup link printed on stderr within 1 hour (restarting issues a new one)');
      process.stderr.write(`\nLinkQR has no account yet. Create the first owner within 1 hour at:\n  ${server.deps.baseUrl()}/setup?token=${setupToken}\n\n`);
    }
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        store.log.info({ signal }, 'shutting down');
        server.close().then(resolve, (err) => {
          store.log.error({ err }, 'shutdown failed');
          process.exitCode = 1;
          resolve();
        });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    store.log.flush();
  },
};
