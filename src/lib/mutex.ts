/** One holder at a time, served in arrival order. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private holders = 0;

  /** Whether someone holds it or waits for it. */
  get held(): boolean {
    return this.holders > 0;
  }

  /** Runs fn once everyone before has finished; the lock is released however fn ends. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    this.holders++;
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => {
        this.holders--;
      },
      () => {
        this.holders--;
      },
    );
    return result;
  }
}
