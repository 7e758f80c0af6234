/**
 * Bad and hostile input against the SQLite ledger (RELIABILITY.md R-22, R-26, R-30).
 *
 * R-22 and R-26 run the sources in process on a temp file; R-30 drives the built `baton` binary.
 * Random input is seeded and the seed is printed: replay a failure with `BATON_TEST_SEED=<seed>`.
 */
import { chmodSync, existsSync, mkdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { BatonError } from "../src/core/errors.js";
import { pathInside, resolveInside, resolveInsideReal } from "../src/core/paths.js";
import { Engine } from "../src/engine/engine.js";
import { openEngine } from "../src/open.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { baton, batonAsync, envelope } from "./helpers/cli.js";
import { enqueueArgsWith, METACHARACTERS, typeFor } from "./helpers/hostile.js";
import { tempDir } from "./helpers/tmp.js";

/** mulberry32: a small seeded generator so that random input reproduces. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function testSeed(): number {
  const fromEnv = Number(process.env.BATON_TEST_SEED);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.floor(Math.random() * 2 ** 31) + 1;
}

const bytes = (text: string): number => Buffer.byteLength(text, "utf8");

// -----------------------------------------------------------------------------------------------
// R-22

/** Strings that have broken JSON, SQL or UTF-8 handling somewhere before. */
const STRING_ATOMS = [
  "",
  "a",
  " ",
  "\u0000",
  "\u0001",
  "\u001f",
  "\u007f",
  "\t",
  "\n",
  "\r\n",
  '"',
  "\\",
  "/",
  "'",
  "`",
  "$(touch canary)",
  "\u2028",
  "\u2029",
  "\ufeff",
  "é",
  "e\u0301",
  "ß",
  "Ω",
  "中文",
  "עברית",
  "\u202e",
  "😀",
  "👩‍👩‍👧",
  "🏳️‍🌈",
  "\ud800", // lone high surrogate
  "\udbff",
  "\udc00", // lone low surrogate
  "\udfff",
  "\udfff\ud800", // reversed pair
  "\u{10ffff}",
  "\uffff",
  "\ufffe",
  "%",
  "_",
  "%_%",
  "NULL",
  "null",
  "{",
  "}]",
  "\\u0000",
  "__proto__",
  "constructor",
  "'; DROP TABLE jobs; --",
];

const NUMBER_ATOMS = [
  0,
  -0,
  1,
  -1,
  0.1,
  0.1 + 0.2,
  1e21,
  1e-7,
  5e-324,
  -5e-324,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  2 ** 53,
  2 ** 63,
  2.2250738585072014e-308,
  123456789.12345679,
  -1e-300,
];

class PayloadGenerator {
  constructor(private readonly random: () => number) {}

  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)]!;
  }

  string(): string {
    let out = "";
    const parts = this.int(6);
    for (let i = 0; i < parts; i++) {
      if (this.random() < 0.7) out += this.pick(STRING_ATOMS);
      else {
        // Arbitrary UTF-16 code units, surrogates included.
        const length = 1 + this.int(12);
        for (let j = 0; j < length; j++) out += String.fromCharCode(this.int(0x10000));
      }
    }
    return out;
  }

  number(): number {
    if (this.random() < 0.6) return this.pick(NUMBER_ATOMS);
    const magnitude = 10 ** (this.int(600) - 300);
    return (this.random() - 0.5) * magnitude;
  }

  value(depth: number): unknown {
    const roll = this.random();
    if (depth <= 0 || roll < 0.35) {
      const scalar = this.int(5);
      if (scalar === 0) return this.string();
      if (scalar === 1) return this.number();
      if (scalar === 2) return this.random() < 0.5;
      if (scalar === 3) return null;
      return this.string();
    }
    if (roll < 0.65) return Array.from({ length: this.int(6) }, () => this.value(depth - 1));
    // fromEntries defines own properties, so "__proto__" stays an ordinary key, as JSON.parse makes it.
    return Object.fromEntries(
      Array.from({ length: this.int(6) }, () => [this.string(), this.value(depth - 1)]),
    );
  }

  /** A chain of nested arrays and objects, `levels` deep. */
  deep(levels: number): unknown {
    let value: unknown = this.value(1);
    for (let i = 0; i < levels; i++) value = this.random() < 0.5 ? [value] : { [this.string()]: value };
    return value;
  }
}

