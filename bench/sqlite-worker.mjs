// One benchmark worker process: claims and completes jobs until none are left, then reports.
// argv: <kind: baton|floor|raw|plainjob> <db path> <durability: full|normal>
import Database from "better-sqlite3";

const [kind, path, durability] = process.argv.slice(2);
const start = performance.now();
let done = 0;

if (kind === "baton") {
  const { openBaton } = await import("../dist/index.js");
  const baton = await openBaton({ databasePath: path, durability, migrate: false });
  for (;;) {
    const [claimed] = await baton.claim({ types: ["bench"], owner: `w${process.pid}` });
    if (claimed === undefined) break;
    await baton.complete(claimed.job.id, { token: claimed.token });
    done++;
  }
  await baton.close();
} else if (kind === "floor") {
  const { floorStatements } = await import("./floor-statements.mjs");
  const db = new Database(path, { timeout: 5000 });
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`);
  db.pragma("foreign_keys = ON");
  const floor = floorStatements(db, durability);
  const owner = `w${process.pid}`;
  for (;;) {
    const [row] = floor.claim(owner, 1);
    if (row === undefined) break;
    floor.succeed(owner, row);
    done++;
  }
  db.close();
} else if (kind === "raw") {
  const db = new Database(path, { timeout: 5000 });
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`);
  const claim = db.prepare(
    "UPDATE raw_jobs SET state = 'running' WHERE id = (SELECT id FROM raw_jobs WHERE state = 'queued' ORDER BY priority DESC, run_at, id LIMIT 1) RETURNING id",
  );
  const complete = db.prepare("UPDATE raw_jobs SET state = 'done' WHERE id = ?");
  for (;;) {
    let row;
    for (;;) {
      try {
        row = claim.get();
        break;
      } catch (error) {
        if (!String(error.code).startsWith("SQLITE_BUSY")) throw error;
      }
    }
    if (row === undefined) break;
    for (;;) {
      try {
        complete.run(row.id);
        break;
      } catch (error) {
        if (!String(error.code).startsWith("SQLITE_BUSY")) throw error;
      }
    }
    done++;
  }
  db.close();
} else if (kind === "plainjob") {
  const { better, defineQueue } = await import("plainjob");
  const queue = defineQueue({ connection: better(new Database(path)), logger: { info() {}, warn() {}, error() {} } });
  for (;;) {
    const job = queue.getAndMarkJobAsProcessing("bench");
    if (job === undefined) break;
    queue.markJobAsDone(job.id);
    done++;
  }
  queue.close();
}
process.send?.({ done, ms: performance.now() - start });
