/**
 * D152: a job's `enqueued` event is derived from its row (migration 000011), not stored as an
 * `events` row. On both stores: an enqueue writes no event row; history reads (every filter,
 * paging by id, newest first) answer what they answered when the event was stored, with one id
 * sequence; `delete` keeps the event; a ledger at schema 10 keeps its stored events, each shown
 * once; export and import carry the derived events across stores.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../src/core/clock.js";
import type { JobEvent } from "../src/core/job.js";
import { Engine } from "../src/engine/engine.js";
import { migrationFiles } from "../src/store/sql-files.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import type { LedgerRows } from "../src/store/transfer/rows.js";
import { postgresRows, sqliteRows } from "../src/store/transfer/rows.js";
import { exportLedger, importLedger } from "../src/store/transfer/transfer.js";
import type { EventFilter, Store } from "../src/store/types.js";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";

warnIfPgSkipped("derived enqueued events (D152)");
const db = pgTestDatabase();
const dirs: string[] = [];

interface Ledger {
  store: Store;
  engine: Engine;
  clock: ManualClock;
  /** Run SQL on the ledger through a connection of its own (`?` placeholders). */
  raw(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  rows(): Promise<LedgerRows>;
  close(): Promise<void>;
}

function sqlitePath(): string {
  const dir = mkdtempSync(join(tmpdir(), "baton-derived-"));
  dirs.push(dir);
  return join(dir, "baton.db");
}

async function sqliteLedger(path = sqlitePath()): Promise<Ledger> {
  const clock = new ManualClock();
  const store = new SqliteStore({ path, clock, durability: "normal" });
  await store.migrate();
  return {
    store,
    clock,
    engine: new Engine(store, { clock }),
    raw: async (sql, params = []) => {
      const conn = new Database(path);
      try {
        const statement = conn.prepare(sql);
        if (statement.reader) return statement.all(...params) as Record<string, unknown>[];
        statement.run(...params);
        return [];
      } finally {
        conn.close();
      }
    },
    rows: () => Promise.resolve(sqliteRows(path)),
    close: () => store.close(),
  };
}

