/**
 * invalid command lines never crash the CLI. Each invocation below runs twice through the
 * real binary, without and with `--json`:
 * - the documented exit code (2 usage or invalid input, 3 not found, 4 conflict);
 * - without `--json`: stdout empty, exactly one non-empty line on stderr naming the error code,
 *   no stack frames;
 * - with `--json`: stdout is exactly one JSON envelope `{ok:false, error:{code, message}}`,
 *   stderr empty.
 * Nothing a rejected invocation says may change the ledger.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CliResult } from "./helpers/cli.js";
import { baton, batonAsync, envelope } from "./helpers/cli.js";

interface Case {
  group: string;
  args: string[];
  exit: number;
  code: string;
}

const USAGE = [2, "USAGE"] as const;
const INVALID = [2, "INVALID_INPUT"] as const;
const NOT_FOUND = [3, "JOB_NOT_FOUND"] as const;

/** Files the cases refer to as `@name`; written into the temp dir before the runs. */
const FILES: Record<string, string> = {
  "bad.json": "{bad",
  "numbers.json": "[1, 2]",
  "unknown-key.json": '{"payload":1,"bogus":true}',
  "empty.json": "",
  "empty-array.json": "[]",
  "bad-line.ndjson": '{"payload":1}\n{"payload":2\n{"payload":3}\n',
  "wrong-type.json": '{"priority":"high"}',
  "not-array.json": '[{"payload":1}] trailing',
  "big.json": JSON.stringify({ name: "huge", payload: "x".repeat(1024 * 1024 + 10) }),
  "deps.json": '{"payload":1,"dependsOn":["NOSUCHJOB"]}',
  "items-no-id.json": '[{"evidence":"x"}]',
  "items-bad.ndjson": "{bad\n",
  "items-unknown.json": '[{"id":"NOSUCHJOB","evidence":"x"}]',
  "items-extra-key.json": '[{"id":"queued1","evidance":"typo"}]',
  "items-big.json": JSON.stringify([{ id: "queued1", evidence: "y".repeat(1024 * 1024 + 10) }]),
};