/** A payload whose JSON is exactly `total` bytes, ending in a 4-byte character at the boundary. */
function payloadOfBytes(total: number, nested: boolean): unknown {
  const wrap = (s: string): unknown => (nested ? { a: [{ s }] } : { s });
  const overhead = bytes(JSON.stringify(wrap("")));
  const value = wrap(`${"x".repeat(total - overhead - 4)}😀`);
  expect(bytes(JSON.stringify(value))).toBe(total);
  return value;
}

describe("R-22 payloads round trip byte-exact; oversize and non-JSON are refused and write nothing", () => {
  it("R-22 (SQLite) 1,000 random payloads (unicode, NUL, emoji, lone surrogates, nesting, float edges, sizes at the limit) round trip byte-exact", async () => {
    const seed = testSeed();
    console.log(`R-22 seed ${seed} (replay with BATON_TEST_SEED=${seed})`);
    const gen = new PayloadGenerator(seeded(seed));
    const dbPath = join(tempDir(), "baton.db");
    const store = new SqliteStore({ path: dbPath, durability: "normal" });
    await store.migrate();
    const engine = new Engine(store);
    const limit = engine.maxPayloadBytes;
    const db = new Database(dbPath);
    try {
      const payloads: unknown[] = [];
      // Sizes at the limit: exactly it, just under it, nested or not.
      for (const under of [0, 1, 2, 3, 4, 5, 100])
        payloads.push(payloadOfBytes(limit - under, under % 2 === 1));
      // Deep-ish nesting.
      for (let i = 0; i < 20; i++) payloads.push(gen.deep(50 + gen.int(200)));
      // Bare scalars are payloads too.
      payloads.push("", "\u0000", "\ud800", 0, -0, 5e-324, Number.MAX_VALUE, true, false, null, [], {});
      while (payloads.length < 1000) payloads.push(gen.value(2 + gen.int(4)));
      expect(payloads).toHaveLength(1000);

      const read = db.prepare("SELECT payload FROM jobs WHERE id = ?");
      const mismatches: string[] = [];
      for (const [index, payload] of payloads.entries()) {
        const expected = JSON.stringify(payload);
        const [outcome] = await engine.enqueue({ type: "round-trip", payload });
        const id = outcome!.job.id;
        const stored = (read.get(id) as { payload: string }).payload;
        const back = JSON.stringify((await engine.get(id)).payload);
        if (stored !== expected || back !== expected) {
          mismatches.push(
            `payload #${index}: stored ${JSON.stringify(stored.slice(0, 80))}, want ${JSON.stringify(expected.slice(0, 80))}`,
          );
        }
      }
      expect(mismatches).toEqual([]);
      expect((db.prepare("SELECT count(*) AS n FROM jobs").get() as { n: number }).n).toBe(1000);
    } finally {
      db.close();
      await store.close();
    }
  });

  it("R-22 (SQLite) oversize input gets PAYLOAD_TOO_LARGE and non-JSON input gets INVALID_INPUT, writing nothing", async () => {
    const dbPath = join(tempDir(), "baton.db");
    const store = new SqliteStore({ path: dbPath, durability: "normal" });
    await store.migrate();
    const engine = new Engine(store);
    const limit = engine.maxPayloadBytes;
    const db = new Database(dbPath);
    const rows = (): { jobs: number; events: number; attempts: number } =>
      db
        .prepare(
          "SELECT (SELECT count(*) FROM jobs) AS jobs, (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM attempts) AS attempts",
        )
        .get() as { jobs: number; events: number; attempts: number };
    try {
      // A job to complete with bad results, and a job that must stay untouched.
      const [target] = await engine.enqueue({ type: "t", payload: { n: 1 } });
      const id = target!.job.id;
      const before = rows();
      const jobBefore = await engine.get(id);

      const circularObject: Record<string, unknown> = { a: 1 };
      circularObject.self = circularObject;
      const circularArray: unknown[] = [1];
      circularArray.push([circularArray]);

      const oversize: [string, unknown][] = [
        ["one byte over", payloadOfBytes(limit + 1, false)],
        ["one byte over, nested", payloadOfBytes(limit + 1, true)],
        ["fewer characters than the limit but more bytes", "é".repeat(limit / 2 + 1)],
        ["NUL characters escaped to six bytes each", "\u0000".repeat(Math.ceil(limit / 6) + 1)],
        ["far over", { big: "x".repeat(limit * 3) }],
      ];
      const notJson: [string, unknown][] = [
        ["a function", () => 1],
        ["a method inside an object", { f() {} }],
        ["a symbol", Symbol("s")],
        ["a symbol inside an object", { s: Symbol("s") }],
        ["NaN", Number.NaN],
        ["NaN inside an object", { n: Number.NaN }],
        ["Infinity", Number.POSITIVE_INFINITY],
        ["-Infinity inside an array", [Number.NEGATIVE_INFINITY]],
        ["a bigint", 1n],
        ["a bigint inside an object", { b: 10n }],
        ["a circular object", circularObject],
        ["a circular array", circularArray],
        ["undefined inside an array (JSON would make it null)", [1, undefined, 2]],
        ["undefined deep inside arrays", { a: [[undefined]] }],
      ];

      const expectRefused = async (
        what: string,
        code: string,
        attempt: () => Promise<unknown>,
      ): Promise<void> => {
        const error = await attempt().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error, what).toBeInstanceOf(BatonError);
        expect((error as BatonError).code, `${what}: ${String(error)}`).toBe(code);
        expect(rows(), `${what} wrote something`).toEqual(before);
      };

      for (const [what, payload] of oversize) {
        await expectRefused(`payload ${what}`, "PAYLOAD_TOO_LARGE", () =>
          engine.enqueue({ type: "t", payload }),
        );
        // All or nothing: one bad job in a batch refuses the whole batch.
        await expectRefused(`batch with a payload ${what}`, "PAYLOAD_TOO_LARGE", () =>
          engine.enqueue([{ type: "t" }, { type: "t", payload }, { type: "t" }]),
        );
        await expectRefused(`result ${what}`, "PAYLOAD_TOO_LARGE", () =>
          engine.complete(id, { result: payload }),
        );
        await expectRefused(`evidence ${what}`, "PAYLOAD_TOO_LARGE", () =>
          engine.complete(id, { evidence: payload }),
        );
      }
      for (const [what, payload] of notJson) {
        await expectRefused(`payload ${what}`, "INVALID_INPUT", () => engine.enqueue({ type: "t", payload }));
        await expectRefused(`batch with a payload ${what}`, "INVALID_INPUT", () =>
          engine.enqueue([{ type: "t" }, { type: "t", payload }]),
        );
        await expectRefused(`result ${what}`, "INVALID_INPUT", () =>
          engine.complete(id, { result: payload }),
        );
      }
      // Specs that are not job specs at all.
      for (const [what, spec] of [
        ["undefined", undefined],
        ["null", null],
        ["a string", "job"],
        ["a type with NUL", { type: "a\u0000b" }],
        ["an unknown field", { type: "t", payloads: {} }],
        ["a NaN priority", { type: "t", priority: Number.NaN }],
      ] as [string, unknown][]) {
        await expectRefused(`spec ${what}`, "INVALID_INPUT", () => engine.enqueue(spec));
      }

      expect(await engine.get(id)).toEqual(jobBefore);
      // The limit is inclusive: exactly `limit` bytes is accepted.
      const [atLimit] = await engine.enqueue({ type: "t", payload: payloadOfBytes(limit, false) });
      expect(bytes(JSON.stringify((await engine.get(atLimit!.job.id)).payload))).toBe(limit);
      // An undefined property is absent, as in JSON: accepted, and stored without it.
      const [sparse] = await engine.enqueue({ type: "t", payload: { a: 1, gone: undefined } });
      expect((await engine.get(sparse!.job.id)).payload).toEqual({ a: 1 });
    } finally {
      db.close();
      await store.close();
    }
  });
});

