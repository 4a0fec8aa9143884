import { type ChangeContext, changes, recordAudit } from '../audit/audit.js';
import type { Db, Queries } from '../db/db.js';
import { getSetting, setSetting } from './settings.repo.js';

/** Settings of the whole instance, changed by instance admins on the Instance page. */
export interface InstanceSettings {
  /**
   * Keep each click's raw user agent (in the clicks table and the `link.clicked` payload).
   * Off by default: device, browser and OS classes are all analytics needs, and a raw agent
   * plus a time narrows a visitor down more than a team usually wants to keep.
   */
  keepUserAgents: boolean;
  /**
   * Every user must sign in with two factors (src/users/two-factor.ts): one without is sent to
   * set it up before any other admin page (src/http/admin/account.routes.ts).
   */
  requireTwoFactor: boolean;
}

const DEFAULTS: InstanceSettings = { keepUserAgents: false, requireTwoFactor: false };
const FIELDS = Object.keys(DEFAULTS) as (keyof InstanceSettings)[];
const STORAGE_KEY = 'instance_settings';

/**
 * Read on hot paths (every click batch, synchronously), so the value is held in memory and
 * replaced on change. A change is announced on the database's change feed, so every instance on
 * the same database reloads it (app.ts); `reload` is also what "clear caches" runs.
 */
export class InstanceSettingsStore {
  /** The settings as stored now: `get()` must answer without a query, so they are read before the store exists. */
  static async load(db: Db): Promise<InstanceSettingsStore> {
    return new InstanceSettingsStore(db, await readSettings(db));
  }

  /** `current`: the stored settings, as `load` reads them. */
  constructor(
    private readonly db: Db,
    private current: InstanceSettings,
  ) {}

  get(): InstanceSettings {
    return this.current;
  }

  async update(ctx: ChangeContext, change: Partial<InstanceSettings>, now: number): Promise<InstanceSettings> {
    const next = await this.db.tx(async (t) => {
      const before = await readSettings(t);
      const after = { ...before, ...change };
      await setSetting(t, STORAGE_KEY, JSON.stringify(after));
      const changed = changes(before, after, FIELDS);
      if (Object.keys(changed).length > 0) {
        await recordAudit(t, ctx, { workspaceId: null, action: 'instance.settings', targetType: 'instance', targetId: null, summary: changed, at: now });
      }
      return after;
    });
    this.current = next;
    this.db.changes.publish({ kind: 'settings' });
    return next;
  }

  async reload(): Promise<void> {
    this.current = await readSettings(this.db);
  }
}

async function readSettings(db: Queries): Promise<InstanceSettings> {
  const raw = await getSetting(db, STORAGE_KEY);
  // Unknown or missing fields fall back to defaults: an older database has none of them yet.
  const stored = raw ? (JSON.parse(raw) as Partial<InstanceSettings>) : {};
  return { keepUserAgents: stored.keepUserAgents === true, requireTwoFactor: stored.requireTwoFactor === true };
}