const table: { group: string; expect: readonly [number, string]; variants: string[][] }[] = [
  // --- unknown commands and flags -------------------------------------------------------------
  {
    group: "unknown command",
    expect: USAGE,
    variants: [
      ["frobnicate"],
      ["lst"],
      ["enqeue", "{}"],
      ["LIST"],
      ["run-all"],
      ["completed", "x"],
      ["resum"],
      ["show-all"],
    ],
  },
  {
    group: "unknown top-level flag",
    expect: USAGE,
    variants: [["--bogus"], ["-z"], ["--verbose", "list"], ["--home", "/tmp", "list"]],
  },
  {
    group: "unknown flag of list",
    expect: USAGE,
    variants: [
      ["list", "--bogus"],
      ["list", "--stat", "queued"],
      ["list", "-z"],
      ["list", "--frob", "--limit", "5"],
      ["ls", "--colour"],
    ],
  },
  {
    group: "unknown flag of enqueue",
    expect: USAGE,
    variants: [
      ["enqueue", "{}", "--priorty", "1"],
      ["enqueue", "{}", "--retries", "3"],
      ["enqueue", "{}", "-x"],
      ["enqueue", "{}", "--evidence", "e"],
      ["enqueue", "{}", "--depends", "x"],
    ],
  },
  {
    group: "unknown flag of other commands",
    expect: USAGE,
    variants: [
      ["complete", "ANYID", "--evidance", "x"],
      ["fail", "ANYID", "err", "--retry-later"],
      ["resume", "--budgett", "100"],
      ["show", "ANYID", "--event", "2"],
      ["audit", "--sumary"],
      ["health", "--verbose"],
      ["doctor", "--fix"],
      ["demo", "--bogus"],
      ["pause", "--everything"],
      ["receipt", "wf", "--ids"],
    ],
  },
  // --- bad values --------------------------------------------------------------------------------
  {
    group: "--priority not an integer in range",
    expect: INVALID,
    variants: [["abc"], ["1.5"], ["1e3"], ["5000"], ["-5000"], [" 7"]].map((v) => [
      "enqueue",
      "{}",
      "--priority",
      ...v,
    ]),
  },
  {
    group: "list --limit not a positive integer ≤ 1000",
    expect: INVALID,
    variants: [["-5"], ["0"], ["abc"], ["1001"], ["2.5"], [""], ["--5"]].map((v) => [
      "list",
      "--limit",
      ...v,
    ]),
  },
  {
    group: "audit and claim --limit out of range",
    expect: INVALID,
    variants: [
      ["audit", "--limit", "0"],
      ["audit", "--limit", "-1"],
      ["audit", "--limit", "x"],
      ["audit", "--limit", "10001"],
      ["claim", "--limit", "0"],
      ["claim", "--limit", "101"],
      ["claim", "--limit", "many"],
    ],
  },
  {
    group: "--max-attempts out of range",
    expect: INVALID,
    variants: [["0"], ["-1"], ["abc"], ["1.5"], ["1001"]].map((v) => [
      "enqueue",
      "{}",
      "--max-attempts",
      ...v,
    ]),
  },
  {
    group: "resume --budget out of range",
    expect: INVALID,
    variants: [["10"], ["0"], ["abc"], ["100001"], ["-600"]].map((v) => ["resume", "--budget", ...v]),
  },
  {
    group: "show --events out of range",
    expect: INVALID,
    variants: [["-1"], ["x"], ["1001"]].map((v) => ["show", "ANYID", "--events", ...v]),
  },
  {
    group: "--delay not a duration",
    expect: INVALID,
    variants: [["5x"], ["-5s"], [""], ["soon"], ["5 m"], ["1h-30m"], ["ms"]].map((v) => [
      "enqueue",
      "{}",
      "--delay",
      ...v,
    ]),
  },
  {
    group: "lease and age durations",
    expect: INVALID,
    variants: [
      ["claim", "--lease", "5x"],
      ["claim", "--lease", "abc"],
      ["claim", "--lease", ""],
      ["heartbeat", "ANYID", "tok", "--lease", "forever"],
      ["heartbeat", "ANYID", "tok", "--lease", "1y"],
      ["clean", "--older-than", "5x"],
      ["clean", "--older-than", "7 days"],
      ["clean", "--older-than", "-1d"],
    ],
  },
  {
    group: "audit --since/--until not a time",
    expect: INVALID,
    variants: [
      ["audit", "--since", "5x"],
      ["audit", "--since", "2024-13-45"],
      ["audit", "--since", "tomorrow"],
      ["audit", "--until", "later"],
      ["audit", "--since", ""],
    ],
  },
  {
    group: "bad resume cursor",
    expect: INVALID,
    variants: [["bogus"], ["e"], ["e-1"], ["123x"], ["x".repeat(41)]].map((v) => ["resume", "--since", ...v]),
  },
  {
    group: "bad states and scopes",
    expect: INVALID,
    variants: [
      ["list", "-s", "bogus"],
      ["list", "-s", "RUNNING"],
      ["list", "-s", "queued,bogus"],
      ["list", "--state", ""],
      ["clean", "-s", "bogus"],
      ["clean", "-s", "live"],
      ["pause", "--scope", "bogus"],
      ["unpause", "--scope", "everything"],
      ["pause", "--scope", "workflow"],
      ["unpause", "--scope", "type"],
    ],
  },
  {
    group: "empty or oversized names",
    expect: INVALID,
    variants: [
      ["enqueue", "{}", "--type", ""],
      ["enqueue", "{}", "--name", ""],
      ["enqueue", "{}", "--key", ""],
      ["enqueue", "{}", "--name", "n".repeat(201)],
      ["enqueue", "{}", "--tag", "t".repeat(101)],
      ["list", "--project", ""],
      ["list", "--cursor", "c".repeat(41)],
      ["claim", "--owner", ""],
      ["fail", "ANYID", ""],
      ["enqueue", "{}", "--name", "line\nbreak"],
    ],
  },
  // --- missing arguments ------------------------------------------------------------------------
  {
    group: "missing required argument",
    expect: USAGE,
    variants: [
      ["show"],
      ["explain"],
      ["accept-before"],
      ["receipt"],
      ["skip"],
      ["delete"],
      ["redrive"],
      ["fail"],
      ["fail", "ANYID"],
      ["heartbeat"],
      ["heartbeat", "ANYID"],
      ["release"],
      ["release", "ANYID"],
    ],
  },
  {
    group: "missing option value",
    expect: USAGE,
    variants: [
      ["list", "--limit"],
      ["enqueue", "{}", "--priority"],
      ["enqueue", "{}", "-w"],
      ["audit", "--since"],
      ["claim", "--lease"],
      ["resume", "--budget"],
      ["complete", "ANYID", "--evidence"],
      ["enqueue", "--file"],
    ],
  },
  {
    group: "too many arguments",
    expect: USAGE,
    variants: [
      ["list", "extra"],
      ["show", "a", "b"],
      ["enqueue", "{}", "{}"],
      ["health", "now"],
      ["fail", "a", "b", "c"],
      ["explain", "a", "b"],
      ["resume", "wf"],
    ],
  },
  {
    group: "nothing to act on",
    expect: INVALID,
    variants: [
      ["enqueue"],
      ["complete"],
      ["archive"],
      ["enqueue", "{}", "--file", "@bad.json"],
      ["archive", "ANYID", "--workflow", "wf"],
    ],
  },
  // --- bad JSON ---------------------------------------------------------------------------------
  {
    group: "payload is not JSON",
    expect: INVALID,
    variants: [
      ["{bad"],
      ["{'a':1}"],
      ["undefined"],
      ["[1,2"],
      ["x"],
      ['{"a":}'],
      ["NaN"],
      ["'quoted'"],
      ['{"a":1}}'],
    ].map((v) => ["enqueue", ...v]),
  },
  {
    group: "--result is not JSON",
    expect: INVALID,
    variants: [
      ["complete", "ANYID", "--result", "{bad"],
      ["complete", "ANYID", "--result", "nope"],
    ],
  },
  {
    group: "bad jobs file",
    expect: INVALID,
    variants: [
      "@bad.json",
      "@numbers.json",
      "@unknown-key.json",
      "@empty.json",
      "@empty-array.json",
      "@bad-line.ndjson",
      "@wrong-type.json",
      "@not-array.json",
      "@missing.json",
      "-",
    ].map((f) => ["enqueue", "--file", f]),
  },
  {
    group: "bad items file",
    expect: INVALID,
    variants: ["@items-no-id.json", "@items-bad.ndjson", "@items-extra-key.json", "@missing.json", "-"].map(
      (f) => ["complete", "--file", f],
    ),
  },
  {
    group: "payload too large",
    expect: [2, "PAYLOAD_TOO_LARGE"],
    variants: [
      ["enqueue", "--file", "@big.json"],
      ["enqueue", "--file", "@big.json", "--workflow", "w"],
    ],
  },
  // --- unknown ids --------------------------------------------------------------------------------
  {
    group: "unknown id",
    expect: NOT_FOUND,
    variants: [
      ["show", "NOSUCHJOB"],
      ["complete", "NOSUCHJOB"],
      ["fail", "NOSUCHJOB", "err"],
      ["delete", "NOSUCHJOB"],
      ["redrive", "NOSUCHJOB"],
      ["archive", "NOSUCHJOB"],
      ["accept-before", "NOSUCHJOB"],
      ["heartbeat", "NOSUCHJOB", "tok"],
      ["release", "NOSUCHJOB", "tok"],
      ["show", "01ARZ3NDEKTSV4RRFFQ69G5FAV"],
      ["show", "q"],
      ["delete", "queued1", "NOSUCHJOB"],
      ["complete", "NOSUCHJOB", "--evidence", "x"],
      ["status", "NOSUCHJOB"],
    ],
  },
  {
    group: "unknown dependency",
    expect: [3, "DEPENDENCY_NOT_FOUND"],
    variants: [
      ["enqueue", "{}", "--depends-on", "NOSUCHJOB"],
      ["enqueue", "{}", "--depends-on", "queued1", "--depends-on", "NOSUCHJOB"],
      ["enqueue", "--file", "@deps.json"],
    ],
  },
  {
    group: "unknown workflow",
    expect: [3, "NOT_FOUND"],
    variants: [
      ["receipt", "nope"],
      ["receipt", "done1"],
    ],
  },
  // --- conflicts ------------------------------------------------------------------------------------
  {
    group: "wrong state",
    expect: [4, "INVALID_TRANSITION"],
    // A repeated complete of a succeeded task is "already done" (D60, test/cli.answers.test.ts).
    variants: [
      ["fail", "done1", "err"],
      ["fail", "done1", "another reason"],
      ["skip", "done1"],
      ["redrive", "queued1"],
    ],
  },
  {
    group: "stale token",
    expect: [4, "LEASE_LOST"],
    variants: [
      ["heartbeat", "queued1", "tok"],
      ["release", "queued1", "tok"],
      ["complete", "queued1", "--token", "tok"],
    ],
  },
  {
    group: "ambiguous name",
    expect: [4, "AMBIGUOUS_ID"],
    variants: [
      ["show", "dup"],
      ["complete", "dup"],
      ["explain", "dup"],
    ],
  },
];

