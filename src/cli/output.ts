/**
 * How the CLI speaks: one JSON envelope with `--json`, readable text otherwise, errors as one line.
 */
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

/** A plain table: header row, then rows; columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  if (rows.length === 0) return "";
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
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
