/**
 * Schema ≡ validator: the JSON Schema `baton config schema` prints compiles in ajv's strict mode,
 * and accepts and rejects the same configs as the zod validator, over the known cases and a corpus
 * built by a seeded generator. Classes the schema cannot express (docs/tasks.md, "The JSON
 * Schema") are left out of the generator on purpose: backwards cron ranges (5-1), croner's L/W/#
 * forms, schedules no date matches (30 February), time-zone names, durations below a millisecond or above 10 years (a retry's base above a day, its max above a week), the validity of an
 * input's `pattern`, and whether a {{name}} in an argv list names an input.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { NEVER_FIRES, configJsonSchema, configSchema, cronProblem } from "../src/tasks/schema.js";
import { parseDuration } from "../src/core/duration.js";
import { BACKOFF_LIMITS } from "../src/core/job.js";
import { seededRandom as rng } from "./helpers/random.js";

function compile() {
  return new Ajv2020({ strict: true, allErrors: true }).compile(configJsonSchema());
}

type Rand = () => number;
const pick = <T>(r: Rand, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

/** A cron field value, sometimes out of range, with leading zeros or a name. */
function cronNumber(r: Rand, lo: number, hi: number, names: readonly string[]): string {
  const roll = r();
  if (roll < 0.1 && names.length > 0) return pick(r, names);
  if (roll < 0.06) return pick(r, [String(lo - 1), String(hi + 1), String(hi + 20), "x", "1.5", ""]);
  const n = int(r, lo, hi);
  return roll < 0.3 ? `0${n}` : String(n);
}

function cronItem(r: Rand, lo: number, hi: number, names: readonly string[]): string {
  const step = () => (r() < 0.8 ? String(int(r, 1, hi)) : pick(r, ["0", String(hi + 1), String(hi + 2)]));
  switch (int(r, 0, 9)) {
    case 0:
      return "*";
    case 1:
      return `*/${step()}`;
    case 2: {
      // Ranges go up (a backwards range is a class the schema does not express).
      const a = int(r, lo, hi);
      const b = int(r, a, Math.min(hi + (r() < 0.15 ? 5 : 0), hi + 5));
      return r() < 0.5 ? `${a}-${b}` : `${a}-${b}/${step()}`;
    }
    case 3:
      if (r() < 0.5) return "*";
      return `${cronNumber(r, lo, hi, [])}/${step()}`; // croner refuses a numeric prefix
    default:
      return cronNumber(r, lo, hi, names);
  }
}

const FIELDS: [number, number, string[]][] = [
  [0, 59, []],
  [0, 23, []],
  [1, 31, []],
  [1, 12, ["JAN", "dec", "Mar"]],
  [0, 7, ["MON", "fri", "Sun"]],
];

/** A generated expression, never one whose fields are in range but match no date (left out: see above). */
function cron(r: Rand): string {
  for (;;) {
    const expression = anyCron(r);
    if (cronProblem(expression) !== NEVER_FIRES) return expression;
  }
}

function anyCron(r: Rand): string {
  const fields = FIELDS.map(([lo, hi, names]) =>
    Array.from({ length: r() < 0.8 ? 1 : int(r, 2, 3) }, () => cronItem(r, lo, hi, names)).join(","),
  );
  if (r() < 0.2) fields.unshift(cronItem(r, 0, 59, []));
  if (r() < 0.08) fields.pop();
  if (r() < 0.05) fields.push("*", "*");
  return fields.join(r() < 0.9 ? " " : "  ");
}

