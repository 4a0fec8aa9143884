import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide, jittered } from './retry-policy.js';

const S = 1000;
const SCHEDULE = [5 * S, 300 * S, 1800 * S];
const NOW = 1_000_000;

describe('retry policy', () => {
  test('2xx succeeds; 410 fails at once', () => {
    assert.deepEqual(decide('success', 1, SCHEDULE, NOW, null), { delivery: 'succeeded' });
    assert.deepEqual(decide('gone', 1, SCHEDULE, NOW, null), { delivery: 'failed' });
  });

  test('failures follow the schedule, then the delivery fails', () => {
    const mid = () => 0.5; // no jitter
    assert.deepEqual(decide('failure', 1, SCHEDULE, NOW, null, mid), { delivery: 'retry', at: NOW + 5 * S });
    assert.deepEqual(decide('failure', 2, SCHEDULE, NOW, null, mid), { delivery: 'retry', at: NOW + 300 * S });
    assert.deepEqual(decide('failure', 3, SCHEDULE, NOW, null, mid), { delivery: 'retry', at: NOW + 1800 * S });
    assert.deepEqual(decide('failure', 4, SCHEDULE, NOW, null, mid), { delivery: 'failed' }, '1 + schedule.length attempts in all');
  });

  test('jitter stays within ±20% and reaches both ends', () => {
    assert.equal(jittered(10_000, () => 0), 8_000);
    assert.equal(jittered(10_000, () => 0.999999), 12_000);
    for (let i = 0; i < 1000; i++) {
      const d = jittered(300 * S, Math.random);
      assert.ok(d >= 240 * S && d <= 360 * S, String(d));
    }
  });

  test('429/503 honour Retry-After, clamped to 1 s … 24 h; without it the schedule applies', () => {
    assert.deepEqual(decide('throttled', 1, SCHEDULE, NOW, 7 * S), { delivery: 'retry', at: NOW + 7 * S });
    assert.deepEqual(decide('throttled', 1, SCHEDULE, NOW, 10), { delivery: 'retry', at: NOW + S });
    assert.deepEqual(decide('throttled', 1, SCHEDULE, NOW, 30 * 86_400 * S), { delivery: 'retry', at: NOW + 86_400 * S });
    assert.deepEqual(decide('throttled', 1, SCHEDULE, NOW, null, () => 0.5), { delivery: 'retry', at: NOW + 5 * S });
    assert.deepEqual(decide('throttled', 4, SCHEDULE, NOW, 7 * S), { delivery: 'failed' }, 'a throttled attempt still counts');
  });
});