const cases: Case[] = table.flatMap((t) =>
  t.variants.map((args) => ({ group: t.group, args, exit: t.expect[0], code: t.expect[1] })),
);

/** `--json` goes right after the command word, so it never becomes the value of a trailing option. */
function withJson(args: string[]): string[] {
  const first = args[0];
  if (first === undefined || first.startsWith("-")) return [...args, "--json"];
  return [first, "--json", ...args.slice(1)];
}

async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

let dir = "";
let home = "";
let project = "";
let before: { jobs: number; events: number } | undefined;

function ledgerSize(): { jobs: number; events: number } {
  const list = baton(["list", "--all", "--archived", "--json"], { home, cwd: project });
  const audit = baton(["audit", "--all", "--summary", "--json"], { home, cwd: project });
  return { jobs: envelope(list).data.total as number, events: envelope(audit).data.summary.total as number };
}

function checkText(c: Case, r: CliResult): void {
  const label = `baton ${c.args.join(" ")}`;
  expect({ exit: r.code, stdout: r.stdout }, `${label} (stderr: ${r.stderr.trim()})`).toEqual({
    exit: c.exit,
    stdout: "",
  });
  const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
  expect(lines, `${label}: one line on stderr`).toHaveLength(1);
  expect(lines[0], label).toMatch(/^baton: error: .+ \([A-Z_]+\)$/);
  expect(lines[0], label).toContain(`(${c.code})`);
  expect(r.stderr, label).not.toMatch(/^\s+at /m);
}

