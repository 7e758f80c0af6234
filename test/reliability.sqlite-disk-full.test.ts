/**
 * R-12 (RELIABILITY.md): the disk holding the SQLite ledger fills up during a run.
 *
 * The data directory is a real 24 MiB tmpfs mounted for this test. A client process
 * (`test/fixtures/disk-full-client.mjs`) enqueues jobs one after another and runs a library worker
 * on them; the test then fills the tmpfs with a file until the kernel answers ENOSPC, watches the
 * client for a while, runs the CLI against the same ledger, deletes the file and watches the
 * client resume.
 *
 * Checked: while full, enqueues answer the typed STORAGE_FULL and nothing else, the CLI says
 * STORAGE_FULL with exit code 5, and the client stays up; after space returns, it enqueues and
 * completes again within 10 s; at the end `integrity_check` is ok, every acknowledged enqueue is in
 * the ledger and succeeded, and no handler ran twice (outcomes that met the full disk were kept
 * and written later, not lost to lease expiry).
 *
 * Mounting needs root (CAP_SYS_ADMIN). Where that is missing the suite is skipped and says why.
 */
import type { ChildProcess } from "node:child_process";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FixtureLibrary } from "./fixtures/library.js";
import { buildFixtureLibrary } from "./fixtures/library.js";
import { cannotMount, fill, mountTmpfs } from "./helpers/tmpfs.js";

const ROOT = join(import.meta.dirname, "..");
const CLIENT = join(ROOT, "test", "fixtures", "disk-full-client.mjs");
const BIN = join(ROOT, "bin", "baton.js");

const skipReason = cannotMount();
if (skipReason !== undefined) console.warn(`R-12 disk-full suite skipped: ${skipReason}`);

interface Fact {
  t: number;
  ack?: string;
  refused?: string;
  done?: string;
  werror?: string;
  runs?: Record<string, number>;
}

describe.skipIf(skipReason !== undefined)("R-12 disk full (SQLite on a small tmpfs)", () => {
  let library: FixtureLibrary | undefined;
  let mountPoint: string | undefined;
  let client: ChildProcess | undefined;

  beforeAll(async () => {
    library = await buildFixtureLibrary("index.ts");
  }, 60_000);

  afterAll(() => {
    client?.kill("SIGKILL");
    if (mountPoint !== undefined) {
      spawnSync("umount", ["-l", mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
    library?.remove();
  });

  it("R-12 fill the disk during a run: typed STORAGE_FULL, no crash, nothing committed lost, work resumes within 10 s of freeing space", async () => {
    // Not tempDir(): its cleanup runs before afterAll could unmount.
    mountPoint = mkdtempSync(join(tmpdir(), "baton-r12-"));
    mountTmpfs(mountPoint, "24m");
    const home = join(mountPoint, "home");

    const facts: Fact[] = [];
    const child = spawn(
      process.execPath,
      [CLIENT, JSON.stringify({ lib: library!.url, home, payloadBytes: 1024, handlerMs: 20, gapMs: 5 })],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    client = child;
    let stderr = "";
    let pending = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.stdout.on("data", (c: Buffer) => {
      pending += c.toString();
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        facts.push(JSON.parse(pending.slice(0, newline)) as Fact);
        pending = pending.slice(newline + 1);
      }
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const until = async (what: string, ok: () => boolean, timeoutMs: number): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      while (!ok()) {
        if (child.exitCode !== null)
          throw new Error(`the client exited (${child.exitCode}) waiting for ${what}: ${stderr}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const count = (key: keyof Fact, after = 0) =>
      facts.filter((f) => f[key] !== undefined && f.t > after).length;

    // A running start: jobs enqueued and completed.
    await until(
      "300 enqueues and 100 completions",
      () => count("ack") >= 300 && count("done") >= 100,
      60_000,
    );

    // Fill the disk, then watch.
    const filler = join(mountPoint, "filler");
    const tFull = Date.now();
    const filled = fill(filler);
    await until(
      "5 refused enqueues and 3 worker errors",
      () => count("refused", tFull) >= 5 && count("werror", tFull) >= 3,
      20_000,
    );
    const workerCodes = new Set(facts.filter((f) => f.werror !== undefined).map((f) => f.werror));
    expect([...workerCodes]).toEqual(["STORAGE_FULL"]);
    const refusedCodes = new Set(facts.filter((f) => f.refused !== undefined).map((f) => f.refused));
    expect([...refusedCodes]).toEqual(["STORAGE_FULL"]);

    // The CLI on the same ledger answers the typed error, exit code 5 (documented in docs/errors.md).
    const cli = spawnSync(
      process.execPath,
      [BIN, "enqueue", "--type", "disk", '{"n":-1,"pad":"cli"}', "--json"],
      {
        env: { ...process.env, BATON_HOME: home, BATON_DIRECT: "1", NO_COLOR: "1" },
        encoding: "utf8",
        timeout: 30_000,
      },
    );
    expect(cli.status, `${cli.stdout}${cli.stderr}`).toBe(5);
    expect(JSON.parse(cli.stdout).error.code).toBe("STORAGE_FULL");

    // Still full, still up.
    await new Promise((r) => setTimeout(r, 500));
    expect(child.exitCode).toBeNull();
    const ackedWhileFull = facts.filter((f) => f.ack !== undefined && f.t > tFull + 200).length;

    // Free the space: enqueues and completions resume within 10 s.
    rmSync(filler);
    const tFree = Date.now();
    await until(
      "an enqueue and a completion after freeing space",
      () => count("ack", tFree) > 0 && count("done", tFree) > 0,
      10_000,
    );
    const resumedMs =
      Math.max(
        facts.find((f) => f.ack !== undefined && f.t > tFree)!.t,
        facts.find((f) => f.done !== undefined && f.t > tFree)!.t,
      ) - tFree;
    await until("100 more enqueues", () => count("ack", tFree) >= 100, 30_000);

    // Drain and stop.
    child.kill("SIGTERM");
    expect(await exited, stderr).toBe(0);
    const runs = facts.find((f) => f.runs !== undefined)!.runs!;
    const acked = facts.filter((f) => f.ack !== undefined).map((f) => f.ack!);
    console.log(
      `R-12: filled ${(filled / 1048576).toFixed(1)} MiB; ${count("refused")} enqueues refused (STORAGE_FULL), ` +
        `${ackedWhileFull} acknowledged while full; ${count("werror")} worker errors reported; resumed ${resumedMs} ms ` +
        `after freeing space; ${acked.length} acknowledged, ${Object.keys(runs).length} handled`,
    );

    const db = new Database(join(home, "baton.db"), { readonly: true });
    try {
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      const rows = db.prepare("SELECT id, state FROM jobs WHERE type = 'disk'").all() as {
        id: string;
        state: string;
      }[];
      const state = new Map(rows.map((r) => [r.id, r.state]));
      const missing = acked.filter((id) => !state.has(id));
      expect(missing, "acknowledged enqueues missing from the ledger").toEqual([]);
      const unfinished = acked.filter((id) => state.get(id) !== "succeeded");
      expect(unfinished, "acknowledged jobs not succeeded").toEqual([]);
      // Nothing in the ledger that nobody acknowledged (a refused enqueue wrote nothing).
      expect(rows.length).toBe(acked.length);
    } finally {
      db.close();
    }
    const twice = Object.entries(runs).filter(([, n]) => n !== 1);
    expect(twice, "handlers that ran more than once").toEqual([]);
    expect(Object.keys(runs).length).toBe(acked.length);
  }, 180_000);
});
