import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AttemptErrorClass, AttemptResult } from '../webhooks/sender.js';
import { CircuitBreakers } from './circuit-breaker.js';

type Outcome = Pick<AttemptResult, 'outcome' | 'errorClass' | 'timedOut'>;

/** The slot arithmetic of the breaker; the dispatcher's use of it is in fairness.test.ts. */

const timeout: Outcome = { outcome: 'failure', errorClass: 'timeout', timedOut: true };
const success: Outcome = { outcome: 'success', errorClass: null, timedOut: false };

describe('circuit breakers', () => {
  test('each failure without an answer halves the slots down to one probe; a success gives them all back', () => {
    const b = new CircuitBreakers(8);
    assert.equal(b.slots('whk_a'), 8);
    assert.deepEqual(
      [1, 2, 3, 4].map(() => [b.record('whk_a', timeout), b.slots('whk_a')]),
      [[undefined, 4], [undefined, 2], ['opened', 1], [undefined, 1]],
    );
    assert.equal(b.slots('whk_b'), 8, 'per endpoint');
    assert.deepEqual([...b.narrowedEndpoints()], [['whk_a', 1]]);
    assert.deepEqual([b.record('whk_a', success), b.slots('whk_a')], ['closed', 8]);
    assert.deepEqual([...b.narrowedEndpoints()], []);
  });

  test('only failures where the receiver never answered count', () => {
    const b = new CircuitBreakers(8);
    for (const errorClass of ['timeout', 'connect_timeout', 'connection_refused', 'unreachable', 'dns'] as AttemptErrorClass[]) {
      b.forget('whk_a');
      b.record('whk_a', { outcome: 'failure', errorClass, timedOut: errorClass === 'timeout' });
      assert.equal(b.slots('whk_a'), 4, errorClass);
    }
    b.forget('whk_a');
    // An answer gives the slot back at once, whatever it says; a cut-off attempt says nothing.
    for (const result of <Outcome[]>[
      { outcome: 'failure', errorClass: 'http_error', timedOut: false },
      { outcome: 'throttled', errorClass: 'http_error', timedOut: false },
      { outcome: 'gone', errorClass: 'http_error', timedOut: false },
      { outcome: 'failure', errorClass: 'connection_reset', timedOut: false },
      { outcome: 'failure', errorClass: 'cancelled', timedOut: false },
    ]) {
      assert.equal(b.record('whk_a', result), undefined);
      assert.equal(b.slots('whk_a'), 8, `${result.outcome} ${result.errorClass}`);
    }
  });

  test('a status line followed by a stalled body until the timeout counts as no answer, even a 2xx (which closes nothing)', () => {
    const b = new CircuitBreakers(8);
    b.record('whk_a', { outcome: 'failure', errorClass: 'http_error', timedOut: true });
    assert.equal(b.slots('whk_a'), 4);
    assert.equal(b.record('whk_a', { outcome: 'success', errorClass: null, timedOut: true }), undefined);
    assert.equal(b.slots('whk_a'), 2, 'a slow 2xx does not close the circuit: it held its slot for the whole timeout');
  });

  test('a narrowed endpoint that answers with an error stays narrowed; forgetting it is a fresh start', () => {
    const b = new CircuitBreakers(8);
    for (let i = 0; i < 3; i++) b.record('whk_a', timeout);
    b.record('whk_a', { outcome: 'failure', errorClass: 'http_error', timedOut: false });
    assert.equal(b.slots('whk_a'), 1);
    b.forget('whk_a');
    assert.equal(b.slots('whk_a'), 8);
  });
});
