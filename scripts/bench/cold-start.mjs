// Cold start of the CLI: how much longer than `node -e 0` (measured in the same run, interleaved
// with the commands so that a busy machine slows all of them alike) `version`, `--help` and
// `key create` take. Goals: <= 1.5x for version and --help, <= 2x for key create.
//   npm run build && node scripts/bench/cold-start.mjs      bin/linkqr.cjs (what `npx linkqr` runs), and dist/linkqr if built
//   node scripts/bench/cold-start.mjs old.cjs bin/linkqr.cjs  builds side by side (.cjs: run by node; else an executable)
// BENCH_RUNS (default 30) runs of each. Medians decide; minimums (the run least disturbed by other
// processes) are shown beside them. Exits 1 if a goal is missed.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { median, ROOT } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const GOALS = { version: 1.5, '--help': 1.5, 'key create': 2 };
const targets =
  process.argv.length > 2 ? process.argv.slice(2).map((p) => resolve(p)) : [join(ROOT, 'bin/linkqr.cjs'), join(ROOT, 'dist/linkqr')].filter(existsSync);

const dataDir = mkdtempSync(join(tmpdir(), 'linkqr-cold-start-'));
const env = { PATH: process.env.PATH, LINKQR_DATA_DIR: dataDir, LINKQR_LOG_LEVEL: 'warn' };
const commandOf = (target, args) => (target.endsWith('.cjs') ? [process.execPath, [target, ...args]] : [target, args]);

/** Wall time of one run in ms; a failed run stops the benchmark (a fast failure is no result). */
function time([file, args]) {
  const started = performance.now();
  const r = spawnSync(file, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

// What any command that reads the database starts with: better-sqlite3 loaded, the database opened,
// one query and one line written. It puts the key create goal in proportion: no bundling can go
// below it.
const floor = `const db = new (require(${JSON.stringify(createRequire(join(ROOT, 'package.json')).resolve('better-sqlite3'))}))(${JSON.stringify(join(dataDir, 'linkqr.db'))});
require('node:crypto').randomBytes(9);
process.stdout.write(JSON.stringify(db.prepare('select id from workspaces where name = ?').get('Bench')) + '\\n');
db.close();`;
const cases = [
  { name: 'node -e 0', command: [process.execPath, ['-e', '0']] },
  { name: 'floor: better-sqlite3 + one query', command: [process.execPath, ['-e', floor]] },
];
for (const target of targets) {
  for (const args of [['version'], ['--help'], ['key', 'create', '--workspace', 'Bench', '--name', 'cold start', '--scopes', 'links:read']]) {
    const goal = args.slice(0, 2).join(' ');
    cases.push({ name: `${relative(process.cwd(), target)} ${goal}`, command: commandOf(target, args), goal });
  }
}

try {
  // The database, each build's code cache and the executable's unpacked addons exist before the
  // first timed run: a cold start here is a new process, not a first installation.
  const [file, args] = commandOf(targets[0], ['workspace', 'create', 'Bench']);
  execFileSync(file, args, { env, stdio: 'ignore' });
  for (const { command } of cases) time(command);

  const samples = cases.map(() => []);
  for (let run = 0; run < RUNS; run++) cases.forEach(({ command }, i) => samples[i].push(time(command)));

  const baseline = { median: median(samples[0]), min: Math.min(...samples[0]) };
  let missed = false;
  console.log(`${RUNS} runs each, interleaved; node ${process.version}; baseline node -e 0: median ${baseline.median.toFixed(0)} ms, min ${baseline.min.toFixed(0)} ms`);
  console.log(`${''.padEnd(44)} ${'median'.padStart(8)} ${'ratio'.padStart(6)} ${'min'.padStart(8)} ${'ratio'.padStart(6)}`);
  cases.forEach(({ name, goal: goalKey }, i) => {
    const ms = median(samples[i]);
    const min = Math.min(...samples[i]);
    const ratio = ms / baseline.median;
    const goal = GOALS[goalKey];
    if (goal !== undefined && ratio > goal) missed = true;
    const verdict = goal === undefined ? '' : `  ${ratio <= goal ? 'ok' : 'MISSED'} (goal <= ${goal}x)`;
    console.log(
      `${name.padEnd(44)} ${`${ms.toFixed(0)} ms`.padStart(8)} ${`${ratio.toFixed(2)}x`.padStart(6)} ${`${min.toFixed(0)} ms`.padStart(8)} ${`${(min / baseline.min).toFixed(2)}x`.padStart(6)}${verdict}`,
    );
  });
  process.exitCode = missed ? 1 : 0;
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