async function pgRaw(
  schema: string,
  sql: string,
  params: unknown[] = [],
): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query(`SET search_path TO ${schema}`);
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${++n}`);
    return (await client.query(text, params)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

async function postgresLedger(schema = db.freshSchema()): Promise<Ledger> {
  const clock = new ManualClock();
  const store = db.store({ clock, schema });
  await store.migrate();
  return {
    store,
    clock,
    engine: new Engine(store, { clock }),
    raw: (sql, params) => pgRaw(schema, sql, params),
    rows: () => postgresRows(db.url, schema),
    close: () => Promise.resolve(),
  };
}

const all = (store: Store, filter: Partial<EventFilter> = {}) =>
  store.events({ limit: 1_000_000, ...filter });

/** Jobs in two projects and workflows, with a dependency, claims, outcomes and a note. */
async function busyLedger(l: Ledger): Promise<string[]> {
  const { engine, clock } = l;
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) {
    clock.advance(1000);
    const [one] = await engine.enqueue(
      { type: i % 2 === 0 ? "build" : "test", payload: { i }, project: `p${i % 2}`, workflow: `w${i % 3}` },
      { actor: `actor-${i}` },
    );
    ids.push(one!.job.id);
    if (i % 2 === 1) {
      const [claimed] = await engine.claim({ owner: "worker", types: ["test"], limit: 1 });
      clock.advance(10);
      await engine.complete(claimed!.job.id, { token: claimed!.token });
    }
  }
  // One batch (PostgreSQL's one-statement path) and one job waiting on another.
  clock.advance(1000);
  const batch = await engine.enqueue(
    [0, 1, 2].map((k) => ({ type: "build", payload: { k }, project: "p0", workflow: "w1" })),
    { actor: "batcher" },
  );
  ids.push(...batch.map((o) => o.job.id));
  const [waiting] = await engine.enqueue(
    { type: "test", payload: {}, project: "p1", dependsOn: [ids[0]!] },
    { actor: "planner" },
  );
  ids.push(waiting!.job.id);
  await engine.note(ids[0]!, "a note", "someone");
  return ids;
}

const STORES: [string, boolean, () => Promise<Ledger>][] = [
  ["sqlite", true, () => sqliteLedger()],
  ["postgres", PG_ENABLED, () => postgresLedger()],
];

beforeAll(async () => {
  if (PG_ENABLED) await db.setup();
});
afterAll(async () => {
  if (PG_ENABLED) await db.teardown();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe.each(STORES)("derived enqueued events on %s", (_name, enabled, open) => {
  it.skipIf(!enabled)("an enqueue writes no event row; its event comes from the job row", async () => {
    const l = await open();
    try {
      const ids = await busyLedger(l);
      expect(await l.raw("SELECT id FROM events WHERE kind = 'enqueued'")).toEqual([]);
      for (const id of ids) {
        const job = await l.engine.get(id);
        const events = await l.store.events({ jobId: id, limit: 100 });
        expect(events[0]).toMatchObject({
          jobId: id,
          kind: "enqueued",
          at: job.createdAt,
          workflow: job.workflow,
          project: job.project,
          fromState: null,
          toState: id === ids[ids.length - 1] ? "waiting" : "queued",
          details: null,
        });
        expect(events.filter((e) => e.kind === "enqueued")).toHaveLength(1);
      }
      const [first] = await l.store.events({ jobId: ids[0]!, limit: 1 });
      expect(first!.actor).toBe("actor-0");
      const [batched] = await l.store.events({ jobId: ids[6]!, limit: 1 });
      expect(batched!.actor).toBe("batcher");
    } finally {
      await l.close();
    }
  });

  it.skipIf(!enabled)("stored and derived events share one id sequence and every filter", async () => {
    const l = await open();
    try {
      await busyLedger(l);
      const history = await all(l.store);
      const ids = history.map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      // Each job's enqueue comes before its other events.
      const seen = new Set<string>();
      for (const e of history) {
        if (e.jobId === null) continue;
        if (!seen.has(e.jobId)) expect(e.kind).toBe("enqueued");
        seen.add(e.jobId);
      }
      // Paging with afterId (the SSE stream, job_events, resume --since) sees each event once.
      const paged: JobEvent[] = [];
      let after = 0;
      for (;;) {
        const page = await l.store.events({ afterId: after, limit: 2, order: "asc" });
        paged.push(...page);
        if (page.length < 2) break;
        after = page[page.length - 1]!.id;
      }
      expect(paged).toEqual(history);
      expect(await l.store.events({ limit: 1, order: "desc" })).toEqual([history[history.length - 1]]);
      // Every filter answers what filtering the whole history answers.
      const mid = history[Math.floor(history.length / 2)]!;
      const types = new Map<string, string>();
      for (const job of await l.engine.list({}, { limit: 100 })) types.set(job.id, job.type);
      const cases: [Partial<EventFilter>, (e: JobEvent) => boolean][] = [
        [{ project: "p0" }, (e) => e.project === "p0"],
        [{ project: "p1", workflow: "w1" }, (e) => e.project === "p1" && e.workflow === "w1"],
        [{ workflow: "w2" }, (e) => e.workflow === "w2"],
        [{ kinds: ["enqueued"] }, (e) => e.kind === "enqueued"],
        [{ kinds: ["succeeded", "note"] }, (e) => e.kind === "succeeded" || e.kind === "note"],
        [{ kinds: [] }, () => false],
        [{ jobIds: [mid.jobId ?? ""] }, (e) => e.jobId === mid.jobId],
        [{ jobIds: [] }, () => false],
        [{ types: ["test"] }, (e) => e.jobId !== null && types.get(e.jobId) === "test"],
        [{ since: mid.at }, (e) => e.at >= mid.at],
        [{ until: mid.at }, (e) => e.at < mid.at],
        [{ afterId: mid.id, project: "p0" }, (e) => e.id > mid.id && e.project === "p0"],
      ];
      for (const [filter, keep] of cases) {
        const expected = history.filter(keep);
        expect(await all(l.store, filter), JSON.stringify(filter)).toEqual(expected);
        expect(await l.store.events({ ...filter, limit: 3, order: "desc" }), JSON.stringify(filter)).toEqual(
          expected.slice(-3).reverse(),
        );
      }
      const counts = await l.store.transitionCounts(0);
      const queued = history.filter((e) => e.toState === "queued").length;
      expect(counts.find((c) => c.state === "queued")?.count).toBe(queued);
    } finally {
      await l.close();
    }
  });

  it.skipIf(!enabled)("deleting a job keeps its enqueued event, with its id", async () => {
    const l = await open();
    try {
      const [a] = await l.engine.enqueue({ type: "t", payload: {} }, { actor: "alice" });
      const id = a!.job.id;
      const [enqueued] = await l.store.events({ jobId: id, limit: 10 });
      l.clock.advance(5);
      await l.engine.delete([id], "bob");
      const events = await l.store.events({ jobId: id, limit: 10 });
      expect(events.map((e) => [e.kind, e.actor])).toEqual([
        ["enqueued", "alice"],
        ["deleted", "bob"],
      ]);
      expect(events[0]).toEqual(enqueued);
      // No later event takes an id handed out before.
      const [b] = await l.engine.enqueue({ type: "t", payload: {} });
      const [next] = await l.store.events({ jobId: b!.job.id, limit: 1 });
      expect(next!.id).toBeGreaterThan(events[1]!.id);
    } finally {
      await l.close();
    }
  });
});

describe("a ledger at schema 10 (stored enqueued events) migrates to 11", () => {
  const V10_JOB = `INSERT INTO jobs (id, type, payload, state, run_at, attempts, max_attempts, backoff, project, created_at, updated_at)
    VALUES ('01OLDJOB', 't', '{}', 'queued', 0, 0, 1, '{"kind":"fixed","delayMs":0}', 'p', 5, 5)`;
  const V10_EVENT =
    "INSERT INTO events (job_id, project, at, actor, kind, to_state) VALUES ('01OLDJOB', 'p', 5, 'old', 'enqueued', 'queued')";

  async function check(l: Ledger): Promise<void> {
    const old = await l.store.events({ jobId: "01OLDJOB", limit: 10 });
    expect(old.map((e) => [e.kind, e.actor])).toEqual([["enqueued", "old"]]);
    const [fresh] = await l.engine.enqueue({ type: "t", payload: {}, project: "p" }, { actor: "new" });
    const history = await l.store.events({ project: "p", limit: 10 });
    expect(history.map((e) => [e.jobId, e.kind, e.actor])).toEqual([
      ["01OLDJOB", "enqueued", "old"],
      [fresh!.job.id, "enqueued", "new"],
    ]);
    expect(history[1]!.id).toBeGreaterThan(history[0]!.id);
  }

  it("on sqlite", async () => {
    const path = sqlitePath();
    const raw = new Database(path);
    raw.pragma("journal_mode = WAL");
    for (const m of migrationFiles("sqlite").filter((f) => f.version <= 10)) raw.exec(m.sql);
    raw.pragma("user_version = 10");
    raw.exec(V10_JOB);
    raw.exec(V10_EVENT);
    raw.close();
    const l = await sqliteLedger(path);
    try {
      await check(l);
    } finally {
      await l.close();
    }
  });

  it.skipIf(!PG_ENABLED)("on postgres", async () => {
    const schema = db.freshSchema();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA ${schema}; SET search_path TO ${schema}`);
      await client.query(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
      );
      for (const m of migrationFiles("postgres").filter((f) => f.version <= 10)) {
        await client.query(m.sql);
        await client.query("INSERT INTO schema_migrations VALUES ($1, $2, 0)", [m.version, m.name]);
      }
      await client.query(V10_JOB);
      await client.query(V10_EVENT);
    } finally {
      await client.end();
    }
    await check(await postgresLedger(schema));
  });
});

