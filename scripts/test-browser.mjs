// Runs the browser tests (src/browser/*.browser.ts) with node:test: a real server, driven through
// Chromium by playwright-core, reported like the other tests (scripts/test-reporter.mjs).
// Screenshots land in screenshots/ (not committed): look at them after a UI change.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const CHROMIUM = process.env.LINKQR_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) {
  console.error(`No browser at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium) or set LINKQR_CHROMIUM.`);
  process.exit(1);
}
const files = readdirSync('src/browser')
  .filter((f) => f.endsWith('.browser.ts') && (process.argv.length <= 2 || process.argv.slice(2).some((a) => f.includes(a))))
  .map((f) => join('src/browser', f))
  .sort();
const reporter = process.env.LINKQR_TEST_REPORTER ?? './scripts/test-reporter.mjs';
const result = spawnSync(
  process.execPath,
  ['--enable-source-maps', '--import', 'tsx', '--test', '--test-concurrency=1', `--test-reporter=${reporter}`, '--test-reporter-destination=stdout', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
