import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { parseDuration, parseTimeRef, parseTimerDuration } from "../src/core/duration.js";
import { BatonError } from "../src/core/errors.js";
import { ULID_PATTERN, isUlid, newToken, ulid } from "../src/core/ids.js";
import type { BackoffPolicy } from "../src/core/job.js";
import { DEFAULT_BACKOFF, backoffDelay } from "../src/core/job.js";
import { decodeJson, encodeJson } from "../src/core/json.js";
import { pathInside, resolveInside } from "../src/core/paths.js";

function thrownCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BatonError);
    return (error as BatonError).code;
  }
  return undefined;
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/** The time part of a ULID, decoded independently of ids.ts. */
function ulidTime(id: string): number {
  let t = 0;
  for (const ch of id.slice(0, 10)) t = t * 32 + CROCKFORD.indexOf(ch);
  return t;
}

describe("ulid", () => {
  it("is 26 Crockford base32 characters whose time part is the given time", () => {
    const at = Date.UTC(2026, 4, 17, 12, 30, 45, 123);
    for (let i = 0; i < 100; i++) {
      const id = ulid(at + i * 1000);
      expect(id).toHaveLength(26);
      expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(ULID_PATTERN.test(id)).toBe(true);
      expect(isUlid(id)).toBe(true);
      expect(ulidTime(id)).toBe(at + i * 1000);
    }
    expect(isUlid("01ARZ3NDEKTSV4RRFFQ69G5FAV".toLowerCase())).toBe(false);
    expect(isUlid("01ARZ3NDEKTSV4RRFFQ69G5FA")).toBe(false);
    expect(isUlid("01ARZ3NDEKTSV4RRFFQ69G5FAI")).toBe(false);
  });

  it("is strictly increasing within one millisecond", () => {
    const at = Date.UTC(2027, 0, 1);
    const ids = Array.from({ length: 1000 }, () => ulid(at));
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(ulidTime(ids[999]!)).toBe(at);
  });

  it("stays increasing when the clock steps back", () => {
    const later = Date.UTC(2028, 0, 1);
    const a = ulid(later);
    const b = ulid(later - 60_000);
    expect(b > a).toBe(true);
  });

  it("10,000 ids from the wall clock are unique and sorted", () => {
    const ids = Array.from({ length: 10_000 }, () => ulid());
    expect(new Set(ids).size).toBe(10_000);
    expect([...ids].sort()).toEqual(ids);
  });

  it("newToken gives unguessable, distinct tokens", () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => newToken()));
    expect(tokens.size).toBe(1000);
    for (const t of tokens) expect(t.length).toBeGreaterThanOrEqual(32);
  });
});

describe("parseDuration", () => {
  const valid: [string, number][] = [
    ["500ms", 500],
    ["30s", 30_000],
    ["10m", 600_000],
    ["2h", 7_200_000],
    ["7d", 604_800_000],
    ["1w", 604_800_000],
    ["2w3d", 17 * 86_400_000],
    ["1y", 365 * 86_400_000],
    ["10y", 3650 * 86_400_000],
    ["1y2w", 379 * 86_400_000],
    ["1h30m", 5_400_000],
    ["1d2h3m4s5ms", 86_400_000 + 7_200_000 + 180_000 + 4000 + 5],
    ["1.5s", 1500],
    ["0.5m", 30_000],
    ["90", 90_000],
    ["0", 0],
    ["2.5", 2500],
    [" 5m ", 300_000],
  ];
  for (const [text, ms] of valid) {
    it(`'${text}' is ${ms} ms`, () => expect(parseDuration(text)).toBe(ms));
  }

  const invalid = [
    "",
    " ",
    "abc",
    "5x",
    "-5s",
    "1h 30m",
    "h",
    "ms",
    "5 s",
    "1e3",
    "10mm",
    "s5",
    "5s!",
    "+5s",
    "1,5s",
    "∞",
    "1yr",
    "y",
    "1Y",
    "0.5ms",
    "1.5ms",
    "0.0001s",
    "0.0005",
    "1s0.5ms",
  ];
  for (const text of invalid) {
    it(`'${text}' is INVALID_INPUT`, () =>
      expect(thrownCode(() => parseDuration(text))).toBe("INVALID_INPUT"));
  }

  it("is exact to the millisecond and names the flag of a fraction of one", () => {
    // Issue 17: 0.5ms was rounded to 1 ms (a timeout firing at once), 0.4ms to 0.
    expect(parseDuration("1.1s")).toBe(1100);
    expect(parseDuration("0.001")).toBe(1);
    expect(parseDuration("2.345s")).toBe(2345);
    expect(() => parseTimerDuration("0.5ms", "--timeout")).toThrow(
      "--timeout '0.5ms' is not a whole number of milliseconds: the shortest duration is 1ms",
    );
  });
});

