/**
 * Real disk conditions for tests: a read-only file system (or file), and a small tmpfs that can
 * be filled up. As root (this machine, CI containers) they are mounts, since file modes do not
 * bind root; as another user, file modes give the same read-only errors, and a tmpfs cannot be
 * mounted: such tests are skipped, saying why.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const isRoot = process.getuid?.() === 0;

function run(cmd: string, args: string[]): string | undefined {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    return undefined;
  } catch (e) {
    return `${cmd} ${args.join(' ')}: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`;
  }
}

/**
 * Makes a directory or file read-only: a read-only bind mount of it as root, its write bits
 * removed otherwise. Returns the undo, or why it cannot be done here.
 */
export function makeReadOnly(path: string): (() => void) | string {
  if (isRoot) {
    const failed = run('mount', ['--bind', path, path]);
    if (failed) return `a read-only mount needs CAP_SYS_ADMIN (${failed})`;
    const remount = run('mount', ['-o', 'remount,bind,ro', path]);
    if (remount) {
      run('umount', [path]);
      return `a read-only mount needs CAP_SYS_ADMIN (${remount})`;
    }
    return () => void run('umount', [path]);
  }
  const mode = statSync(path).mode & 0o777;
  chmodSync(path, mode & ~0o222);
  return () => chmodSync(path, mode);
}

export interface Tmpfs {
  dir: string;
  /** Writes a filler file until the file system refuses with ENOSPC. */
  fill(): void;
  /** Removes the filler. */
  free(): void;
  unmount(): void;
}

/** A tmpfs of `bytes` bytes in a fresh directory, or why it cannot be mounted here. */
export function mountTmpfs(bytes: number): Tmpfs | string {
  if (!isRoot) return 'mounting a tmpfs needs root';
  const dir = mkdtempSync(join(tmpdir(), 'linkqr-tmpfs-'));
  const failed = run('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
  if (failed) {
    rmSync(dir, { recursive: true, force: true });
    return `mounting a tmpfs needs CAP_SYS_ADMIN (${failed})`;
  }
  const filler = join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      try {
        for (const size of [1 << 20, 1 << 12, 1]) {
          const chunk = Buffer.alloc(size, 1);
          for (;;) {
            try {
              writeSync(fd, chunk);
            } catch (e) {
              if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw e;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    free: () => rmSync(filler, { force: true }),
    unmount() {
      run('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
