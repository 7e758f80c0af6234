// A queue in your own app with baton's library: typed handlers, a worker, retries, a schedule.
// Run it (after `npm run build`; "baton-ledger" resolves to this package): node examples/queue.mjs [data dir]
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { openBaton, defineHandler, UnrecoverableError } from "baton-ledger";

const home = process.argv[2] ?? mkdtempSync(join(tmpdir(), "baton-example-"));
const baton = await openBaton({ home });

const sent = [];
const sendEmail = defineHandler(
  "send_email",
  z.object({ to: z.string().email(), subject: z.string() }),
  async (payload, { signal, attempt }) => {
    if (payload.to.endsWith("@invalid.example")) throw new UnrecoverableError("no such mailbox");
    if (attempt === 1 && payload.subject === "flaky") throw new Error("SMTP timeout");
    signal.throwIfAborted();
    sent.push(payload.to);
    return { messageId: `<${sent.length}@example>` };
  },
  { maxAttempts: 3, backoff: { baseMs: 50 }, rateLimit: { max: 100, intervalMs: 1000 } },
);

await baton.enqueue(sendEmail, { to: "a@b.example", subject: "welcome" }, { priority: 5, key: "welcome:a" });
await baton.enqueue(sendEmail, { to: "c@d.example", subject: "flaky" });
await baton.enqueue(sendEmail, { to: "x@invalid.example", subject: "hello" });

const worker = baton.worker({ handlers: [sendEmail], concurrency: 8 });
let finished = 0;
worker.on("completed", (job, result) => {
  finished++;
  console.log(`sent ${job.payload.to}: ${result.messageId}`);
});
worker.on("failed", (job, error) => {
  if (job.state === "failed") finished++;
  console.log(`${job.payload.to}: ${error.message} (${job.state})`);
});
await worker.start();
while (finished < 3) await new Promise((r) => setTimeout(r, 10));
await worker.stop();
await baton.close();
console.log(`done: ${sent.length} sent`);
