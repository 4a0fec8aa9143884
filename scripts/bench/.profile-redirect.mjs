// Throwaway: profile LinkQR under the redirect benchmark's load (server pinned), not committed.
import { autocannon, BROWSER_UA, startLinkqr } from './lib.mjs';
const dir = process.argv[2] ?? '/tmp/prof2';
const l = await startLinkqr('links:read,links:write', { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir}` });
const created = await fetch(`${l.url}/api/v1/links`, { method: 'POST', headers: { authorization: `Bearer ${l.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ url: 'https://example.com/landing' }) }).then((r) => r.json());
const r = autocannon(`${l.url}/${created.slug}`, { headers: { 'user-agent': BROWSER_UA } });
console.log('req/s', r.requests.average);
await l.stop();
