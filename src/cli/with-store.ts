import { openStore, type Store } from '../store.js';
import type { CommandContext } from './command.js';

/** Opens the store for one command and always closes it. */
export async function withStore<T>(ctx: CommandContext, fn: (store: Store) => T | Promise<T>): Promise<T> {
  const store = await openStore(ctx.config, { assets: ctx.assets, log: await ctx.logger() });
  try {
    return await fn(store);
  } finally {
    await store.db.close();
  }
}