describe("parseTimerDuration", () => {
  it("refuses more than 10 years in the caller's own words, not in ms", () => {
    for (const [text, shown] of [
      ["11y", "11y"],
      ["3653d", "3653d"],
      [" 600w ", "600w"],
    ] as const) {
      let error: unknown;
      try {
        parseTimerDuration(text, "--timeout");
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: "DURATION_OUT_OF_RANGE", details: { given: shown } });
      expect((error as Error).message).toBe(
        `--timeout ${shown} is more than the 10-year limit (3652.5 days); for no limit, leave it out`,
      );
    }
    expect(parseTimerDuration("10y", "--timeout")).toBe(3650 * 86_400_000);
  });
});

describe("parseTimeRef", () => {
  const now = Date.UTC(2026, 5, 1, 12, 0, 0);
  it("reads ISO dates and times", () => {
    expect(parseTimeRef("2026-01-02", now)).toBe(Date.UTC(2026, 0, 2));
    expect(parseTimeRef("2026-01-02T03:04:05Z", now)).toBe(Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(parseTimeRef("2026-01-02T03:04:05.678+02:00", now)).toBe(Date.UTC(2026, 0, 2, 1, 4, 5, 678));
  });
  it("reads a duration as that long before now", () => {
    expect(parseTimeRef("2h", now)).toBe(now - 7_200_000);
    expect(parseTimeRef("7d", now)).toBe(now - 604_800_000);
    expect(parseTimeRef("0s", now)).toBe(now);
  });
  it("reads now, today and yesterday (local midnights)", () => {
    const today = new Date(now);
    today.setHours(0, 0, 0, 0);
    const yesterday = new Date(today);
    yesterday.setDate(yesterday.getDate() - 1);
    expect(parseTimeRef("now", now)).toBe(now);
    expect(parseTimeRef("today", now)).toBe(today.getTime());
    expect(parseTimeRef("Yesterday", now)).toBe(yesterday.getTime());
  });
  for (const text of ["2026-13-45", "2026-02-30T99:00:00Z", "yesterdays", "", "tomorrow", "2026/01/02"]) {
    it(`'${text}' is INVALID_INPUT`, () =>
      expect(thrownCode(() => parseTimeRef(text, now))).toBe("INVALID_INPUT"));
  }
});

describe("encodeJson", () => {
  it("returns the JSON text and round-trips through decodeJson", () => {
    const value = { a: [1, "two", null, true], s: "é😀\u0000\ud800" };
    const text = encodeJson(value, "payload", 1024);
    expect(text).toBe(JSON.stringify(value));
    expect(decodeJson(text)).toEqual(value);
    expect(decodeJson(null)).toBeNull();
  });

  it("enforces the size limit in UTF-8 bytes, inclusive", () => {
    expect(encodeJson("x".repeat(10), "payload", 12)).toBe(`"${"x".repeat(10)}"`);
    const error = (() => {
      try {
        encodeJson("x".repeat(11), "payload", 12);
      } catch (e) {
        return e as BatonError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(BatonError);
    expect(error!.code).toBe("PAYLOAD_TOO_LARGE");
    expect(error!.details).toEqual({ bytes: 13, limit: 12 });
    expect(error!.message).toContain("payload");
    // "é" is 2 bytes and "😀" 4 in UTF-8, though 1 and 2 UTF-16 units.
    expect(encodeJson("éé", "evidence", 6)).toBe('"éé"');
    expect(thrownCode(() => encodeJson("ééé", "evidence", 7))).toBe("PAYLOAD_TOO_LARGE");
    expect(thrownCode(() => encodeJson("😀", "result", 5))).toBe("PAYLOAD_TOO_LARGE");
    expect(encodeJson("😀", "result", 6)).toBe('"😀"');
  });

  const bad: [string, unknown][] = [
    ["NaN", Number.NaN],
    ["nested NaN", { a: [1, Number.NaN] }],
    ["Infinity", Infinity],
    ["-Infinity", { x: -Infinity }],
    ["bigint", 10n],
    ["nested bigint", { n: [1n] }],
    ["function", () => 1],
    ["nested function", { f() {} }],
    ["symbol", Symbol("s")],
    ["undefined", undefined],
  ];
  for (const [label, value] of bad) {
    it(`${label} is INVALID_INPUT`, () =>
      expect(thrownCode(() => encodeJson(value, "payload", 1 << 20))).toBe("INVALID_INPUT"));
  }

  it("a cycle is INVALID_INPUT", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.me = cyclic;
    expect(thrownCode(() => encodeJson(cyclic, "payload", 1 << 20))).toBe("INVALID_INPUT");
  });

  it("plain data is serialised without a replacer (issue 22: one call per key tripled its cost)", () => {
    const stringify = vi.spyOn(JSON, "stringify");
    try {
      const value = { i: 1, t: 0.5, pad: "x".repeat(80), ok: true, none: null, list: [1, "a", { b: [] }] };
      expect(encodeJson(value, "payload", 1 << 20)).toBe(
        '{"i":1,"t":0.5,"pad":"' + "x".repeat(80) + '","ok":true,"none":null,"list":[1,"a",{"b":[]}]}',
      );
      expect(stringify.mock.calls.map((call) => call.length)).toEqual([1]);
    } finally {
      stringify.mockRestore();
    }
  });

  it("what is not plain data renders and fails as through the checked path", () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
      toJSON(): string {
        return `${this.x},${this.y}`;
      }
    }
    const withToJson = Object.assign([1, 2], { toJSON: () => "list" });
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    const inherited = Object.assign(Object.create({ hidden: 1 }) as Record<string, unknown>, { own: 2 });
    let deep: unknown = "leaf";
    for (let i = 0; i < 100; i++) deep = { d: [deep] };
    const cases: [unknown, string][] = [
      [new Date(0), '"1970-01-01T00:00:00.000Z"'],
      [{ at: new Date(0), p: new Point(1, 2) }, '{"at":"1970-01-01T00:00:00.000Z","p":"1,2"}'],
      [withToJson, '"list"'],
      [bare, '{"a":1}'],
      [inherited, '{"own":2}'],
      [{ gone: undefined, kept: 1 }, '{"kept":1}'],
      [-0, "0"],
      [deep, JSON.stringify(deep)],
    ];
    for (const [value, text] of cases) expect(encodeJson(value, "payload", 1 << 20)).toBe(text);
    const sparse: unknown[] = [1];
    sparse[2] = 3;
    const message = (value: unknown) => {
      try {
        encodeJson(value, "payload", 1 << 20);
      } catch (error) {
        return (error as Error).message;
      }
      return undefined;
    };
    expect(message(sparse)).toBe("payload contains undefined in an array");
    expect(message({ a: { b: [undefined] } })).toBe("payload contains undefined in an array");
    expect(message({ a: [{ n: Number.NaN }] })).toBe("payload contains NaN");
    expect(message({ f: () => 1 })).toBe("payload contains a function, which is not JSON");
    expect(message(new Map([[1, 2]]))).toBeUndefined();
  });
});

describe("backoffDelay", () => {
  const exact: BackoffPolicy = { baseMs: 1000, factor: 2, maxMs: 10_000, jitter: 0 };

  it("grows by the factor per attempt and stops at the cap", () => {
    expect([1, 2, 3, 4, 5, 6, 20].map((n) => backoffDelay(exact, n))).toEqual([
      1000, 2000, 4000, 8000, 10_000, 10_000, 10_000,
    ]);
    expect(backoffDelay(exact, 0)).toBe(1000);
    expect(backoffDelay(exact, 1000)).toBe(10_000);
  });

  it("a factor of 1 is a fixed delay, a base of 0 no delay", () => {
    expect([1, 2, 5].map((n) => backoffDelay({ ...exact, factor: 1 }, n))).toEqual([1000, 1000, 1000]);
    expect(backoffDelay({ ...exact, baseMs: 0 }, 3)).toBe(0);
  });

  it("jitter spreads the delay within ±jitter and never past the cap", () => {
    const policy: BackoffPolicy = { baseMs: 1000, factor: 2, maxMs: 10_000, jitter: 0.2 };
    expect(backoffDelay(policy, 1, () => 0)).toBe(800);
    expect(backoffDelay(policy, 1, () => 0.5)).toBe(1000);
    expect(backoffDelay(policy, 1, () => 0.999999)).toBe(1200);
    expect(backoffDelay(policy, 3, () => 0)).toBe(3200);
    for (let attempt = 1; attempt <= 10; attempt++) {
      const raw = Math.min(10_000, 1000 * 2 ** (attempt - 1));
      for (let i = 0; i <= 100; i++) {
        const r = Math.min(i / 100, 0.999999);
        const d = backoffDelay(policy, attempt, () => r);
        expect(d).toBeGreaterThanOrEqual(Math.floor(raw * 0.8));
        expect(d).toBeLessThanOrEqual(Math.ceil(raw * 1.2));
        expect(d).toBeLessThanOrEqual(policy.maxMs);
      }
    }
  });

  it("the default policy uses Math.random and stays in bounds", () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(DEFAULT_BACKOFF, 1);
      expect(d).toBeGreaterThanOrEqual(800);
      expect(d).toBeLessThanOrEqual(1200);
    }
  });
});

