// The peers of bench/postgres.mjs: graphile-worker 0.17.3 and pg-boss 10.4.2 (exact devDependencies),
// each driven through its public API with its own defaults and a no-op handler, on the benchmark's
// database (graphile-worker in its default schema `graphile_worker`, pg-boss in `pgboss`).
//
// Each `bench…` function measures what it can and returns { …numbers, error? }: a failure of a peer
// is recorded, never thrown, and whatever it started (pools, runners, workers) is stopped before it
// returns, with a time limit on each stop.
//
// Processing is timed from the first handler call to the moment the peer's table holds no unfinished
// job (so a peer's start-up is not counted), or until `capMs` runs out: then the rate is the jobs
// finished by then over the elapsed time, and `capped` is set.

export const perSecond = (count, ms) => (count * 1000) / ms;
export const percentile = (xs, p) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const message = (error) => (error instanceof Error ? error.message : String(error));

/** Resolves `promise`, or rejects after `ms` (the timer does not keep the process alive). */
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs the stops in order; a stop that fails or hangs is recorded, the others still run. */
async function stopAll(stops, result) {
  for (const [what, stop] of stops.reverse()) {
    try {
      await within(Promise.resolve().then(stop), 15_000, what);
    } catch (error) {
      result.error ??= `stopping ${what}: ${message(error)}`;
    }
  }
}

/** A handler counter: how many jobs the handlers saw, and when the first one came. */
const counter = () => ({ handled: 0, first: undefined });
const seen = (count, n = 1) => {
  count.first ??= performance.now();
  count.handled += n;
};

/** See the header: timed from the first handler call until `remaining()` is 0, or capped. */
async function drain(count, total, remaining, capMs) {
  const deadline = performance.now() + capMs;
  for (;;) {
    if (count.handled >= total && (await remaining()) === 0) {
      return { rate: perSecond(total, performance.now() - count.first), capped: false };
    }
    if (performance.now() >= deadline) {
      const done = total - (await remaining());
      const elapsed = count.first === undefined ? 0 : performance.now() - count.first;
      return { rate: elapsed > 0 ? perSecond(done, elapsed) : 0, capped: true };
    }
    await sleep(count.handled >= total ? 5 : 20);
  }
}

/** Sends one job at a time and waits for its handler: returns the latencies in ms. */
async function latencies(samples, capMs, send, handled) {
  const out = [];
  const deadline = performance.now() + capMs;
  for (let i = 0; i < samples && performance.now() < deadline; i++) {
    const start = performance.now();
    const done = handled();
    await send(i);
    out.push((await within(done, capMs + 5_000, "a latency sample")) - start);
  }
  return out;
}

const latencySummary = (xs) => ({
  p50: percentile(xs, 0.5),
  p99: percentile(xs, 0.99),
  samples: xs.length,
});

// --- graphile-worker --------------------------------------------------------------------------
/**
 * graphile-worker 0.17.3: WorkerUtils.addJob one by one; `run` with concurrency 8 (pollInterval and
 * pool size at their defaults, 2 s and 10), once as it comes and once with its local queue fetching
 * 32 jobs at a time; then one job at a time through LISTEN/NOTIFY.
 */
