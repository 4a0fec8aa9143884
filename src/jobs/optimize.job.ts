import { dropStat4Samples } from '../db/db.js';
import type { Job } from './schedule.js';

/**
 * Refreshes the query planner's statistics. SQLite: `PRAGMA optimize` where they have drifted
 * (recommended periodically for long-lived connections; it limits its own work, so it is cheap);
 * value samples an ANALYZE by hand left are dropped, the row counts kept (see dropStat4Samples).
 * PostgreSQL: autovacuum does this as tables change; a nightly ANALYZE catches the tables whose
 * change stayed under its thresholds (the click rollups grow by small steps).
 */
export const optimizeJob: Job = {
  name: 'optimize',
  cron: () => '0 4 * * *',
  async run({ db }) {
    if (db.dialect === 'postgres') {
      await db.exec('analyze');
      return {};
    }
    db.sqlite.pragma('optimize');
    dropStat4Samples(db.sqlite);
    return {};
  },
};
