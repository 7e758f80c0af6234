import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";

const made: string[] = [];

/** A fresh temporary directory, removed after the current test (and any daemon living in it stopped). */
export function tempDir(prefix = "baton-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/**
 * Stop every baton daemon whose home is `dir` (its `daemon*.json` names the pid), so removing the
 * folder does not leave a daemon behind whose socket is gone with it (`baton daemon stop` cannot
 * find it then). SIGTERM, then SIGKILL after 5 s. A pid is signalled only while its command line
 * is a `daemon run` and its BATON_HOME is `dir`, so a reused pid is never hit.
 */
export function stopDaemonsIn(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^daemon(-[0-9a-f]+)?\.json$/.test(n));
  } catch {
    return;
  }
  for (const name of names) {
    let pid: number;
    try {
      pid = (JSON.parse(readFileSync(join(dir, name), "utf8")) as { pid: number }).pid;
    } catch {
      continue;
    }
    const ours = (): boolean => {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
        return cmdline.includes("daemon\0run") && environ.includes(`BATON_HOME=${dir}`);
      } catch {
        return false;
      }
    };
    if (!ours()) continue;
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + 5_000;
    while (ours() && Date.now() < deadline) spawnSync("sleep", ["0.05"]);
    if (ours()) process.kill(pid, "SIGKILL");
  }
}

afterEach(() => {
  while (made.length > 0) {
    const dir = made.pop()!;
    stopDaemonsIn(dir);
    rmSync(dir, { recursive: true, force: true });
  }
});
