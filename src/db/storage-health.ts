import { type StorageProblem, storageProblem } from './storage-errors.js';

/** What clients are told to wait (Retry-After) while the database cannot be written, and how often it is probed meanwhile. */
export const STORAGE_RETRY_SECONDS = 5;

export interface StorageState {
  available: boolean;
  /** While unavailable: why, and the error that said so. */
  problem?: StorageProblem;
  error?: unknown;
}

/**
 * Whether the database can be written right now, as the writes themselves found out: every
 * outermost transaction reports its outcome (db.ts). A write failing for a disk reason (full,
 * read-only, I/O error) makes storage unavailable: /readyz answers 503 and API writes 503
 * storage_unavailable instead of 500s. It becomes available again by itself, with the next write
 * that commits, or with the probe that runs every few seconds meanwhile (the smallest real
 * write), so a server taken out of rotation by its /readyz comes back without waiting for a client.
 */
export class StorageHealth {
  private failure: { problem: StorageProblem; error: unknown } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: ((state: StorageState) => void)[] = [];

  constructor(
    private readonly probeWrite: () => void | Promise<void>,
    private readonly probeEveryMs = STORAGE_RETRY_SECONDS * 1000,
  ) {}

  get available(): boolean {
    return this.failure === undefined;
  }

  get state(): StorageState {
    return this.failure ? { available: false, ...this.failure } : { available: true };
  }

  /** Called on every change between available and unavailable. */
  onChange(listener: (state: StorageState) => void): void {
    this.listeners.push(listener);
  }

  /** A write failed. Returns whether the disk is the cause (storage is then unavailable). */
  writeFailed(error: unknown): boolean {
    const problem = storageProblem(error);
    if (!problem) return false;
    if (this.failure) return true;
    this.failure = { problem, error };
    // unref: a failing disk alone must not keep a CLI process alive.
    this.timer = setInterval(() => this.probeQuietly(), this.probeEveryMs).unref();
    this.emit();
    return true;
  }

  /** A write committed: whatever failed before works again. */
  writeSucceeded(): void {
    if (!this.failure) return;
    this.stop();
    this.failure = undefined;
    this.emit();
  }

  /** Writes the smallest real change now; throws what the disk said when it cannot. */
  async probe(): Promise<void> {
    try {
      await this.probeWrite();
    } catch (e) {
      this.writeFailed(e);
      throw e;
    }
    this.writeSucceeded();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private probeQuietly() {
    this.probe().catch(() => {
      // Still failing (or busy with another process's write lock): the next tick tries again.
    });
  }

  private emit() {
    const state = this.state;
    for (const listener of this.listeners) listener(state);
  }
}
