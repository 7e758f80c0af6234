// The worker process of bench/queue-latency.mjs: a baton Worker at concurrency 8 on the ledger in
// argv[2] whose handler writes "start <i> <monotonic ns>" to stdout the moment it runs. Prints "ready" once the
// worker has started; on "stop" (stdin) it stops the worker and prints one JSON line with its
// resident memory: peak (maxRSS) and now.
import { createInterface } from "node:readline";
import { z } from "zod";

const [, , lib, home, durability] = process.argv;
const { openBaton, defineHandler } = await import(lib);
const baton = await openBaton({ home, durability });
let handled = 0;
const lat = defineHandler("lat", z.object({ i: z.number() }), async ({ i }) => {
  handled++;
  // The moment the handler runs, on the monotonic clock that every process on the machine shares.
  if (i >= 0) process.stdout.write(`start ${i} ${process.hrtime.bigint()}\n`);
});
const worker = baton.worker({ handlers: [lat], concurrency: 8 });
await worker.start();
process.stdout.write("ready\n");
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== "stop") continue;
  await worker.stop();
  await baton.close();
  const rss = process.memoryUsage().rss;
  process.stdout.write(
    `${JSON.stringify({ handled, maxRssMiB: process.resourceUsage().maxRSS / 1024, rssMiB: rss / 2 ** 20 })}\n`,
  );
  process.exit(0);
}
