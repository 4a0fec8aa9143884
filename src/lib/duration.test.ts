import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatDuration, MAX_DURATION_MS, parseDuration } from './duration.js';

describe('durations', () => {
  test('written in the largest unit that divides them exactly; a single day reads as 24h', () => {
    const cases: [number, string][] = [
      [250, '250ms'], [1_500, '1500ms'], [5_000, '5s'], [90_000, '90s'], [300_000, '5m'],
      [7_200_000, '2h'], [86_400_000, '24h'], [172_800_000, '2d'], [129_600_000, '36h'],
    ];
    for (const [ms, text] of cases) {
      assert.equal(formatDuration(ms), text, String(ms));
      assert.equal(parseDuration(text), ms, text);
    }
  });

  test('at most 36,500 days; longer and malformed text is undefined', () => {
    assert.equal(parseDuration('36500d'), MAX_DURATION_MS);
    for (const text of ['36501d', '876001h', '999999999d', '5', '5 s', '-5s', '1.5h', '']) assert.equal(parseDuration(text), undefined, text);
  });
});
