// Runs every src/**/*.test.ts with node:test (Node 20's --test takes no globs, and tsx loads TypeScript).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const files = readdirSync('src', { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.ts') && (process.argv.length <= 2 || process.argv.slice(2).some((a) => f.includes(a))))
  .map((f) => join('src', f))
  .sort();
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
