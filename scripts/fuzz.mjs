// The long fuzz run: src/http/api/fuzz.test.ts (bad input) and
// src/http/api/openapi/generated-requests.test.ts (input valid by the OpenAPI document) with many
// cases per operation and a fresh seed.
//   npm run fuzz                      300 cases per operation, random seed (printed)
//   FUZZ_CASES=2000 FUZZ_SEED=1234 npm run fuzz    a chosen size, or replaying a failure's seed
import { spawnSync } from 'node:child_process';

const env = { ...process.env, FUZZ_CASES: process.env.FUZZ_CASES ?? '300', FUZZ_SEED: process.env.FUZZ_SEED ?? String(Math.floor(Math.random() * 1e9)) };
console.log(`fuzz: ${env.FUZZ_CASES} cases per operation, seed ${env.FUZZ_SEED}`);
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', 'src/http/api/fuzz.test.ts', 'src/http/api/openapi/generated-requests.test.ts'], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
