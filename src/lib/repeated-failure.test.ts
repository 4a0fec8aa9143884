import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from 'pino';
import { RepeatedFailure } from './repeated-failure.js';

test('a repeated failure is logged once, then a minute apart with its count, then once when it works again', () => {
  const lines: [string, string, unknown][] = [];
  const log = Object.fromEntries(
    ['error', 'warn', 'info'].map((level) => [level, (fields: { failures?: number }, msg: string) => lines.push([level, msg, fields.failures])]),
  ) as unknown as Logger;
  let now = 0;
  const failure = new RepeatedFailure(log, 'claiming webhook deliveries', 'error', () => now);
  for (let i = 0; i < 120; i++, now += 1_000) failure.failed(new Error('connection refused'));
  failure.succeeded();
  failure.succeeded();
  failure.failed(new Error('again'));
  assert.deepEqual(lines, [
    ['error', 'claiming webhook deliveries failed', undefined],
    ['error', 'claiming webhook deliveries still fails (61 times in a row)', 61],
    ['info', 'claiming webhook deliveries works again, after 120 failures', 120],
    ['error', 'claiming webhook deliveries failed', undefined],
  ]);
});
