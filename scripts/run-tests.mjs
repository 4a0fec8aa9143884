// Runs src/**/*.test.ts with node:test (tsx loads TypeScript; source maps make failure locations
// point at the .ts lines). Arguments narrow the run to files whose path contains one of them.
// The output is one line per top-level suite and a summary of every failure at the end
// (scripts/test-reporter.mjs); LINKQR_TEST_REPORTER=spec gives node's line-per-test report.
// A test that hangs fails after 5 minutes (--test-timeout) instead of holding the run up.
// With LINKQR_TEST_POSTGRES_URL (a server where that user may create databases), the tests of
// PostgreSQL itself run, and then the whole suite runs a second time with every test server on
// PostgreSQL (LINKQR_TEST_BACKEND=postgres, src/testing/harness.ts). Without it they are skipped,
// and the last line says how to include them. LINKQR_TEST_BACKEND=sqlite|postgres runs one pass.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const filters = process.argv.slice(2);
const files = readdirSync('src', { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.ts') && (filters.length === 0 || filters.some((a) => f.includes(a))))
  .map((f) => join('src', f))
  .sort();
if (files.length === 0) {
  console.error(`no test file matches ${filters.join(', ')}`);
  process.exit(1);
}
const reporter = process.env.LINKQR_TEST_REPORTER ?? './scripts/test-reporter.mjs';
const run = (backend) => {
  if (process.env.LINKQR_TEST_POSTGRES_URL) console.log(`\n== the suite on ${backend === 'postgres' ? 'PostgreSQL' : 'SQLite'}`);
  return spawnSync(
    process.execPath,
    ['--enable-source-maps', '--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', `--test-reporter=${reporter}`, '--test-reporter-destination=stdout', ...files],
    { stdio: 'inherit', env: { ...process.env, LINKQR_TEST_BACKEND: backend } },
  ).status;
};
// LINKQR_TEST_BACKEND=sqlite|postgres given: that pass only.
const backends = process.env.LINKQR_TEST_BACKEND ? [process.env.LINKQR_TEST_BACKEND] : process.env.LINKQR_TEST_POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];
const statuses = backends.map(run);
if (!process.env.LINKQR_TEST_POSTGRES_URL) {
  console.log('PostgreSQL tests are skipped without LINKQR_TEST_POSTGRES_URL; to include them (and run the whole suite on PostgreSQL too): LINKQR_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres npm test (a server where that user may create databases)');
}
process.exit(statuses.every((s) => s === 0) ? 0 : 1);
