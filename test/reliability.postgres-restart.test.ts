/**
 * PostgreSQL restarted mid-run (RELIABILITY.md R-14), on a throwaway cluster this test starts with
 * the PostgreSQL binaries on the machine (never the shared server): the store reconnects by itself.
 */
import { afterAll, describe, expect, it } from "vitest";
import { BatonError } from "../src/core/errors.js";
import { Engine } from "../src/engine/engine.js";
import { PostgresStore } from "../src/store/postgres/postgres-store.js";
import type { Cluster } from "./helpers/pg-cluster.js";
import { clusterUnavailable, startCluster } from "./helpers/pg-cluster.js";
import { eventually, expectWakeUp } from "./helpers/pg.js";

const why = clusterUnavailable();
if (why !== undefined) console.warn(`PostgreSQL restart suite skipped: ${why}`);
const JOBS = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(why !== undefined)("R-14 PostgreSQL restarted mid-run", () => {
  let cluster: Cluster | undefined;
  afterAll(async () => {
    await cluster?.remove();
  });

  it(`R-14 PostgreSQL restarted (immediate stop, 2 s down) while 8 workers process ${JOBS} jobs: 0 lost, 0 double claims, the store reconnects by itself`, async () => {
    cluster = await startCluster();
    const store = new PostgresStore({ connectionString: cluster.url, poolSize: 8, connectTimeoutMs: 2000 });
    await store.migrate();
    const engine = new Engine(store, { actor: "r14" });
    const backoff = { baseMs: 10, factor: 1, maxMs: 10, jitter: 0 };
    await engine.enqueue(
      Array.from({ length: JOBS }, (_, n) => ({ type: "r14", payload: { n }, maxAttempts: 20, backoff })),
    );
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    let wakes = 0;
    const unsubscribe = store.onWake(() => wakes++, { pingMs: 1000 });
    const errors = new Map<string, number>();
    let finished = 0;
    let stop = false;
    try {
      const worker = async (index: number) => {
        while (!stop) {
          try {
            const batch = await engine.claim({ owner: `w${index}`, types: ["r14"], limit: 5, leaseMs: 3000 });
            for (const c of batch) {
              await engine.complete(c.job.id, { token: c.token });
              finished++;
            }
            if (batch.length === 0) {
              if ((await store.countJobs({ types: ["r14"], states: ["succeeded"] })) === JOBS) return;
              await sleep(100);
            }
          } catch (error) {
            expect(error, String(error)).toBeInstanceOf(BatonError);
            const code = (error as BatonError).code;
            errors.set(code, (errors.get(code) ?? 0) + 1);
            await sleep(100);
          }
        }
      };
      const workers = Promise.all(Array.from({ length: 8 }, (_, i) => worker(i)));
      await eventually(
        "some jobs to finish before the restart",
        () => Promise.resolve(finished >= 100),
        120_000,
      );
      const before = await store.countJobs({ types: ["r14"], states: ["succeeded"] });
      expect(before, "the restart happens mid-run").toBeLessThan(JOBS);
      await cluster.restart(2000);
      await workers.finally(() => (stop = true));

      expect(await store.countJobs({ types: ["r14"], states: ["succeeded"] })).toBe(JOBS);
      const completed = new Map<string, number>();
      for (const e of await store.events({ types: ["r14"], limit: 100_000 })) {
        if (e.kind === "completed") completed.set(e.jobId!, (completed.get(e.jobId!) ?? 0) + 1);
      }
      expect(completed.size).toBe(JOBS);
      expect([...completed.values()].filter((n) => n !== 1)).toEqual([]);
      // Every attempt but the last of a job ended as a crash (a lease lost to the restart): no job
      // ran twice at once.
      for (const id of [...completed.keys()].slice(0, 50)) {
        const attempts = await store.attempts(id);
        expect(attempts.at(-1)?.outcome).toBe("succeeded");
        expect(attempts.slice(0, -1).every((a) => a.outcome === "crashed")).toBe(true);
      }
      // The wake-up listener came back too.
      await expectWakeUp("a wake-up after the restart", engine, () => wakes, 30_000);
      expect(unhandled).toEqual([]);
      console.log(`R-14: typed errors seen by workers across the restart: ${JSON.stringify([...errors])}`);
    } finally {
      stop = true;
      unsubscribe();
      process.off("unhandledRejection", onUnhandled);
      await store.close();
    }
  }, 300_000);
});
