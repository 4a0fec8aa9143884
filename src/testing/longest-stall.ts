/** How long `work` held the event loop: see withLongestStall. */
export interface Stall<T> {
  result: T;
  /** The longest wall-clock time between two turns: what a request arriving then would have waited. */
  longestMs: number;
  /**
   * The most CPU time this thread spent between two turns: the same, without the time the
   * operating system gave the CPU to other processes (on a busy machine, 100 ms and more), which
   * no code of ours can shorten. What tests assert.
   */
  longestBusyMs: number;
  totalMs: number;
}

const cpuMs = () => {
  const { user, system } = process.threadCpuUsage();
  return (user + system) / 1000;
};

/** Runs `work` while a timer asks for a turn of the event loop every millisecond, and measures the waits between turns. */
export async function withLongestStall<T>(work: () => Promise<T>): Promise<Stall<T>> {
  let last = performance.now();
  let lastCpu = cpuMs();
  let longestMs = 0;
  let longestBusyMs = 0;
  const beat = setInterval(() => {
    const now = performance.now();
    const cpu = cpuMs();
    longestMs = Math.max(longestMs, now - last);
    longestBusyMs = Math.max(longestBusyMs, cpu - lastCpu);
    last = now;
    lastCpu = cpu;
  }, 1);
  try {
    const started = performance.now();
    last = started;
    lastCpu = cpuMs();
    const result = await work();
    const totalMs = performance.now() - started;
    // A stall at the very end of the work shows at the next beat.
    await new Promise((resolve) => setTimeout(resolve, 5));
    return { result, longestMs, longestBusyMs, totalMs };
  } finally {
    clearInterval(beat);
  }
}