describe("R-26 resolveInside keeps every resolved path inside the data directory", () => {
  const root = mkdtempSync(join(tmpdir(), "baton-paths-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** Names that must resolve (plain ids and log names). */
  const good: string[] = [
    "01JD3Z9W6K3Q8Y2V5T0N4R7M1C",
    "job.log",
    "stdout.1.log",
    "a-b_c.1",
    ".hidden",
    "a..b",
    "x".repeat(200),
    "A",
    "0",
    "_",
    "-",
    "01JD3Z9W6K3Q8Y2V5T0N4R7M1C.stderr",
  ];
  for (let i = 0; i < 26; i++) good.push(`job-${String.fromCharCode(97 + i)}-${i}.log`);

  /** Names that must be refused: traversal, separators, absolute, encoded, NUL, too long, odd characters. */
  const bad: string[] = [
    "",
    ".",
    "..",
    "../",
    "../x",
    "../../etc/passwd",
    "..\\..\\windows",
    "a/../../b",
    "a/b",
    "a\\b",
    "/",
    "/etc/passwd",
    "/tmp",
    "C:\\Windows",
    "C:",
    "\\\\server\\share",
    "~",
    "~/x",
    "$HOME",
    "%2e%2e",
    "%2e%2e%2f",
    "%2E%2E%2Fetc",
    "..%2f",
    "%2f",
    "%00",
    "..%00",
    "%252e%252e",
    "a\u0000b",
    "\u0000",
    "job.log\u0000.png",
    "x".repeat(201),
    "x".repeat(5000),
    " ",
    " job",
    "job ",
    "a b",
    "日本",
    "é",
    "😀",
    "\u202e",
    "ｆｕｌｌｗｉｄｔｈ",
    "..\u2215..",
    "\u2024\u2024",
    "．．",
    "a:b",
    "a*b",
    "a?b",
    "a|b",
    "<x>",
    '"q"',
    "'q'",
    "`id`",
    "$(touch canary)",
    "a;b",
    "a\nb",
    "a\rb",
    "a\tb",
    "line\n../..",
  ];
  // Decorate the worst ones in every position so 200+ crafted names are checked.
  const fragments = ["../", "..\\", "/", "%2e%2e%2f", "\u0000", "~/", " ", "\n"];
  for (const fragment of fragments) {
    for (const base of ["job", "01JD3Z9W6K3Q8Y2V5T0N4R7M1C", "logs.txt"]) {
      bad.push(`${fragment}${base}`, `${base}/${fragment}`, `${base}${fragment}`);
    }
  }
  bad.push(...Array.from({ length: 20 }, (_, i) => `${"../".repeat(i + 1)}etc/passwd`));
  bad.push(...Array.from({ length: 20 }, (_, i) => `x${"/..".repeat(i + 1)}`));

  it("checks at least 200 crafted names", () => {
    expect(good.length + bad.length).toBeGreaterThanOrEqual(200);
    for (const name of good) expect(bad).not.toContain(name);
  });

  function inside(path: string): boolean {
    const rel = relative(resolve(root), path);
    return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) && !rel.split(sep).includes("..");
  }

  it("accepts plain names and resolves them inside the root", () => {
    for (const name of good) {
      const single = resolveInside(root, name);
      expect(single, name).toEqual({ ok: true, path: join(resolve(root), name) });
      const nested = resolveInside(root, "logs", name);
      expect(nested.ok, name).toBe(true);
      if (nested.ok) {
        expect(inside(nested.path), name).toBe(true);
        expect(nested.path.startsWith(resolve(root) + sep)).toBe(true);
      }
      expect(pathInside(root, name)).toBe(join(resolve(root), name));
    }
  });

  it("refuses every crafted name with {ok:false, code:UNSAFE_PATH}", () => {
    for (const name of bad) {
      for (const check of [
        resolveInside(root, name),
        resolveInside(root, "logs", name),
        resolveInside(root, name, "x"),
      ]) {
        expect(check.ok, JSON.stringify(name)).toBe(false);
        if (!check.ok) {
          expect(check.code).toBe("UNSAFE_PATH");
          expect(typeof check.message).toBe("string");
        }
      }
      expect(thrownCode(() => pathInside(root, name))).toBe("UNSAFE_PATH");
    }
  });

  it("refuses an empty segment list (the root itself is not a file name)", () => {
    expect(resolveInside(root).ok).toBe(false);
  });
});
