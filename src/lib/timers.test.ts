import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { manualTimers } from './timers.js';

describe('manualTimers', () => {
  test('runs due callbacks in deadline order, each seeing the clock at its own deadline', () => {
    const timers = manualTimers(100);
    const ran: string[] = [];
    timers.setTimeout(() => ran.push(`b@${timers.now()}`), 20);
    timers.setTimeout(() => ran.push(`a@${timers.now()}`), 10);
    timers.setTimeout(() => ran.push(`c@${timers.now()}`), 30);
    timers.advance(25);
    assert.deepEqual(ran, ['a@110', 'b@120']);
    assert.equal(timers.now(), 125);
    assert.equal(timers.pending, 1);
  });

  test('a callback may set a timer that falls due within the same advance', () => {
    const timers = manualTimers();
    const ran: number[] = [];
    timers.setTimeout(() => {
      ran.push(timers.now());
      timers.setTimeout(() => ran.push(timers.now()), 5);
    }, 5);
    timers.advance(10);
    assert.deepEqual(ran, [5, 10]);
  });

  test('a cleared timer never runs, and the first handle is truthy (callers test handles that way)', () => {
    const timers = manualTimers();
    let ran = false;
    const handle = timers.setTimeout(() => (ran = true), 1);
    assert.ok(handle);
    timers.clearTimeout(handle);
    timers.advance(10);
    assert.equal(ran, false);
    assert.equal(timers.pending, 0);
  });

  test('busyFor moves the clock without running what falls due', () => {
    const timers = manualTimers();
    let ran = false;
    timers.setTimeout(() => (ran = true), 10);
    timers.busyFor(50);
    assert.equal(timers.now(), 50);
    assert.equal(ran, false);
    timers.advance(0);
    assert.equal(ran, true);
  });
});
