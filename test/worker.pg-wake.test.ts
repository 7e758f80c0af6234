/**
 * A library worker on PostgreSQL is woken by another process's enqueue through LISTEN/NOTIFY, not
 * by its poll: with `pollMs` at 60 s, a job enqueued through a second store (its own connections,
 * as another process has) reaches the handler long before the first poll (issue 22's latency row
 * measured 424 ms p50 for baton on PostgreSQL: the worker only polled).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { Engine } from "../src/engine/engine.js";
import { defineHandler } from "../src/worker/handler.js";
import { Worker } from "../src/worker/worker.js";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";

warnIfPgSkipped("worker.pg-wake");
const db = pgTestDatabase();

describe.skipIf(!PG_ENABLED)("worker on PostgreSQL", () => {
  beforeAll(() => db.setup());
  afterAll(() => db.teardown());

  it("an enqueue through another connection wakes the worker without waiting for its poll", async () => {
    const schema = db.freshSchema();
    const mine = db.store({ schema });
    await mine.migrate();
    const theirs = db.store({ schema });
    const seen: number[] = [];
    const handler = defineHandler("wake", z.object({ n: z.number() }), async ({ n }) => {
      seen.push(n);
    });
    const worker = new Worker(new Engine(mine), { handlers: [handler], pollMs: 60_000 });
    await worker.start();
    try {
      const producer = new Engine(theirs);
      // The worker's first look at the (empty) queue is done; its next poll is a minute away.
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      await producer.enqueue({ type: "wake", payload: { n: 1 } });
      while (seen.length === 0 && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 10));
      expect(seen).toEqual([1]);
    } finally {
      await worker.stop();
    }
  });
});
