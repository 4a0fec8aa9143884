import { setImmediate as nextTurn } from 'node:timers/promises';

/*
 * Reading a 100,000-row file costs about a second of CPU, in the process that also answers
 * redirects: read at once, it would hold every redirect for that long. So the readers are
 * generators that yield between small pieces of work (a slice of the file, a row), and whoever
 * runs them chooses: runSteps at once (tests, small inputs), runStepsInSlices with a turn of the
 * event loop whenever a slice has taken its time (the import runner). One reader, two pacings:
 * a file reads the same either way. A worker thread would also work, but the single executable
 * would have to carry its code as a second entry point.
 */

/** Work that yields where it may pause, and returns T. */
export type Steps<T> = Generator<void, T, void>;

/** Runs steps to the end without pausing. */
export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * How long steps run before other callbacks get a turn: well under the 50 ms a redirect may
 * wait, while the turns themselves (5 µs each when nothing else is waiting) cost nothing.
 */
export const SLICE_MS = 10;

/**
 * Runs steps, letting the event loop run (timers, I/O: requests) every `sliceMs` of work, and
 * before the first: the caller may have worked this turn already (the import runner has just
 * read a 60 MB file from the database).
 */
export async function runStepsInSlices<T>(steps: Steps<T>, sliceMs = SLICE_MS): Promise<T> {
  await nextTurn();
  let sliceEnds = performance.now() + sliceMs;
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (performance.now() >= sliceEnds) {
      // setImmediate, not a resolved promise: promises run before I/O, so they would not let a request in.
      await nextTurn();
      sliceEnds = performance.now() + sliceMs;
    }
  }
}

/** items.map(fn), yielding after each item. */
export function* mapSteps<A, B>(items: readonly A[], fn: (item: A, index: number) => B): Steps<B[]> {
  const out: B[] = [];
  for (let i = 0; i < items.length; i++) {
    out.push(fn(items[i]!, i));
    yield;
  }
  return out;
}