describe("export and import carry derived enqueued events", () => {
  async function copy(from: Ledger, to: Ledger): Promise<void> {
    let text = "";
    const source = await from.rows();
    try {
      await exportLedger(source, (line) => {
        text += line;
      });
    } finally {
      await source.close();
    }
    const target = await to.rows();
    try {
      await importLedger(target, Readable.from([text]));
    } finally {
      await target.close();
    }
  }

  it.each([
    ["sqlite", "sqlite"],
    ["sqlite", "postgres"],
    ["postgres", "sqlite"],
  ])("from %s to %s: the same history, and new ids above it", async (fromKind, toKind) => {
    if ((fromKind === "postgres" || toKind === "postgres") && !PG_ENABLED) return;
    const open = (kind: string) => (kind === "sqlite" ? sqliteLedger() : postgresLedger());
    const from = await open(fromKind);
    const to = await open(toKind);
    try {
      await busyLedger(from);
      const history = await all(from.store);
      await copy(from, to);
      expect(await all(to.store)).toEqual(history);
      const [next] = await to.engine.enqueue({ type: "t", payload: {} });
      const [event] = await to.store.events({ jobId: next!.job.id, limit: 1 });
      expect(event!.id).toBeGreaterThan(history[history.length - 1]!.id);
    } finally {
      await from.close();
      await to.close();
    }
  });
});
