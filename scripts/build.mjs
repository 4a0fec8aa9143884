// Bundles the server and CLI into one CommonJS file, dist/linkqr.cjs.
// Native addons stay external here; the single-executable build embeds them.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/linkqr.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: 'linked',
  external: ['better-sqlite3', 'argon2'],
  logLevel: 'warning',
  legalComments: 'none',
  // ESM-only dependencies (node-cron) read import.meta.url, which a CommonJS bundle lacks.
  define: { 'import.meta.url': '__importMetaUrl' },
  banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});
