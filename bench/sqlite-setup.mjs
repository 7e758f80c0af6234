// What bench/run.mjs and bench/floor.mjs share: the raw loop's table, filling a database for each
// contender, and N processes of bench/sqlite-worker.mjs draining it. baton is imported on first
// use, so a process that only fills or drains a peer's file does not carry it.
import { fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The payload every SQLite benchmark enqueues. */
export const payload = { path: "src/file.ts", note: "benchmark" };

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The raw loop's database: one table, one partial index serving the claim order. */
export function rawDb(path, durability) {
  const db = new Database(path, { timeout: 5000 });
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`);
  db.exec(`CREATE TABLE IF NOT EXISTS raw_jobs (id INTEGER PRIMARY KEY, type TEXT NOT NULL, payload TEXT NOT NULL,
    state TEXT NOT NULL, priority INTEGER NOT NULL DEFAULT 0, run_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS raw_claim ON raw_jobs (priority DESC, run_at, id) WHERE state = 'queued';`);
  return db;
}

export async function openBatonDb(path, durability) {
  const { openBaton } = await import(join(root, "dist", "index.js"));
  return openBaton({ databasePath: path, durability });
}

export async function plainjobQueue(path) {
  const { better, defineQueue } = await import("plainjob");
  return defineQueue({ connection: better(new Database(path)), logger: { info() {}, warn() {}, error() {} } });
}

/** Put `n` jobs of type "bench" in a fresh file for `kind` (raw, plainjob, or baton's schema). */
export async function fill(kind, path, n, durability) {
  if (kind === "raw") {
    const db = rawDb(path, durability);
    const insert = db.prepare("INSERT INTO raw_jobs (type, payload, state, run_at) VALUES ('bench', ?, 'queued', ?)");
    db.transaction(() => {
      for (let i = 0; i < n; i++) insert.run(JSON.stringify(payload), Date.now());
    })();
    db.close();
  } else if (kind === "plainjob") {
    const q = await plainjobQueue(path);
    for (let i = 0; i < n; i += 1000) q.addMany("bench", Array.from({ length: Math.min(1000, n - i) }, () => ({ data: payload })));
    q.close();
  } else {
    const baton = await openBatonDb(path, durability);
    for (let i = 0; i < n; i += 1000) {
      await baton.enqueue(Array.from({ length: Math.min(1000, n - i) }, () => ({ type: "bench", payload, maxAttempts: 1 })));
    }
    await baton.close();
  }
}

/**
 * Fill a fresh file with `n` jobs for `kind`, then drain it with `processes` copies of
 * bench/sqlite-worker.mjs <kind>; jobs/s of the drain.
 */
export async function drainInProcesses(kind, path, processes, n, durability) {
  await fill(kind, path, n, durability);
  const start = performance.now();
  const results = await Promise.all(
    Array.from(
      { length: processes },
      () =>
        new Promise((resolve, reject) => {
          const child = fork(join(root, "bench", "sqlite-worker.mjs"), [kind, path, durability], { stdio: "inherit" });
          child.once("message", resolve);
          child.once("error", reject);
          child.once("exit", (code) => code !== 0 && reject(new Error(`${kind} worker exited ${code}`)));
        }),
    ),
  );
  const done = results.reduce((sum, r) => sum + r.done, 0);
  if (done !== n) throw new Error(`${kind}: processed ${done} of ${n}`);
  return (n * 1000) / (performance.now() - start);
}
