import { dropStat4Samples } from '../db/db.js';
import type { Job } from './schedule.js';

/**
 * `PRAGMA optimize` refreshes the query planner's statistics where they have drifted (SQLite
 * recommends it periodically for long-lived connections; it limits its own work, so it is cheap).
 * Value samples an ANALYZE by hand left are dropped, the row counts kept (see dropStat4Samples).
 */
export const optimizeJob: Job = {
  name: 'optimize',
  cron: () => '0 4 * * *',
  run({ db }) {
    db.sqlite.pragma('optimize');
    dropStat4Samples(db.sqlite);
    return {};
  },
};
