import { createServer, openStore } from '../app.js';
import type { Command } from './command.js';

export const serveCommand: Command = {
  name: ['serve'],
  summary: 'run the server (HTTP API, redirects, admin); --host and --port override the config',
  async run({ config, assets, log }) {
    const store = openStore(config, { assets, log, applyPending: true });
    const server = createServer(store);
    await server.listen();
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