// -----------------------------------------------------------------------------------------------
// R-26

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8).padStart(3, "0");
}

/** 200 crafted ids and log names: traversal, absolute, encoded, NUL, separators, oddities. */
function craftedNames(): string[] {
  const bases = [
    "..",
    ".",
    "../",
    "../..",
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "a/../../b",
    "./../x",
    "x/..",
    "....//",
    ".../",
    "/etc/passwd",
    "/",
    "//server/share",
    "C:\\Windows",
    "\\\\?\\C:\\",
    "~",
    "~/x",
    "$HOME",
    "%2e%2e%2f",
    "%2e%2e/",
    "..%2f",
    "%252e%252e%252f",
    "..%c0%af",
    "%c0%ae%c0%ae/",
    "．．／",
    "..\u2215x",
    "..\u2044x",
    "\u0000",
    "ok\u0000/../../x",
    "a\u0000b",
    "x.log\u0000.png",
    "",
    " ",
    " .. ",
    "a\nb",
    "a\rb",
    "a b",
    "-rf",
    "con",
    "x".repeat(500),
    "01J\u200b",
    "${PATH}",
    "$(touch canary)",
    "`id`",
    "a;b",
    "a|b",
    "*",
    "?",
    "'",
  ];
  const names = new Set<string>();
  const decorate = [
    (s: string) => s,
    (s: string) => `job-${s}`,
    (s: string) => `${s}.log`,
    (s: string) => `01JABC/${s}`,
  ];
  for (const d of decorate) for (const b of bases) if (names.size < 200) names.add(d(b));
  return [...names];
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

describe("R-26 database paths stay private and inside the data directory", () => {
  it("R-26 BATON_HOME is created 0700 and the database files (with -wal and -shm) 0600, whatever the umask", async () => {
    const previous = process.umask(0); // the most permissive umask: modes must come from baton itself
    try {
      const home = join(tempDir(), "deep", "home");
      const { store, engine } = await openEngine({ home });
      try {
        await engine.enqueue(Array.from({ length: 50 }, (_, i) => ({ type: "t", payload: { i } })));
        const [claimed] = await engine.claim({ owner: "w", types: ["t"] });
        await engine.complete(claimed!.job.id, { token: claimed!.token });
        // WAL activity has happened and the connection is open: all three files exist.
        expect(mode(home)).toBe("700");
        for (const suffix of ["", "-wal", "-shm"])
          expect(`${suffix}: ${mode(join(home, `baton.db${suffix}`))}`).toBe(`${suffix}: 600`);
      } finally {
        await store.close();
      }

      // A data directory and database made too open by someone else are tightened on open.
      chmodSync(home, 0o755);
      chmodSync(join(home, "baton.db"), 0o644);
      const again = await openEngine({ home });
      try {
        await again.engine.enqueue({ type: "t" });
        expect(mode(home)).toBe("700");
        for (const suffix of ["", "-wal", "-shm"])
          expect(`${suffix}: ${mode(join(home, `baton.db${suffix}`))}`).toBe(`${suffix}: 600`);
      } finally {
        await again.store.close();
      }
    } finally {
      process.umask(previous);
    }
  });

  it("R-26 the folder of an explicit database path is created 0700 when missing and never changed when it exists", async () => {
    // A user's folder (0755) and a shared one (sticky 1777, as /tmp): opening a database there
    // once chmodded the folder itself to 0700, which on /tmp locked every other user out.
    for (const folderMode of [0o755, 0o1777]) {
      const folder = join(tempDir(), `folder-${folderMode.toString(8)}`);
      mkdirSync(folder);
      chmodSync(folder, folderMode);
      const { store, engine } = await openEngine({ home: tempDir(), databasePath: join(folder, "jobs.db") });
      try {
        await engine.enqueue({ type: "t" });
        expect((statSync(folder).mode & 0o7777).toString(8)).toBe(folderMode.toString(8));
        expect(mode(join(folder, "jobs.db"))).toBe("600");
      } finally {
        await store.close();
      }
    }
    const missing = join(tempDir(), "new", "folder");
    const { store } = await openEngine({ home: tempDir(), databasePath: join(missing, "jobs.db") });
    await store.close();
    expect(mode(missing)).toBe("700");
  });

  it("R-26 a shared BATON_HOME (sticky, as /tmp) is refused, not used: others could plant its database (D86)", async () => {
    const home = join(tempDir(), "shared-home");
    mkdirSync(home);
    chmodSync(home, 0o1777);
    await expect(openEngine({ home })).rejects.toMatchObject({ code: "UNSAFE_HOME" });
    expect((statSync(home).mode & 0o7777).toString(8)).toBe("1777"); // refused, not changed
    expect(existsSync(join(home, "baton.db"))).toBe(false);
  });

  it("R-26 200 crafted ids and log names never resolve outside the data directory", () => {
    const root = tempDir();
    const names = craftedNames();
    expect(names).toHaveLength(200);
    for (const name of names) {
      for (const segments of [[name], ["logs", name], [name, "stdout.log"]]) {
        for (const check of [resolveInside(root, ...segments), resolveInsideReal(root, ...segments)]) {
          if (check.ok)
            expect(inside(root, check.path), `${JSON.stringify(segments)} → ${check.path}`).toBe(true);
          else expect(check.code).toBe("UNSAFE_PATH");
        }
        const check = resolveInside(root, ...segments);
        if (check.ok) expect(pathInside(root, ...segments)).toBe(check.path);
        else
          expect(() => pathInside(root, ...segments)).toThrow(
            expect.objectContaining({ code: "UNSAFE_PATH" }) as Error,
          );
      }
      // Anything with a separator, NUL, a dot-only name or an encoding is refused outright.
      if (/[/\\\u0000%]/.test(name) || name === "." || name === ".." || name === "") {
        expect(resolveInside(root, name).ok, JSON.stringify(name)).toBe(false);
      }
    }
    // Ordinary names still work.
    for (const name of ["01JD3Z9W6K3Q8Y2V5T0N4R7M1C", "stdout.log", "1", "exit-code"]) {
      expect(resolveInside(root, "runs", name)).toEqual({ ok: true, path: join(root, "runs", name) });
    }
  });

  it("R-26 a symlink planted in the data directory cannot lead a resolved path outside it", () => {
    const root = tempDir();
    const outside = tempDir();
    writeFileSync(join(outside, "secret.txt"), "secret");
    mkdirSync(join(root, "sub"));
    symlinkSync(outside, join(root, "logs")); // a directory link leading out
    symlinkSync(join(outside, "secret.txt"), join(root, "evil.log")); // a file link leading out
    symlinkSync(join(outside, "nothing-yet"), join(root, "dangling")); // creating it would write outside
    symlinkSync(join(root, "sub"), join(root, "inner")); // a link that stays inside is fine
    symlinkSync(root, join(root, "loop")); // a link back to the root itself

    // The lexical check alone cannot see links: that is what resolveInsideReal adds.
    expect(resolveInside(root, "logs", "a.log").ok).toBe(true);
    for (const segments of [
      ["logs", "a.log"],
      ["logs"],
      ["evil.log"],
      ["dangling"],
      ["loop"],
      ["logs", "deeper", "x"],
    ]) {
      const check = resolveInsideReal(root, ...segments);
      expect(check, JSON.stringify(segments)).toMatchObject({ ok: false, code: "UNSAFE_PATH" });
    }
    expect(resolveInsideReal(root, "inner", "x.log")).toEqual({
      ok: true,
      path: join(root, "inner", "x.log"),
    });
    expect(resolveInsideReal(root, "loop", "x.log")).toEqual({ ok: true, path: join(root, "loop", "x.log") });
    expect(resolveInsideReal(root, "new", "dir", "x.log")).toEqual({
      ok: true,
      path: join(root, "new", "dir", "x.log"),
    });
    for (const name of craftedNames()) expect(resolveInsideReal(root, "logs", name).ok).toBe(false);

    // A data directory that is itself reached through a link (macOS /tmp, a dotfiles setup) works.
    const linkedRoot = join(outside, "home-link");
    symlinkSync(root, linkedRoot);
    expect(resolveInsideReal(linkedRoot, "sub", "x.log")).toEqual({
      ok: true,
      path: join(linkedRoot, "sub", "x.log"),
    });
    expect(resolveInsideReal(linkedRoot, "logs", "a.log").ok).toBe(false);
  });
});

// -----------------------------------------------------------------------------------------------
// R-30

describe("R-30 SQL metacharacters through the CLI", () => {
  it("R-30 (CLI) workflows, tags, types and filters with SQL metacharacters are parameterised: only intended rows change, tables intact", async () => {
    const home = tempDir();
    const dbPath = join(home, "baton.db");
    // Bystanders: rows no command below may change.
    const bystanders = [
      {
        type: "task",
        workflow: "alpha",
        tags: ["safe"],
        name: "plain one",
        payload: { note: "100% done_ok" },
      },
      {
        type: "build",
        workflow: "beta",
        tags: ["safe", "x"],
        name: "it's quoted",
        payload: { path: "C:\\dir" },
      },
      { type: "task", workflow: "alpha beta", tags: ["OR"], payload: { sql: "SELECT 1" } },
      { type: "task", tags: ["1=1"], payload: {} },
    ];
    const file = join(home, "bystanders.ndjson");
    writeFileSync(file, bystanders.map((b) => JSON.stringify(b)).join("\n"));
    const loaded = baton(["enqueue", "--json", "--file", file], { home });
    expect(loaded.code, loaded.stderr).toBe(0);
    const bystanderIds = (envelope(loaded).data.jobs as { id: string }[]).map((j) => j.id);
    expect(bystanderIds).toHaveLength(bystanders.length);

    const db = new Database(dbPath, { timeout: 10_000 });
    try {
      const schema = db.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name").all();
      const rowsOf = (ids: readonly string[]) =>
        db
          .prepare("SELECT * FROM jobs WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id")
          .all(JSON.stringify(ids));
      const bystanderRows = rowsOf(bystanderIds);
      const made = new Map<string, string>(); // metacharacter string → its job's id
      const idsOf = (what: string, r: { code: number; stdout: string; stderr: string }): string[] => {
        expect(r.code, `${what}: ${r.stdout}${r.stderr}`).toBe(0);
        return (envelope(r).data.jobs as { id: string }[]).map((j) => j.id).sort();
      };

      for (const m of METACHARACTERS) {
        const enq = baton(enqueueArgsWith(m), { home });
        expect(enq.code, `${m}: ${enq.stdout}${enq.stderr}`).toBe(0);
        const id = (envelope(enq).data.jobs as { id: string }[])[0]!.id;
        made.set(m, id);
        const stored = db
          .prepare("SELECT type, workflow, tags, name, payload FROM jobs WHERE id = ?")
          .get(id);
        expect(stored).toEqual({
          type: typeFor(m),
          workflow: m,
          tags: JSON.stringify([m]),
          name: m,
          payload: JSON.stringify({ m }),
        });

        // Every filter returns exactly the rows that really match, never "all rows" (nor none).
        const [byWorkflow, byTag, bySearch] = await Promise.all(
          [`--workflow=${m}`, `--tag=${m}`, `--search=${m}`].map((flag) =>
            batonAsync(["list", "--json", "--limit=200", flag], { home }),
          ),
        );
        expect(idsOf(`--workflow=${m}`, byWorkflow!)).toEqual([id]);
        expect(idsOf(`--tag=${m}`, byTag!)).toEqual([id]);
        // --search is a substring match (case-insensitive, like SQL LIKE) over id, name, payload, error and evidence.
        const live = db.prepare("SELECT id, name, payload, error, evidence FROM jobs").all() as Record<
          string,
          string | null
        >[];
        const expected = live
          .filter((row) =>
            Object.values(row).some((v) => v !== null && v.toLowerCase().includes(m.toLowerCase())),
          )
          .map((row) => row.id!)
          .sort();
        expect(expected).toContain(id);
        expect(idsOf(`--search=${m}`, bySearch!)).toEqual(expected);
      }

      // Claiming by these types (one repeatable flag each) takes exactly their jobs, no bystander.
      const claim = baton(
        [
          "claim",
          "--json",
          "--limit=100",
          ...METACHARACTERS.flatMap((m) => [`--type=${m}`, `--type=${typeFor(m)}`]),
        ],
        {
          home,
        },
      );
      expect(claim.code, claim.stderr).toBe(0);
      const claimed = (envelope(claim).data.claimed as { job: { id: string; type: string } }[]).map((c) => [
        c.job.type,
        c.job.id,
      ]);
      expect(new Map(claimed as [string, string][])).toEqual(
        new Map([...made].map(([m, id]) => [typeFor(m), id])),
      );

      // Archiving a workflow archives (and so cancels) only its own job.
      for (const m of METACHARACTERS) {
        const archived = baton(["archive", "--json", `--workflow=${m}`], { home });
        expect(archived.code, `${m}: ${archived.stdout}${archived.stderr}`).toBe(0);
        expect(envelope(archived).data).toEqual({ archived: 1 });
        expect(
          db
            .prepare("SELECT state, archived_at IS NOT NULL AS archived FROM jobs WHERE id = ?")
            .get(made.get(m)),
        ).toEqual({
          state: "cancelled",
          archived: 1,
        });
      }

      // Only intended rows changed; no table was dropped or altered; nothing else was written.
      expect(rowsOf(bystanderIds)).toEqual(bystanderRows);
      expect(db.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY name").all()).toEqual(schema);
      expect((db.prepare("SELECT count(*) AS n FROM jobs").get() as { n: number }).n).toBe(
        bystanders.length + METACHARACTERS.length,
      );
      expect(
        (db.prepare("SELECT count(*) AS n FROM jobs WHERE archived_at IS NOT NULL").get() as { n: number }).n,
      ).toBe(METACHARACTERS.length);
      const bystanderEvents = db
        .prepare("SELECT count(*) AS n FROM history WHERE job_id IN (SELECT value FROM json_each(?))")
        .get(JSON.stringify(bystanderIds));
      expect(bystanderEvents).toEqual({ n: bystanders.length }); // their 'enqueued' events only
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    } finally {
      db.close();
    }
  }, 120_000);
});