export async function benchGraphileWorker({ url, N, concurrency, capMs, latencySamples }) {
  const result = {};
  const stops = [];
  try {
    const { default: gw } = await import("graphile-worker");
    // Only warnings and errors, prefixed; the default logger prints every start and stop.
    const logger = new gw.Logger(() => (level, text) => {
      if (level === "error" || level === "warning") console.error(`  graphile-worker ${level}: ${text}`);
    });
    const shared = { connectionString: url, logger };
    const utils = await gw.makeWorkerUtils(shared);
    stops.push(["graphile-worker WorkerUtils", () => utils.release()]);
    await utils.migrate();
    // A previous round may have left jobs behind (a capped run).
    await utils.withPgClient((client) => client.query("DELETE FROM graphile_worker._private_jobs"));
    const remaining = () =>
      utils.withPgClient(async (client) => {
        const { rows } = await client.query("SELECT count(*)::int AS n FROM graphile_worker._private_jobs");
        return rows[0].n;
      });

    const start = performance.now();
    for (let i = 0; i < N.single; i++) await utils.addJob("bench", { i });
    result.enqueue = perSecond(N.single, performance.now() - start);

    const fill = async (count) => {
      for (let i = 0; i < count; i += 1000) {
        const size = Math.min(1000, count - i);
        await utils.addJobs(
          Array.from({ length: size }, (_, n) => ({ identifier: "bench", payload: { n } })),
        );
      }
    };
    let pending;
    const runner = async (count, extra = {}) => {
      const r = await gw.run({
        ...shared,
        concurrency,
        noHandleSignals: true,
        crontab: "",
        taskList: { bench: async () => seen(count), latency: async () => pending?.(performance.now()) },
        ...extra,
      });
      stops.push(["graphile-worker runner", () => r.stop()]);
      return r;
    };

    // The enqueue-one-by-one jobs are still queued: processed and counted too, as for baton.
    await fill(N.process);
    let count = counter();
    await runner(count);
    result.process = await drain(count, N.process + N.single, remaining, capMs);
    // One job at a time, through the same runner, idle now.
    const times = await latencies(
      latencySamples,
      capMs,
      (i) => utils.addJob("latency", { i }),
      () => new Promise((resolve) => (pending = resolve)),
    );
    await stops.pop()[1]();

    await utils.withPgClient((client) => client.query("DELETE FROM graphile_worker._private_jobs"));
    await fill(N.process);
    count = counter();
    await runner(count, { preset: { worker: { localQueue: { size: 32 } } } });
    result.batched = await drain(count, N.process, remaining, capMs);
    result.latency = latencySummary(times);
  } catch (error) {
    result.error = message(error);
  } finally {
    await stopAll(stops, result);
  }
  return result;
}

// --- pg-boss ----------------------------------------------------------------------------------
/**
 * pg-boss 10.4.2: `send` one by one; eight `work` workers on one queue (its v10 API has no
 * teamSize: concurrency is several workers, each fetching `batchSize` jobs per poll), polling at
 * its default 2 s with batchSize 1 and 32, and at its minimum of 0.5 s with batchSize 32; then one
 * job at a time through one worker (pg-boss has no LISTEN/NOTIFY wake-up: it polls).
 */
export async function benchPgBoss({ url, N, concurrency, capMs, latencySamples, round = 0 }) {
  const result = {};
  const stops = [];
  try {
    const { default: PgBoss } = await import("pg-boss");
    const boss = new PgBoss({ connectionString: url });
    boss.on("error", (error) => {
      result.error ??= `pg-boss error event: ${message(error)}`;
    });
    await boss.start();
    stops.push(["pg-boss", () => boss.stop({ graceful: true, wait: true, timeout: 5_000 })]);
    // Fresh queues each round: a capped run leaves jobs behind.
    const [bench, batched, tuned, latency] = ["bench", "batched", "tuned", "latency"].map(
      (q) => `${q}_${round}`,
    );
    for (const q of [bench, batched, tuned, latency]) await boss.createQueue(q);
    const remaining = (q) => () => boss.getQueueSize(q, { before: "completed" });

    const start = performance.now();
    for (let i = 0; i < N.single; i++) await boss.send(bench, { i });
    result.enqueue = perSecond(N.single, performance.now() - start);

    const fill = async (q, count) => {
      for (let i = 0; i < count; i += 1000) {
        const size = Math.min(1000, count - i);
        await boss.insert(Array.from({ length: size }, (_, n) => ({ name: q, data: { n } })));
      }
    };
    const work = async (q, total, options) => {
      const count = counter();
      for (let w = 0; w < concurrency; w++)
        await boss.work(q, options, async (jobs) => seen(count, jobs.length));
      const outcome = await drain(count, total, remaining(q), capMs);
      await boss.offWork(q);
      return outcome;
    };

    await fill(bench, N.process);
    result.process = await work(bench, N.process + N.single, { batchSize: 1 });
    await fill(batched, N.process);
    result.batched = await work(batched, N.process, { batchSize: 32 });
    await fill(tuned, N.process);
    result.tuned = await work(tuned, N.process, { batchSize: 32, pollingIntervalSeconds: 0.5 });

    let pending;
    await boss.work(latency, async () => pending?.(performance.now()));
    const times = await latencies(
      latencySamples,
      capMs,
      (i) => boss.send(latency, { i }),
      () => new Promise((resolve) => (pending = resolve)),
    );
    await boss.offWork(latency);
    result.latency = latencySummary(times);
  } catch (error) {
    result.error = message(error);
  } finally {
    await stopAll(stops, result);
  }
  return result;
}
