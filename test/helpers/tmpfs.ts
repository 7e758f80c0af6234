/**
 * A real, small tmpfs for disk-full tests. Mounting needs root (CAP_SYS_ADMIN): where
 * it is missing, {@link cannotMount} says why and the suite skips with that reason.
 */
import { execFileSync } from "node:child_process";
import { closeSync, openSync, writeSync } from "node:fs";
import { tempDir } from "./tmp.js";

export function mountTmpfs(dir: string, size: string): void {
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir], { stdio: "pipe" });
}

/** Why a tmpfs cannot be mounted here, or undefined when it can. */
export function cannotMount(): string | undefined {
  if (process.platform !== "linux") return "tmpfs mounts are Linux only";
  const probe = tempDir("baton-mount-probe-");
  try {
    mountTmpfs(probe, "1m");
    execFileSync("umount", [probe], { stdio: "pipe" });
    return undefined;
  } catch (error) {
    return `cannot mount a tmpfs (needs root): ${String((error as Error).message).split("\n")[0]}`;
  }
}

/** Fill the file system holding `path` until the kernel answers ENOSPC; the bytes written. */
export function fill(path: string): number {
  const fd = openSync(path, "w");
  let written = 0;
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512]) {
      const chunk = Buffer.alloc(size, 7);
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}