function duration(r: Rand): string | number {
  if (r() < 0.1) return pick(r, [int(r, 1, 600), 0, -5, 2.5]); // a YAML number: seconds
  if (r() < 0.6) return `${int(r, 1, 90)}${pick(r, ["s", "m", "h"])}`;
  return pick(r, [
    `${int(r, 1, 90)}${pick(r, ["ms", "s", "m", "h", "d", "w"])}`,
    `${int(r, 1, 10)}y`, // years up to the limit: past 10 the schema is looser by design (above)
    `${int(r, 1, 3)}h${int(r, 1, 59)}m`,
    `${int(r, 1, 9)}.5s`,
    String(int(r, 1, 600)),
    "10 minutes",
    "1h 30m",
    "0s",
    "0",
    "",
    "m",
    "-5s",
    `${int(r, 1, 9)}y`,
  ]);
}

/** A retry's `base` (`max`): a duration, never a valid one above a day (a week), left out above. */
function retryDuration(r: Rand, atMostMs: number): string | number {
  for (;;) {
    const value = duration(r);
    let ms: number | undefined;
    try {
      ms = parseDuration(String(value));
    } catch {
      ms = undefined;
    }
    if (ms === undefined || ms <= atMostMs) return value;
  }
}

function command(r: Rand): unknown {
  if (r() < 0.6) return pick(r, ["make build", ["npm", "test"]]);
  return pick(r, ["echo hi", ["echo", "hi"], ["echo", "--who={{who}}"], "echo {{who}}", "", [], 42]);
}

function input(r: Rand): unknown {
  const type = pick(r, ["string", "number", "integer", "boolean", undefined, "date"]);
  const spec: Record<string, unknown> = {};
  if (type !== undefined) spec.type = type;
  if (r() < 0.7) spec.default = pick(r, ["abc", 3, 2.5, true, null]);
  if (r() < 0.2) spec.required = pick(r, [true, "yes"]);
  if (r() < 0.1) spec.unknown_key = 1;
  return r() < 0.15 ? "a description" : spec;
}

function notify(r: Rand): unknown {
  const out: Record<string, unknown> = {};
  if (r() < 0.4) out.on = pick(r, [["failure"], ["success", "complete"], [], ["sometimes"]]);
  if (r() < 0.4) {
    out.message = pick(r, ["{{task}} {{ status }}", "{{nope}}", "done {{task}}!", "{{{task}}}", "{{ }}"]);
  }
  if (r() < 0.4) {
    out.webhook = pick(r, [{ url: "https://x" }, { url_env: "HOOK" }, { url: "u", url_env: "HOOK" }, {}]);
  }
  if (r() < 0.3) out.slack = pick(r, [{ webhook_url_env: "SLACK" }, { webhook_url_env: "1bad" }, {}]);
  if (r() < 0.3) {
    out.telegram = pick(r, [
      { bot_token_env: "T", chat_id: "1" },
      { bot_token_env: "T" },
      { bot_token: "t", chat_id_env: "C", base_url: "https://api.example" },
      { bot_token: "t", chat_id: "1", base_url: "ftp://x" },
    ]);
  }
  return out;
}

function task(r: Rand): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const kind = r();
  if (kind < 0.7) out.command = command(r);
  else if (kind < 0.9) out.plugin = "./plugins/x.js";
  else if (kind < 0.95) {
    out.command = "echo";
    out.plugin = "./p.js";
  }
  if (r() < 0.2) out.dry_run_command = command(r);
  const argvPlaceholder = [out.command, out.dry_run_command].some(
    (c) => Array.isArray(c) && c.join().includes("{{"),
  );
  if (r() < 0.4 || argvPlaceholder) {
    // An argv {{who}} always names an input here: the schema cannot check that it does.
    out.inputs = { who: input(r), ...(r() < 0.3 ? { n: input(r) } : {}) };
  }
  if (r() < 0.4) out.schedule = cron(r);
  if (r() < 0.3) out.timeout = duration(r);
  if (r() < 0.15) out.idle_timeout = duration(r);
  if (r() < 0.15) out.with = { any: "thing" };
  if (r() < 0.2) {
    out.env = pick(r, [
      { A: "1" },
      { TOKEN_env: "DEPLOY_TOKEN" },
      { TOKEN_env: "not a name" },
      { "1A": "x" },
    ]);
  }
  if (r() < 0.2) {
    out.retry = pick(r, [
      { attempts: int(r, 0, 4) },
      { attempts: 3, base: retryDuration(r, BACKOFF_LIMITS.baseMs), backoff: "fixed" },
      { attempts: 3, max: retryDuration(r, BACKOFF_LIMITS.maxMs) },
      { attempts: 2, factor: 0.5 },
      { attempts: 2, factor: pick(r, [10, 11, 100]) },
    ]);
  }
  if (r() < 0.2) out.notify = notify(r);
  if (r() < 0.1) out.catch_up = pick(r, ["once", "never"]);
  if (r() < 0.05) out.timout = "10m";
  return out;
}

