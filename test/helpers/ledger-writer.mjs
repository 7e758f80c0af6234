/**
 * A second writer process for the export-snapshot test: on the SQLite ledger named by
 * argv[2], claims and completes jobs (enqueueing more) as fast as it can, on the built library,
 * until killed. It prints "ready" once its first completion committed.
 */
const { openBaton } = await import(new URL("../../dist/index.js", import.meta.url).href);
const baton = await openBaton({ databasePath: process.argv[2], durability: "normal" });
const engine = baton.engine;
let ready = false;
for (;;) {
  await engine.enqueue(Array.from({ length: 5 }, (_, i) => ({ type: "t", payload: { i } })));
  const claimed = await engine.claim({ owner: `writer-${process.pid}`, types: ["t"], limit: 3 });
  for (const c of claimed) await engine.complete(c.job.id, { token: c.token });
  if (!ready && claimed.length > 0) {
    ready = true;
    process.stdout.write("ready\n");
  }
}
