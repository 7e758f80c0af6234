/**
 * How the CLI speaks: one JSON envelope with `--json`, readable text otherwise, errors as one line.
 */
import { urlHasSecret } from "../core/database-url.js";
import type { BatonError } from "../core/errors.js";
import { io } from "./io.js";

export interface OutputMode {
  json: boolean;
  color: boolean;
}

export function detectColor(): boolean {
  const { env, stdoutIsTTY } = io();
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return true;
  return stdoutIsTTY;
}

const codes = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1, cyan: 36 } as const;
export function paint(mode: OutputMode, color: keyof typeof codes, text: string): string {
  return mode.color ? `\u001b[${codes[color]}m${text}\u001b[0m` : text;
}

/** A word as one shell word: unchanged when it needs no quoting, else in single quotes. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/**
 * A `baton …` command line printed for the user to run next, naming the ledger this call was told
 * to use by `--database-url` (without it the copy would talk to another ledger). A URL holding a
 * password is never printed: the hint reads it from `BATON_DATABASE_URL` instead, and an unset
 * variable makes the copy fail (`--database-url` refuses an empty value) rather than pick another
 * ledger. Ledgers chosen by the environment or a config file need nothing: the copy finds them too.
 *
 * @example commandHint(`baton status ${id}`) // "baton status 01J… --database-url postgres://ci@db/ledger"
 */
export function commandHint(line: string): string {
  const url = io().databaseUrlFlag;
  if (url === undefined) return line;
  return `${line} --database-url ${urlHasSecret(url) ? '"$BATON_DATABASE_URL"' : shellWord(url)}`;
}

/** The same for each command line of an operation's `check` (what to run next, by name). */
export function checkHints(data: unknown): unknown {
  const d = data as { check?: unknown } | null;
  if (io().databaseUrlFlag === undefined || d === null || typeof d !== "object") return data;
  if (d.check === null || typeof d.check !== "object") return data;
  const check = Object.fromEntries(
    Object.entries(d.check as Record<string, unknown>).map(([k, v]) => [
      k,
      typeof v === "string" ? commandHint(v) : v,
    ]),
  );
  return { ...d, check };
}

export function printOk(mode: OutputMode, data: unknown, human: () => string): void {
  if (mode.json) {
    io().out(`${JSON.stringify({ ok: true, data })}\n`);
  } else {
    const text = human();
    if (text !== "") io().out(text.endsWith("\n") ? text : `${text}\n`);
  }
}

export function printError(mode: OutputMode, error: BatonError): void {
  if (mode.json) {
    const body: { code: string; message: string; details?: unknown } = {
      code: error.code,
      message: error.message,
    };
    if (error.details !== undefined) body.details = error.details;
    io().out(`${JSON.stringify({ ok: false, error: body })}\n`);
  } else {
    const oneLine = error.message.replace(/\s*\n\s*/g, " ");
    io().err(`baton: ${paint(mode, "red", "error")}: ${oneLine} (${error.code})\n`);
  }
}

/** East Asian Wide and Fullwidth ranges: two columns in a terminal. */
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f],
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x1f300, 0x1f64f],
  [0x1f900, 0x1f9ff],
  [0x20000, 0x3fffd],
];
const ZERO_WIDTH = /^(?:\p{Mn}|\p{Me}|\p{Cf}|\p{Cc})+$/u;
const EMOJI = /\p{Emoji_Presentation}|\p{Extended_Pictographic}\uFE0F/u;
const ANSI = /\u001b\[[0-9;]*m/g;
let graphemes: Intl.Segmenter | undefined;

function isWide(cp: number): boolean {
  for (const [lo, hi] of WIDE) if (cp >= lo && cp <= hi) return true;
  return false;
}

/** The columns one grapheme takes in a terminal: 0 (marks, joiners), 1, or 2 (CJK, emoji). */
function graphemeWidth(g: string): number {
  if (ZERO_WIDTH.test(g)) return 0;
  if (EMOJI.test(g) || isWide(g.codePointAt(0)!)) return 2;
  return 1;
}

/**
 * The width of `text` in terminal columns, not its length in UTF-16 units: a CJK character or an
 * emoji takes two columns, a combining mark none, a colour code none.
 *
 * @example displayWidth("ビルド") // 6
 */
export function displayWidth(text: string): number {
  const plain = text.replace(ANSI, "");
  if (/^[\u0020-\u007e]*$/.test(plain)) return plain.length;
  graphemes ??= new Intl.Segmenter("en", { granularity: "grapheme" });
  let width = 0;
  for (const { segment } of graphemes.segment(plain)) width += graphemeWidth(segment);
  return width;
}

/** `text` padded with spaces to `width` columns. */
export function padDisplay(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - displayWidth(text)));
}

/** `text` cut to at most `width` columns, ending in … when cut (never inside a grapheme). */
export function truncateDisplay(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  graphemes ??= new Intl.Segmenter("en", { granularity: "grapheme" });
  let out = "";
  let used = 0;
  for (const { segment } of graphemes.segment(text)) {
    const w = graphemeWidth(segment);
    if (used + w > width - 1) break;
    out += segment;
    used += w;
  }
  return `${out}…`;
}

/** The terminal's width in columns, when stdout is a terminal (else COLUMNS, else undefined). */
export function terminalWidth(): number | undefined {
  const { columns, env } = io();
  if (typeof columns === "number" && columns > 0) return columns;
  const fromEnv = Number(env.COLUMNS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : undefined;
}

/**
 * A plain table: header row, then rows; columns padded to their widest cell, in terminal columns
 * (CJK and emoji count two). With `fit`, the last column is cut to the terminal's width.
 */
export function table(headers: string[], rows: string[][], options: { fit?: boolean } = {}): string {
  if (rows.length === 0) return "";
  const widths = headers.map((h, i) =>
    Math.max(displayWidth(h), ...rows.map((r) => displayWidth(r[i] ?? ""))),
  );
  const terminal = options.fit === true ? terminalWidth() : undefined;
  const before = widths.slice(0, -1).reduce((sum, w) => sum + w + 2, 0);
  const room = terminal === undefined ? undefined : Math.max(12, terminal - before);
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i === cells.length - 1
          ? room === undefined
            ? c
            : truncateDisplay(c, room)
          : padDisplay(c, widths[i]!),
      )
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** Render any value as indented `key: value` lines (the default human output). */
export function keyValues(value: unknown, indent = ""): string {
  if (value === null || typeof value !== "object") return `${indent}${String(value)}`;
  if (Array.isArray(value)) {
    if (value.length === 0) return `${indent}(none)`;
    return value
      .map((item) =>
        item !== null && typeof item === "object"
          ? `${indent}- ${keyValues(item, `${indent}  `).trimStart()}`
          : `${indent}- ${String(item)}`,
      )
      .join("\n");
  }
  return Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => {
      if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0) {
        return `${indent}${k}: (none)`; // not a key followed by an empty line
      }
      if (
        v !== null &&
        typeof v === "object" &&
        !(Array.isArray(v) && v.every((x) => typeof x !== "object"))
      ) {
        const inner = keyValues(v, `${indent}  `);
        return `${indent}${k}:\n${inner}`;
      }
      return `${indent}${k}: ${Array.isArray(v) ? (v.length === 0 ? "(none)" : v.join(", ")) : typeof v === "string" ? v : JSON.stringify(v)}`;
    })
    .join("\n");
}
