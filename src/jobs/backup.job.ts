import { join } from 'node:path';
import { BACKUP_DIR, pruneBackups, takeBackup } from '../db/backup.js';
import type { Job } from './schedule.js';

/** LINKQR_BACKUP_CRON: an online copy into <dataDir>/backups/, keeping the newest LINKQR_BACKUP_KEEP. */
export const backupJob: Job = {
  name: 'backup',
  cron: (config) => config.backupCron,
  dialects: ['sqlite'],
  async run({ config, db, clock, signal }) {
    const dir = join(config.dataDir, BACKUP_DIR);
    const { file, bytes } = await takeBackup(db.sqlite, dir, clock.now(), { signal });
    // Pruned only after a new copy exists, so a failing backup never leaves fewer than before.
    const pruned = pruneBackups(dir, config.backupKeep);
    return { file, bytes, pruned };
  },
};
