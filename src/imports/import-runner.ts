import type { Logger } from 'pino';
import type { ImportJobRow } from '../db/schema.js';
import { deleteImportFile } from './import-files.js';
import { IMPORT_LEASE_MS, type ImportDeps, processImport } from './imports.service.js';

const POLL_MS = 5_000;

/**
 * Runs queued imports in this process, one at a time. An import is claimed with a lease (renewed
 * after every chunk), so on PostgreSQL one instance runs it, and an import whose instance died
 * (lease run out) is taken over where it stopped; so is one that was running when this server
 * was stopped or crashed. `wake` starts a queued import now; a poll finds the others.
 */
export class ImportRunner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly deps: ImportDeps & { log: Logger }) {}

  start(): void {
    this.timer = setInterval(() => this.wake(), POLL_MS).unref();
    this.wake();
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err: unknown) => this.deps.log.error({ err }, 'import runner failed; it tries again at its next poll'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Stops claiming; the import in progress stops after its chunk (its lease runs out, and the next start resumes it). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async drain(): Promise<void> {
    for (let job = await this.claim(); job && !this.stopped; job = await this.claim()) {
      try {
        await processImport(this.deps, job, async () => {
          if (this.stopped) throw new Stopped();
        });
      } catch (err) {
        if (err instanceof Stopped) return;
        this.deps.log.error({ err, importId: job.id }, 'an import failed');
        const now = this.deps.clock.now();
        await this.deps.db.write(async (t) => {
          await t.exec(
            "update imports set status = 'failed', error = ?, lease_until = null, finished_at = ?, updated_at = ? where id = ?",
            'the server could not finish this import; the rows reported were written',
            now, now, job.id,
          );
          await deleteImportFile(t, job.id);
        });
      }
    }
  }

  /** The oldest import waiting (or left running by a process that is gone), now leased to this one. */
  private async claim(): Promise<ImportJobRow | undefined> {
    const now = this.deps.clock.now();
    return this.deps.db.write(async (t) => {
      const next = await t.row<{ id: string }>(
        `select id from imports where status in ('queued', 'running') and (lease_until is null or lease_until < ?) order by id limit 1${t.dialect === 'postgres' ? ' for update skip locked' : ''}`,
        now,
      );
      if (!next) return undefined;
      await t.exec("update imports set status = 'running', lease_until = ?, updated_at = ? where id = ?", now + IMPORT_LEASE_MS, now, next.id);
      return t.row<ImportJobRow>('select * from imports where id = ?', next.id);
    });
  }
}

class Stopped extends Error {}
