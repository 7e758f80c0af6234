/**
 * A partitioned network between baton and PostgreSQL (RELIABILITY.md R-13): the store talks to the
 * server through a TCP proxy that black-holes every connection (bytes dropped, nothing closed) while
 * 500 jobs are running, then heals.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatonError } from "../src/core/errors.js";
import type { ClaimedJob } from "../src/core/job.js";
import { Engine } from "../src/engine/engine.js";
import { PostgresStore } from "../src/store/postgres/postgres-store.js";
import { expectWakeUp, PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";
import type { TcpProxy } from "./helpers/tcp-proxy.js";
import { startTcpProxy } from "./helpers/tcp-proxy.js";

warnIfPgSkipped("PostgreSQL network faults");
const db = pgTestDatabase();
/** How long the network stays black-holed (RELIABILITY.md: 30 s). */
const BLACKHOLE_MS = Number(process.env.BATON_R13_BLACKHOLE_MS ?? 30_000);
const JOBS = 500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!PG_ENABLED)("R-13 PostgreSQL connection black-holed", () => {
  let proxy: TcpProxy | undefined;
  beforeAll(() => db.setup());
  afterAll(async () => {
    await proxy?.close();
    await db.teardown();
  });

  it(`R-13 connection black-holed for ${BLACKHOLE_MS / 1000} s during ${JOBS} running jobs: 0 lost, 0 duplicate completions, wake-ups restored within 10 s of healing, no unhandled rejection`, async () => {
    const schema = db.freshSchema();
    const direct = db.store({ schema });
    await direct.migrate();
    const feeder = new Engine(direct, { actor: "feeder" });
    const backoff = { baseMs: 10, factor: 1, maxMs: 10, jitter: 0 };
    await feeder.enqueue(
      Array.from({ length: JOBS }, (_, n) => ({ type: "r13", payload: { n }, maxAttempts: 20, backoff })),
    );

    proxy = await startTcpProxy(Number(new URL(db.url).port || 5432), new URL(db.url).hostname);
    const viaProxy = new URL(db.url);
    viaProxy.hostname = "127.0.0.1";
    viaProxy.port = String(proxy.port);
    const store = new PostgresStore({
      connectionString: viaProxy.toString(),
      schema,
      poolSize: 8,
      statementTimeoutMs: 2000,
      connectTimeoutMs: 2000,
    });
    const engine = new Engine(store, { actor: "worker" });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    let wakes = 0;
    const unsubscribe = store.onWake(() => wakes++, { pingMs: 1000 });
    const typedErrors = new Map<string, number>();
    const noteError = (error: unknown) => {
      expect(error, String(error)).toBeInstanceOf(BatonError);
      const code = (error as BatonError).code;
      typedErrors.set(code, (typedErrors.get(code) ?? 0) + 1);
    };
    try {
      // 500 running jobs, then the partition.
      const running: ClaimedJob[] = [];
      while (running.length < JOBS) {
        running.push(...(await engine.claim({ owner: "w", types: ["r13"], limit: 100, leaseMs: 20_000 })));
      }
      // The listener works before the partition: a commit elsewhere wakes it.
      await expectWakeUp("a first wake-up", feeder, () => wakes, 30_000);
      proxy.blackhole(true);
      const healAt = Date.now() + BLACKHOLE_MS;
      const healed = (async () => {
        await sleep(BLACKHOLE_MS);
        proxy.blackhole(false);
      })();

      // 8 workers finish the running jobs (retrying typed failures), then whatever was recovered.
      const done = async () => (await direct.countJobs({ types: ["r13"], states: ["succeeded"] })) === JOBS;
      const worker = async (index: number) => {
        const mine = running.filter((_, i) => i % 8 === index);
        for (const claimed of mine) {
          for (;;) {
            try {
              await engine.complete(claimed.job.id, { token: claimed.token });
              break;
            } catch (error) {
              noteError(error);
              if ((error as BatonError).code === "LEASE_LOST") break; // recovered: claimed again below
              await sleep(200);
            }
          }
        }
        while (!(await done())) {
          try {
            const batch = await engine.claim({
              owner: `w${index}`,
              types: ["r13"],
              limit: 10,
              leaseMs: 20_000,
            });
            for (const c of batch) await engine.complete(c.job.id, { token: c.token });
            if (batch.length === 0) await sleep(200);
          } catch (error) {
            noteError(error);
            await sleep(200);
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, i) => worker(i)));
      await healed;
      expect(Date.now()).toBeGreaterThanOrEqual(healAt);

      // Wake-ups: after healing, a commit elsewhere reaches this store's listener again.
      await expectWakeUp("a wake-up within 10 s of healing", feeder, () => wakes, 10_000);

      // 0 lost, 0 duplicate completions.
      expect(await direct.countJobs({ types: ["r13"], states: ["succeeded"] })).toBe(JOBS);
      const completions = await direct.events({ types: ["r13"], limit: 100_000 });
      const completedPerJob = new Map<string, number>();
      for (const e of completions.filter((e) => e.kind === "completed")) {
        completedPerJob.set(e.jobId!, (completedPerJob.get(e.jobId!) ?? 0) + 1);
      }
      expect(completedPerJob.size).toBe(JOBS);
      expect([...completedPerJob.values()].filter((n) => n !== 1)).toEqual([]);
      expect(unhandled).toEqual([]);
      console.log(
        `R-13: typed errors seen by workers during the partition: ${JSON.stringify([...typedErrors])}`,
      );
    } finally {
      unsubscribe();
      process.off("unhandledRejection", onUnhandled);
      await store.close();
    }
  }, 300_000);
});
