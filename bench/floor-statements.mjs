// baton's own SQL for a claim and a success, as the engine runs it (src/store/ledger.ts claimInTx,
// finishInTx; sql/sqlite/*.sql), with none of the engine's JavaScript around it: no promises, no
// write queue, no records, no validation. What this reaches is the most any engine over baton's
// schema could reach on SQLite; bench/floor.mjs runs it beside the engine and the raw loop.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const sqlDir = join(dirname(fileURLToPath(import.meta.url)), "..", "sql", "sqlite");
const sqlFile = (name) => readFileSync(join(sqlDir, `${name}.sql`), "utf8");
const pause = new Int32Array(new SharedArrayBuffer(4));
/** The next event id over stored and derived events, as src/store/sqlite/sqlite-store.ts takes it (D152). */
export const NEXT_EVENT_ID =
  "max(coalesce((SELECT max(id) FROM events), 0), coalesce((SELECT max(enqueue_id) FROM jobs WHERE enqueue_id IS NOT NULL), 0)) + 1";

/** Prepared statements over an open better-sqlite3 connection to a migrated baton database. */
export function floorStatements(db, durability) {
  const s = {
    busy0: db.prepare("PRAGMA busy_timeout = 0"),
    busy: db.prepare("PRAGMA busy_timeout = 5000"),
    begin: db.prepare("BEGIN IMMEDIATE"),
    commit: db.prepare("COMMIT"),
    expired: db.prepare(sqlFile("expired_leases")),
    pauses: db.prepare("SELECT scope, target FROM pauses WHERE scope IN ('all','type')"),
    candidates: db.prepare(sqlFile("claim_by_type")),
    claimRow: db.prepare(
      "UPDATE jobs SET state = ?, attempts = ?, lease_owner = ?, lease_token = ?, lease_expires_at = ?, started_at = ?, updated_at = ? WHERE id = ?",
    ),
    attempt: db.prepare(
      "INSERT INTO attempts (job_id, n, token, owner, started_at) VALUES (?, (SELECT coalesce(max(n), 0) + 1 FROM attempts WHERE job_id = ?), ?, ?, ?) RETURNING n",
    ),
    event: db.prepare(
      `INSERT INTO events (id, job_id, workflow, project, at, actor, kind, from_state, to_state, details) VALUES (${NEXT_EVENT_ID}, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    getJob: db.prepare("SELECT * FROM jobs WHERE id = ?"),
    finishRow: db.prepare(
      "UPDATE jobs SET state = ?, updated_at = ?, lease_owner = ?, lease_token = ?, lease_expires_at = ?, finished_at = ? WHERE id = ?",
    ),
    endAttempt: db.prepare(
      "UPDATE attempts SET ended_at = ?, outcome = ?, exit_code = ?, error = ? WHERE job_id = ? AND ended_at IS NULL",
    ),
  };
  const full = durability === "full";
  // Preparing `PRAGMA synchronous = …` already applies it, so these are prepared on first use, in
  // the order the engine first runs them (the engine caches them the same way).
  const pragmas = new Map();
  const pragma = (text) => {
    let statement = pragmas.get(text);
    if (statement === undefined) {
      statement = db.prepare(text);
      pragmas.set(text, statement);
    }
    statement.run();
  };

  // The engine's lock taking (D33): a few quick tries, then SQLite's busy handler.
  function begin() {
    s.busy0.run();
    try {
      for (const ms of [0.05, 0.1, 0.2, 0.4, 0.8]) {
        try {
          s.begin.run();
          return;
        } catch (error) {
          if (!String(error.code).startsWith("SQLITE_BUSY")) throw error;
        }
        Atomics.wait(pause, 0, 0, ms);
      }
    } finally {
      s.busy.run();
    }
    s.begin.run();
  }

  function claimIn(owner, limit) {
    const now = Date.now();
    s.expired.all({ now, limit: 100 });
    s.pauses.all();
    const rows = s.candidates.all({
      type: "bench",
      now,
      workflow: null,
      project: null,
      excludedProjects: "[]",
      limit,
      affinities: null,
    });
    for (const row of rows) {
      const token = randomBytes(16).toString("hex");
      s.claimRow.run("running", row.attempts + 1, owner, token, now + 30_000, now, now, row.id);
      const { n } = s.attempt.get(row.id, row.id, token, owner, now);
      s.event.run(
        row.id,
        row.workflow,
        row.project,
        now,
        owner,
        "claimed",
        row.state,
        "running",
        JSON.stringify({ attempt: n }),
      );
      row.n = n;
    }
    return rows;
  }

  function succeedIn(owner, id, n) {
    const now = Date.now();
    const job = s.getJob.get(id);
    s.finishRow.run("succeeded", now, null, null, null, now, job.id);
    s.endAttempt.run(now, "succeeded", null, null, job.id);
    s.event.run(
      job.id,
      job.workflow,
      job.project,
      now,
      owner,
      "succeeded",
      "running",
      "succeeded",
      JSON.stringify({ attempt: n }),
    );
  }

  return {
    /** One claim transaction (not fsynced on its own under "full", D32). */
    claim(owner, limit) {
      if (full) pragma("PRAGMA synchronous = NORMAL");
      begin();
      try {
        const rows = claimIn(owner, limit);
        s.commit.run();
        return rows;
      } finally {
        if (full) pragma("PRAGMA synchronous = FULL");
      }
    },
    /** One transaction with a success. */
    succeed(owner, row) {
      begin();
      succeedIn(owner, row.id, row.n);
      s.commit.run();
    },
    /** The Worker's group commit: the finished jobs' successes and the next claim, one transaction. */
    succeedThenClaim(owner, rows, limit) {
      if (rows.length === 0) return this.claim(owner, limit);
      begin();
      for (const row of rows) succeedIn(owner, row.id, row.n);
      const next = claimIn(owner, limit);
      s.commit.run();
      return next;
    },
  };
}