function config(r: Rand): Record<string, unknown> {
  const tasks: Record<string, unknown> = {};
  for (let i = int(r, 1, 2); i > 0; i--)
    tasks[r() < 0.95 ? pick(r, ["build", "deploy", "t.1"]) : "-bad"] = task(r);
  return { version: 1, tasks };
}

function verdicts(data: unknown, validate: ReturnType<typeof compile>) {
  return { schema: validate(data), validator: configSchema.safeParse(data).success };
}

describe("the JSON Schema of baton.yaml", () => {
  it("compiles in ajv's strict mode", () => {
    expect(() => compile()).not.toThrow();
  });

  it.each([
    ["a schedule out of range", { tasks: { t: { command: "x", schedule: "61 * * * *" } } }],
    ["a task with no command", { tasks: { t: { description: "nothing to run" } } }],
    ["a timeout in words", { tasks: { t: { command: "x", timeout: "10 minutes" } } }],
    [
      "an integer input with a string default",
      { tasks: { t: { command: "x", inputs: { n: { type: "integer", default: "abc" } } } } },
    ],
    ["command and plugin", { tasks: { t: { command: "x", plugin: "./p.js" } } }],
    ["a placeholder in a shell string", { tasks: { t: { command: "echo {{x}}", inputs: { x: "x" } } } }],
    ["an unknown template variable", { tasks: { t: { command: "x", notify: { message: "{{nope}}" } } } }],
    [
      "a webhook with url and url_env",
      { tasks: { t: { command: "x", notify: { webhook: { url: "u", url_env: "U" } } } } },
    ],
  ])("rejects %s, as the validator does", (_what, data) => {
    expect(verdicts(data, compile())).toEqual({ schema: false, validator: false });
  });

  it("accepts and rejects the same generated configs as the validator", () => {
    const validate = compile();
    const r = rng(18);
    const disagreements: { data: unknown; schema: boolean; validator: boolean }[] = [];
    let accepted = 0;
    const total = 3000;
    for (let i = 0; i < total; i++) {
      const data = config(r);
      const v = verdicts(data, validate);
      if (v.validator) accepted++;
      if (v.schema !== v.validator) disagreements.push({ data, ...v });
    }
    expect({ count: disagreements.length, first: disagreements.slice(0, 5) }).toEqual({
      count: 0,
      first: [],
    });
    // Both sides of the line are exercised, not only one.
    expect(accepted).toBeGreaterThan(total * 0.1);
    expect(accepted).toBeLessThan(total * 0.9);
  });

  it("agrees with croner on generated cron expressions", () => {
    const validate = compile();
    const r = rng(61);
    const disagreements: { schedule: string; schema: boolean; validator: boolean }[] = [];
    let accepted = 0;
    for (let i = 0; i < 4000; i++) {
      const schedule = cron(r);
      const v = verdicts({ tasks: { t: { command: "x", schedule } } }, validate);
      if (v.validator) accepted++;
      if (v.schema !== v.validator) disagreements.push({ schedule, ...v });
    }
    expect({ count: disagreements.length, first: disagreements.slice(0, 10) }).toEqual({
      count: 0,
      first: [],
    });
    expect(accepted).toBeGreaterThan(400);
    expect(accepted).toBeLessThan(3600);
  });
});
