import cron, { type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db, Dialect } from '../db/db.js';
import type { Clock } from '../lib/clock.js';
import { backupJob } from './backup.job.js';
import { optimizeJob } from './optimize.job.js';
import { retentionJob } from './retention.job.js';

export interface JobDeps {
  config: Readonly<Config>;
  db: Db;
  log: Logger;
  /** Every time decision a job makes (cut-offs, backup names) reads this clock. */
  clock: Clock;
}

export interface JobContext extends JobDeps {
  /** Aborted when the server stops: a long job gives up between steps. */
  signal: AbortSignal;
}

export interface Job {
  name: string;
  /** node-cron expression (server local time). */
  cron(config: Readonly<Config>): string;
  /** The databases it has work on (default both): the backup copies the SQLite file, PostgreSQL's belong to pg_dump. */
  dialects?: readonly Dialect[];
  /** Returns what it did, for the log line of the run. */
  run(ctx: JobContext): Promise<Record<string, unknown>> | Record<string, unknown>;
}

/** Every scheduled job of the server. */
export const JOBS: readonly Job[] = [backupJob, retentionJob, optimizeJob];

export type JobOutcome =
  | { status: 'ok'; result: Record<string, unknown> }
  | { status: 'failed'; error: unknown }
  /** Gave up part-way because the scheduler was stopped. */
  | { status: 'stopped' }
  | { status: 'skipped'; reason: 'running' | 'stopped' | 'elsewhere' };

export interface Scheduler {
  /** Schedules every job with node-cron. */
  start(): void;
  /** Unschedules the jobs, aborts runs in progress and waits for them to end. Final. */
  stop(): Promise<void>;
  /**
   * Runs a job now, as a cron tick does: never while another run of the same job is going on,
   * and never throwing (a failure is logged and returned).
   */
  run(name: string): Promise<JobOutcome>;
  /** The scheduled jobs and when each runs next (empty before start). */
  scheduled(): { name: string; cron: string; nextRun: string | null }[];
}

export function createScheduler(deps: JobDeps, allJobs: readonly Job[] = JOBS): Scheduler {
  const log = deps.log.child({ component: 'jobs' });
  const jobs = allJobs.filter((job) => !job.dialects || job.dialects.includes(deps.db.dialect));
  const running = new Map<string, Promise<JobOutcome>>();
  const stopping = new AbortController();
  let tasks: { job: Job; task: ScheduledTask }[] = [];

  // node-cron's own warnings (a missed tick after a long event-loop stall) go to our log too.
  const cronLog: CronLogger = {
    info: (msg) => log.info(msg),
    warn: (msg) => log.warn(msg),
    error: (msg, err) => log.error({ err: err ?? msg }, String(msg)),
    debug: (msg) => log.debug(String(msg)),
  };

  async function execute(job: Job): Promise<JobOutcome> {
    const started = performance.now();
    const durationMs = () => Math.round(performance.now() - started);
    try {
      // With several instances on one PostgreSQL database, one of them runs each job at a time.
      const result = await deps.db.exclusively(`job:${job.name}`, async () => job.run({ ...deps, log: log.child({ job: job.name }), signal: stopping.signal }));
      if (result === undefined) {
        log.info({ job: job.name, outcome: 'skipped' }, 'job skipped: another instance is running it');
        return { status: 'skipped', reason: 'elsewhere' };
      }
      log.info({ job: job.name, durationMs: durationMs(), outcome: 'ok', ...result }, 'job finished');
      return { status: 'ok', result };
    } catch (err) {
      if (stopping.signal.aborted && err === stopping.signal.reason) {
        log.warn({ job: job.name, durationMs: durationMs(), outcome: 'stopped' }, 'job stopped: the server is stopping');
        return { status: 'stopped' };
      }
      log.error({ job: job.name, durationMs: durationMs(), outcome: 'failed', err }, 'job failed');
      return { status: 'failed', error: err };
    }
  }

  function run(name: string): Promise<JobOutcome> {
    const job = jobs.find((j) => j.name === name);
    if (!job) throw new Error(`there is no job named "${name}"`);
    if (stopping.signal.aborted) return Promise.resolve({ status: 'skipped', reason: 'stopped' });
    if (running.has(name)) {
      log.warn({ job: name, outcome: 'skipped' }, 'job skipped: the previous run is still going');
      return Promise.resolve({ status: 'skipped', reason: 'running' });
    }
    // Marked as running before anything awaits, so a tick arriving meanwhile sees it.
    const outcome = execute(job).finally(() => running.delete(name));
    running.set(name, outcome);
    return outcome;
  }

  const scheduled = () =>
    tasks.map(({ job, task }) => ({ name: job.name, cron: task.getPattern(), nextRun: task.getNextRun()?.toISOString() ?? null }));

  return {
    start() {
      if (tasks.length > 0 || stopping.signal.aborted) return;
      tasks = jobs.map((job) => ({
        job,
        task: cron.schedule(job.cron(deps.config), () => run(job.name), { name: `linkqr:${job.name}`, logger: cronLog }),
      }));
      log.info({ jobs: scheduled() }, 'jobs scheduled');
    },
    async stop() {
      stopping.abort();
      await Promise.all(tasks.map(({ task }) => task.destroy()));
      tasks = [];
      await Promise.all(running.values());
    },
    run,
    scheduled,
  };
}