function checkJson(c: Case, r: CliResult): void {
  const label = `baton ${withJson(c.args).join(" ")}`;
  expect({ exit: r.code, stderr: r.stderr }, label).toEqual({ exit: c.exit, stderr: "" });
  expect(
    r.stdout.endsWith("\n") && r.stdout.indexOf("\n") === r.stdout.length - 1,
    `${label}: one line`,
  ).toBe(true);
  const env = envelope(r);
  expect(Object.keys(env).sort(), label).toEqual(["error", "ok"]);
  expect(env.ok, label).toBe(false);
  expect(env.error?.code, label).toBe(c.code);
  expect(typeof env.error?.message === "string" && env.error.message.length > 0, `${label}: message`).toBe(
    true,
  );
  expect(env.error!.message, label).not.toMatch(/\n\s+at /);
}

describe("R-21 invalid CLI invocations", () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "baton-cli-invalid-"));
    home = join(dir, "home");
    project = join(dir, "project");
    mkdirSync(join(project, ".git"), { recursive: true });
    for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dir, name), text);
    const run = (args: string[]) => expect(baton([...args, "--json"], { home, cwd: project }).code).toBe(0);
    run(["enqueue", "{}", "-n", "done1"]);
    run(["complete", "done1", "-e", "seed"]);
    run(["enqueue", "{}", "-n", "queued1"]);
    run(["enqueue", "{}", "-n", "dup"]);
    run(["enqueue", "{}", "-n", "dup"]);
    before = ledgerSize();
  });
  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("R-21 a --file batch answers per item (D76): a bad item is its own error line, exit 1, --json parses", () => {
    for (const [file, code] of [
      ["@items-big.json", "PAYLOAD_TOO_LARGE"],
      ["@items-unknown.json", "JOB_NOT_FOUND"],
    ] as const) {
      const path = join(dir, file.slice(1));
      const text = baton(["complete", "--file", path], { home, cwd: project });
      expect(text.code, text.stderr).toBe(1);
      expect(text.stdout).toContain(`(${code})`);
      expect(text.stderr).not.toMatch(/^\s+at /m);
      const json = baton(["complete", "--file", path, "--json"], { home, cwd: project });
      expect(json.code).toBe(1);
      expect(JSON.stringify(envelope(json))).toContain(code);
    }
    expect(ledgerSize()).toEqual(before);
  });

  it("R-21 the table holds 200 distinct invalid invocations", () => {
    expect(cases.length).toBe(200);
    const keys = cases.map((c) => JSON.stringify(c.args));
    const twice = keys.filter((k, i) => keys.indexOf(k) !== i);
    expect(twice, "duplicate invocations").toEqual([]);
    expect(table.length).toBeGreaterThanOrEqual(30);
  });

  for (const t of table) {
    it(`R-21 ${t.group}: exit ${t.expect[0]} ${t.expect[1]}, one-line error, --json parses`, async () => {
      const mine = cases.filter((c) => c.group === t.group);
      const resolve = (args: string[]) => args.map((a) => (a.startsWith("@") ? join(dir, a.slice(1)) : a));
      const runs = mine.flatMap((c) => [
        { c, json: false, args: resolve(c.args) },
        { c, json: true, args: resolve(withJson(c.args)) },
      ]);
      const results = await pool(runs, 4, (run) => batonAsync(run.args, { home, cwd: project }));
      runs.forEach((run, i) => (run.json ? checkJson : checkText)(run.c, results[i]!));
    });
  }

  it("R-21 rejected invocations changed nothing in the ledger", () => {
    expect(ledgerSize()).toEqual(before);
  });

  it("no command at all prints the help on stderr and exits 2 (usage)", () => {
    for (const args of [[], ["help", "frobnicate"]]) {
      const r = baton(args, { home, cwd: project });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain("Usage: baton");
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
    const json = baton(["--json"], { home, cwd: project });
    expect(json.code).toBe(2);
    expect(envelope(json)).toMatchObject({ ok: false, error: { code: "USAGE" } });
    // Help and version are not errors.
    expect(baton(["--help"], { home, cwd: project }).code).toBe(0);
    expect(baton(["list", "--help"], { home, cwd: project }).code).toBe(0);
    expect(baton(["--version"], { home, cwd: project }).stdout).toMatch(/^\d+\.\d+\.\d+/);
  });
});
