// Redirect throughput of several builds on a noisy machine: rounds alternate between the builds
// (in turn, then in reverse order), each round one short redirect.mjs run (a bare node:http 302
// server, then LinkQR); the ratio to bare is taken per round, and the medians compared.
//   node scripts/bench/redirect-compare.mjs BIN [BIN …]     (BENCH_ROUNDS, default 5; BENCH_DURATION, default 6)
// A BIN is a bin/linkqr.cjs of a built checkout (e.g. a git worktree of the commit before a change).
// Each server is warmed up first, as redirect.mjs does (BENCH_WARMUP, default 2 s); BENCH_WARMUP=0
// measures from a cold start, as the runs before 2026-12-07's sixth stop in docs/scaling.md did.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { median } from './lib.mjs';

const builds = process.argv.slice(2).map((b) => resolve(b));
if (builds.length === 0) {
  console.error('usage: node scripts/bench/redirect-compare.mjs BIN [BIN …]');
  process.exit(2);
}
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const results = new Map(builds.map((b) => [b, []]));
for (let round = 0; round < rounds; round++) {
  for (const bin of round % 2 === 0 ? builds : [...builds].reverse()) {
    const run = spawnSync(process.execPath, [resolve(import.meta.dirname, 'redirect.mjs')], {
      env: { ...process.env, BENCH_BIN: bin, BENCH_ROUNDS: '1', BENCH_DURATION: process.env.BENCH_DURATION ?? '6' },
      encoding: 'utf8',
    });
    const m = /bare ([\d,]+) req\/s .*linkqr ([\d,]+) req\/s.*linkqr ([\d.]+) µs/.exec(run.stdout);
    if (!m) throw new Error(`redirect.mjs said:\n${run.stdout}\n${run.stderr}`);
    const [bare, linkqr] = [m[1], m[2]].map((n) => Number(n.replaceAll(',', '')));
    results.get(bin).push({ ratio: linkqr / bare, cpu: Number(m[3]) });
    console.log(`round ${round + 1}: ${bin}: ${(linkqr / bare).toFixed(3)}x bare, ${m[3]} µs CPU per redirect`);
  }
}
console.log(`\n${rounds} alternating rounds, medians:`);
for (const [bin, r] of results) {
  console.log(`  ${bin}: ${median(r.map((x) => x.ratio)).toFixed(2)}x bare (${Math.min(...r.map((x) => x.ratio)).toFixed(2)}–${Math.max(...r.map((x) => x.ratio)).toFixed(2)}), ${median(r.map((x) => x.cpu)).toFixed(1)} µs CPU per redirect`);
}
