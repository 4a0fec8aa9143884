/**
 * What this process keeps in memory and another process can change: a link (the redirect cache;
 * `domain` '' for the base URL's host, and absent from versions before domains), the list of
 * domains, the instance settings, or everything at once ("clear caches"). Published after the
 * commit of the change, and heard by every instance, this one included.
 */
export type Change = { kind: 'link'; domain?: string; slug: string } | { kind: 'domains' } | { kind: 'settings' } | { kind: 'caches' };

/** A change, or `reset`: the feed was interrupted and anything may have changed meanwhile. */
export type Heard = Change | { kind: 'reset' };

export interface ChangeFeed {
  publish(change: Change): void;
  subscribe(listener: (heard: Heard) => void): void;
  close(): Promise<void>;
}

/** One process on SQLite (the data dir's lock sees to that): what it publishes, it alone hears. */
export function localChangeFeed(): ChangeFeed {
  const listeners: ((heard: Heard) => void)[] = [];
  return {
    publish: (change) => {
      for (const l of listeners) l(change);
    },
    subscribe: (l) => void listeners.push(l),
    close: async () => {},
  };
}
