/**
 * R-05, CI variant (RELIABILITY.md, issue 6): 10,000 jobs through one library worker at
 * concurrency 32 on a temp SQLite file, after 20,000 jobs of warm-up. The soak is the real
 * benchmark script (`bench/soak.mjs`, also `npm run soak` for 100,000 jobs) in its own process with
 * `--expose-gc`, loading a private bundle of the library; this test reads its JSON report.
 *
 * Checked: every job succeeded, resident memory retained after a full GC grew < 10 %, open file
 * descriptors did not grow, the -wal file stayed bounded. The claim p99 ratio is printed; it is a
 * verdict of the full soak, where each quarter holds hundreds of probe claims (here a few dozen,
 * so its p99 is one sample).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FixtureLibrary } from "./fixtures/library.js";
import { buildFixtureLibrary } from "./fixtures/library.js";
import { jsonReport } from "./helpers/json-child.js";

const ROOT = join(import.meta.dirname, "..");
const SOAK = join(ROOT, "bench", "soak.mjs");

interface SoakReport {
  jobs: number;
  warmup: number;
  succeeded: number;
  rssMeasure: string;
  rssStartMiB: number;
  rssEndMiB: number;
  rssGrowth: number;
  heapRetainedStartMiB: number | null;
  heapRetainedEndMiB: number | null;
  fdsStart: number;
  fdsEnd: number;
  walMaxBytes: number;
  walBoundBytes: number;
  claimRatio: number;
  jobsPerS: number;
}

let library: FixtureLibrary | undefined;

beforeAll(async () => {
  library = await buildFixtureLibrary("index.ts");
}, 60_000);

afterAll(() => library?.remove());

function soak(args: string[]): Promise<SoakReport> {
  return jsonReport<SoakReport>(
    ["--expose-gc", SOAK, "--json", "--lib", library!.url, ...args],
    "bench/soak.mjs",
  );
}

describe("R-05 soak (CI variant)", () => {
  it("R-05 10,000 jobs at concurrency 32 after warm-up: all succeed, retained RSS grows < 10 %, fds stable, WAL bounded", async () => {
    const r = await soak(["--jobs", "10000", "--warmup", "20000", "--concurrency", "32"]);
    console.log(
      `R-05: ${r.jobs} jobs (+${r.warmup} warm-up) at ${Math.round(r.jobsPerS)} jobs/s; RSS ${r.rssMeasure} ` +
        `${r.rssStartMiB.toFixed(1)} → ${r.rssEndMiB.toFixed(1)} MiB (${(r.rssGrowth * 100).toFixed(1)} %), heap ` +
        `${r.heapRetainedStartMiB?.toFixed(1)} → ${r.heapRetainedEndMiB?.toFixed(1)} MiB; fds ${r.fdsStart} → ${r.fdsEnd}; ` +
        `WAL max ${Math.round(r.walMaxBytes / 1024)} KiB; claim p99 end/start ${r.claimRatio.toFixed(2)}×`,
    );
    expect(r.succeeded).toBe(r.jobs + r.warmup);
    expect(r.rssMeasure).toBe("after full GC");
    expect(r.rssGrowth).toBeLessThan(0.1);
    // The JavaScript heap a leak would fill: retained after GC, it must not grow either.
    expect(r.heapRetainedEndMiB!).toBeLessThan(r.heapRetainedStartMiB! * 1.1);
    expect(r.fdsEnd).toBeLessThanOrEqual(r.fdsStart + 2);
    expect(r.walMaxBytes).toBeLessThanOrEqual(r.walBoundBytes);
  }, 180_000);
});
