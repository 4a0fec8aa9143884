import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import cron from 'node-cron';
import { openStore, type Store } from '../store.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../lib/logger.js';
import { eventually, fakeClock, spawnServer, startTestServer, TEST_BACKEND, tempDataDir } from '../testing/harness.js';
import { createTestDatabase, type TestDatabase } from '../testing/postgres.js';
import { createScheduler, type Job, type JobContext, JOBS } from './schedule.js';

// The scheduler is driven through run(name), exactly what a cron tick calls: no test waits for a tick.

interface LogLine {
  level: number;
  msg: string;
  job?: string;
  outcome?: string;
  durationMs?: number;
  err?: { message: string };
  [k: string]: unknown;
}

let dataDir: string;
let store: Store;
let logs: string[];
/** On PostgreSQL (LINKQR_TEST_BACKEND=postgres), the store's database, made for each test. */
let database: TestDatabase | undefined;
const lines = (): LogLine[] => logs.map((l) => JSON.parse(l));
const runsOf = (job: string) => lines().filter((l) => l.job === job && l.outcome !== undefined);

beforeEach(async () => {
  dataDir = tempDataDir();
  logs = [];
  database = TEST_BACKEND === 'postgres' ? await createTestDatabase() : undefined;
  const backend = database ? { LINKQR_DATABASE_URL: database.url, LINKQR_SECRET: 'linkqr-test-secret-not-for-production' } : {};
  store = await openStore(loadConfig({ LINKQR_DATA_DIR: dataDir, LINKQR_BACKUP_CRON: '15 2 * * *', ...backend }), {
    log: createLogger('info', { write: (line: string) => void logs.push(line) }),
    clock: fakeClock(),
  });
});
afterEach(async () => {
  await store.db.close();
  await database?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A job whose runs the test finishes by hand. */
function manualJob(name: string) {
  const runs: { ctx: JobContext; finish(result?: Record<string, unknown>): void; fail(e: Error): void }[] = [];
  const job: Job = {
    name,
    cron: () => '* * * * *',
    run: (ctx) =>
      new Promise((resolve, reject) => {
        runs.push({ ctx, finish: (r = {}) => resolve(r), fail: reject });
      }),
  };
  /**
   * Resolves once the job has been started `n` times. A run starts at once on SQLite; on
   * PostgreSQL only once the scheduler holds the job's lock (schedule.ts: exclusively).
   */
  const started = (n: number) => eventually(() => runs.length >= n);
  return { job, runs, started };
}

describe('scheduler', () => {
  test('a job that fails is logged with its name, duration and error, and does not stop the others or its next run', async () => {
    let calls = 0;
    const flaky: Job = {
      name: 'flaky',
      cron: () => '* * * * *',
      run() {
        calls++;
        if (calls === 1) throw new Error('disk full');
        return { attempt: calls };
      },
    };
    const failsLater: Job = {
      name: 'fails-later',
      cron: () => '* * * * *',
      async run() {
        await new Promise((r) => setImmediate(r));
        throw new Error('gone away');
      },
    };
    const steady: Job = { name: 'steady', cron: () => '* * * * *', run: () => ({ done: true }) };
    const scheduler = createScheduler(store, [flaky, failsLater, steady]);

    const first = await scheduler.run('flaky');
    assert.equal(first.status, 'failed');
    assert.equal((await scheduler.run('fails-later')).status, 'failed');
    assert.deepEqual(await scheduler.run('steady'), { status: 'ok', result: { done: true } });
    assert.deepEqual(await scheduler.run('flaky'), { status: 'ok', result: { attempt: 2 } });

    const [failed, succeeded] = runsOf('flaky');
    assert.equal(failed!.msg, 'job failed');
    assert.equal(failed!.outcome, 'failed');
    assert.equal(failed!.level, 50, 'logged as an error');
    assert.equal(failed!.err?.message, 'disk full');
    assert.equal(typeof failed!.durationMs, 'number');
    assert.equal(succeeded!.msg, 'job finished');
    assert.equal(succeeded!.outcome, 'ok');
    assert.equal(succeeded!.attempt, 2, 'the result is in the log line');
    assert.equal(runsOf('fails-later')[0]!.err?.message, 'gone away');
    assert.equal(runsOf('steady')[0]!.outcome, 'ok');
  });

  test('a job still running is not started again; once it ends it runs again', async () => {
    const slow = manualJob('slow');
    const other = manualJob('other');
    const scheduler = createScheduler(store, [slow.job, other.job]);

    const running = scheduler.run('slow');
    assert.deepEqual(await scheduler.run('slow'), { status: 'skipped', reason: 'running' });
    assert.deepEqual(await scheduler.run('slow'), { status: 'skipped', reason: 'running' });
    await slow.started(1);
    assert.equal(slow.runs.length, 1, 'started once');
    const skipped = runsOf('slow').filter((l) => l.outcome === 'skipped');
    assert.equal(skipped.length, 2);
    assert.equal(skipped[0]!.level, 40, 'a skipped run is a warning');

    // Another job is not held up by it.
    const otherRun = scheduler.run('other');
    await other.started(1);
    assert.equal(other.runs.length, 1);
    other.runs[0]!.finish();
    assert.equal((await otherRun).status, 'ok');

    slow.runs[0]!.finish({ rows: 3 });
    assert.deepEqual(await running, { status: 'ok', result: { rows: 3 } });
    const again = scheduler.run('slow');
    await slow.started(2);
    assert.equal(slow.runs.length, 2, 'runs again after the first ended');
    slow.runs[1]!.fail(new Error('second run failed'));
    assert.equal((await again).status, 'failed');
    // A failed run does not leave the job marked as running.
    const third = scheduler.run('slow');
    await slow.started(3);
    assert.equal(slow.runs.length, 3);
    slow.runs[2]!.finish();
    assert.equal((await third).status, 'ok');
  });

  test('stop aborts the runs in progress, waits for them, and no run starts afterwards', async () => {
    const slow = manualJob('slow');
    const scheduler = createScheduler(store, [slow.job]);
    const running = scheduler.run('slow');
    await slow.started(1);
    const signal = slow.runs[0]!.ctx.signal;
    signal.addEventListener('abort', () => slow.runs[0]!.fail(signal.reason as Error));

    let stopped = false;
    const stopping = scheduler.stop().then(() => (stopped = true));
    assert.equal(signal.aborted, true);
    assert.deepEqual(await running, { status: 'stopped' });
    await stopping;
    assert.equal(stopped, true);
    assert.deepEqual(await scheduler.run('slow'), { status: 'skipped', reason: 'stopped' });
    assert.equal(slow.runs.length, 1);
    const line = runsOf('slow').find((l) => l.outcome === 'stopped');
    assert.ok(line, 'the interrupted run is logged');
    assert.equal(line.level, 40, 'as a warning: stopping is not a failure');
  });

  test('jobs see the store: its clock, config and database', async () => {
    let seen: unknown;
    const probe: Job = {
      name: 'probe',
      cron: () => '* * * * *',
      run: async ({ clock, config, db }) => {
        seen = { now: clock.now(), dataDir: config.dataDir, one: await db.row('SELECT 1 AS one') };
        return {};
      },
    };
    await createScheduler(store, [probe]).run('probe');
    assert.deepEqual(seen, { now: store.clock.now(), dataDir, one: { one: 1 } });
  });

  test('an unknown job name is a programming error', () => {
    assert.throws(() => createScheduler(store).run('nope'), /no job named "nope"/);
  });

  test('start schedules every job with node-cron (backup on LINKQR_BACKUP_CRON); stop removes them', async () => {
    const scheduler = createScheduler(store);
    assert.deepEqual(scheduler.scheduled(), [], 'nothing is scheduled before start');
    const before = cron.getTasks().size;
    scheduler.start();
    scheduler.start(); // idempotent
    try {
      const scheduled = scheduler.scheduled();
      // The backup copies the SQLite file: on PostgreSQL (whose backups are pg_dump's) there is none.
      const jobs = store.db.dialect === 'sqlite' ? JOBS : JOBS.filter((j) => j.name !== 'backup');
      assert.deepEqual(scheduled.map((s) => s.name), jobs.map((j) => j.name));
      assert.deepEqual(scheduled.map((s) => s.name).sort(), store.db.dialect === 'sqlite' ? ['backup', 'optimize', 'retention'] : ['optimize', 'retention']);
      if (store.db.dialect === 'sqlite') {
        const backup = scheduled.find((s) => s.name === 'backup')!;
        assert.equal(backup.cron, '15 2 * * *');
        const next = new Date(backup.nextRun!);
        assert.deepEqual([next.getHours(), next.getMinutes(), next.getSeconds()], [2, 15, 0]);
        assert.ok(next.getTime() > Date.now() && next.getTime() <= Date.now() + 86_400_000 + 3_600_000);
      }
      for (const s of scheduled) assert.ok(cron.validate(s.cron), `${s.name}: ${s.cron}`);
      assert.equal(cron.getTasks().size, before + jobs.length);
      assert.ok(lines().some((l) => l.msg === 'jobs scheduled'));
    } finally {
      await scheduler.stop();
    }
    assert.deepEqual(scheduler.scheduled(), []);
    assert.equal(cron.getTasks().size, before, 'the cron tasks are destroyed');
    scheduler.start();
    assert.deepEqual(scheduler.scheduled(), [], 'a stopped scheduler stays stopped');
  });
});

describe('linkqr serve', () => {
  // Runs the built bundle: `npm run build` first.
  let dir: string;
  before(() => {
    dir = tempDataDir();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('schedules the jobs when it starts and unschedules them when it stops', async () => {
    const server = await spawnServer(dir, { LINKQR_BACKUP_CRON: '0 5 * * 1' });
    const { code, output } = await server.stop();
    assert.equal(code, 0, output);
    const logLines = output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
    const scheduled = logLines.find((l) => l.msg === 'jobs scheduled');
    assert.ok(scheduled, output);
    const jobs = scheduled.jobs as { name: string; cron: string }[];
    assert.deepEqual(jobs.find((j) => j.name === 'backup')?.cron, '0 5 * * 1');
    const msgs = logLines.map((l) => l.msg);
    assert.ok(msgs.indexOf('jobs scheduled') > msgs.indexOf('listening'));
  });

  test('test servers do not schedule jobs', async () => {
    const t = await startTestServer();
    try {
      assert.deepEqual(t.server.scheduler.scheduled(), []);
    } finally {
      await t.close();
    }
  });
});
