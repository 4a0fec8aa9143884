import { type ChangeContext, changes, recordAudit } from '../audit/audit.js';
import type { Db } from '../db/db.js';
import { getSetting, setSetting } from './settings.repo.js';

/** Settings of the whole instance, changed by instance admins on the Instance page. */
export interface InstanceSettings {
  /**
   * Keep each click's raw user agent (in the clicks table and the `link.clicked` payload).
   * Off by default: device, browser and OS classes are all analytics needs, and a raw agent
   * plus a time narrows a visitor down more than a team usually wants to keep.
   */
  keepUserAgents: boolean;
}

const DEFAULTS: InstanceSettings = { keepUserAgents: false };
const FIELDS = Object.keys(DEFAULTS) as (keyof InstanceSettings)[];
const STORAGE_KEY = 'instance_settings';

/**
 * Read on hot paths (every click batch), so the value is held in memory and replaced on change.
 * One process owns the database, so nothing else changes it behind our back except the CLI,
 * which is why `reload` exists ("clear caches").
 */
export class InstanceSettingsStore {
  private current: InstanceSettings;

  constructor(private readonly db: Db) {
    this.current = this.read();
  }

  get(): InstanceSettings {
    return this.current;
  }

  update(ctx: ChangeContext, change: Partial<InstanceSettings>, now: number): InstanceSettings {
    const next = this.db.tx(() => {
      const before = this.read();
      const after = { ...before, ...change };
      setSetting(this.db, STORAGE_KEY, JSON.stringify(after));
      const changed = changes(before, after, FIELDS);
      if (Object.keys(changed).length > 0) {
        recordAudit(this.db, ctx, { workspaceId: null, action: 'instance.settings', targetType: 'instance', targetId: null, summary: changed, at: now });
      }
      return after;
    });
    this.current = next;
    return next;
  }

  reload(): void {
    this.current = this.read();
  }

  private read(): InstanceSettings {
    const raw = getSetting(this.db, STORAGE_KEY);
    // Unknown or missing fields fall back to defaults: an older database has none of them yet.
    const stored = raw ? (JSON.parse(raw) as Partial<InstanceSettings>) : {};
    return { keepUserAgents: stored.keepUserAgents === true };
  }
}
