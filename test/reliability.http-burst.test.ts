/**
 * R-06 (RELIABILITY.md, issue 8): a burst of 100,000 jobs enqueued while the dashboard API is
 * polled. The burst is the real benchmark script (`bench/http.mjs`, also `npm run bench:http`):
 * `baton dashboard` starts the daemon and its HTTP server, four producer processes run
 * `baton enqueue -f` batch after batch (half through the daemon, half writing the SQLite file
 * themselves), and the script polls `GET /api/jobs` and `GET /api/stats` back to back with one SSE
 * stream open, sampling the daemon's RSS from /proc. This test reads its JSON report.
 *
 * Checked: every job asked for is in the ledger (0 dropped, no batch refused), the daemon's peak
 * RSS < 250 MB, and no poll failed. The list API's p95 is printed; its 200 ms target is the
 * benchmark's verdict (`npm run bench:http` prints [ok] or [MISS]), as every speed target is. This
 * test holds it to 1 s: it catches a list that stalls behind the burst (the stats endpoint once
 * took 1.6 s at p95 here), not a machine that is slower or busier than ours.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { jsonReport } from "./helpers/json-child.js";
import { tempDir } from "./helpers/tmp.js";

const ROOT = join(import.meta.dirname, "..");
const BURST = join(ROOT, "bench", "http.mjs");

interface BurstReport {
  jobs: number;
  seconds: number;
  enqueuesPerSecond: number;
  inLedger: number;
  acknowledged: number;
  dropped: number;
  failedBatches: string[];
  rssStartMb: number;
  rssPeakMb: number;
  listCalls: number;
  listP50Ms: number;
  listP95Ms: number;
  listP99Ms: number;
  statsP95Ms: number;
  pollErrors: string[];
  sseEvents: number;
}

function burst(args: string[]): Promise<BurstReport> {
  return jsonReport<BurstReport>(
    [BURST, "--json", "--home", tempDir("baton-burst-"), ...args],
    "bench/http.mjs",
  );
}

describe("R-06 burst while the dashboard polls", () => {
  it("R-06 100,000 jobs enqueued while GET /api/jobs is polled: 0 dropped, daemon RSS < 250 MB, no poll fails, list never stalls", async () => {
    const r = await burst(["--jobs", "100000", "--batch", "1000", "--producers", "4"]);
    console.log(
      `R-06: ${r.inLedger}/${r.jobs} jobs in ${r.seconds} s (${r.enqueuesPerSecond}/s); daemon RSS ` +
        `${r.rssStartMb} → peak ${r.rssPeakMb} MB; GET /api/jobs x${r.listCalls} p50 ${r.listP50Ms} ms, ` +
        `p95 ${r.listP95Ms} ms, p99 ${r.listP99Ms} ms; stats p95 ${r.statsP95Ms} ms; SSE events ${r.sseEvents}`,
    );
    expect(r.failedBatches).toEqual([]);
    expect(r.pollErrors).toEqual([]);
    expect(r.acknowledged).toBe(r.jobs);
    expect(r.dropped).toBe(0);
    expect(r.inLedger).toBe(r.jobs);
    expect(r.listCalls).toBeGreaterThan(20);
    expect(r.rssPeakMb).toBeLessThan(250);
    expect(r.listP95Ms).toBeLessThan(1000);
  }, 300_000);
});
