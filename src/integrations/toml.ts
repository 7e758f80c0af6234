/**
 * A careful, section-level upsert for TOML config files (OpenAI Codex's `~/.codex/config.toml`).
 * Not a TOML parser: it finds the table `[<table>]` by its header line and sets the given keys
 * inside it, line by line, so every other table, key, comment and blank line is left byte for byte.
 * Also handles the entry written inline under its parent (`[mcp_servers]` … `baton = { … }`), keeping
 * every key of that inline table.
 */
import { BatonError } from "../core/errors.js";

/** What baton writes into a TOML table: strings, arrays of strings, and tables of strings (`env`). */
export type TomlValue = string | readonly string[] | TomlTable;

/** A table of strings; a key set to null is removed (a ledger variable the installer no longer has). */
export type TomlTable = Readonly<Record<string, string | null>>;

/**
 * What to set a key to: a value, null to remove the key, or a function of the key's current text
 * (undefined when it has none) returning either, or undefined to keep the key as it is.
 */
export type TomlEdit = TomlValue | null | ((current: string | undefined) => TomlValue | null | undefined);

/** Reports a key of the entry whose value this edit changes (`after` undefined: removed). */
export type Changed = (key: string, before: string, after: string | undefined) => void;

/** The strings of a TOML array of basic strings (`["A", "B",]`), or undefined for other text. */
export function stringArray(raw: string): string[] | undefined {
  try {
    const value = JSON.parse(raw.trim().replace(/,\s*\]$/, "]")) as unknown;
    return Array.isArray(value) && value.every((v) => typeof v === "string") ? value : undefined;
  } catch {
    return undefined;
  }
}

/** An edit's value given the key's current text. */
function resolveEdit(edit: TomlEdit, current: string | undefined): TomlValue | null | undefined {
  return typeof edit === "function" ? edit(current) : edit;
}

/** A table whose every key is to be removed: nothing to add when the file has no such table. */
const onlyRemovals = (value: TomlValue): boolean =>
  isTable(value) && Object.values(value).every((v) => v === null);

/**
 * A TOML value for strings, arrays of strings and tables of strings (written inline); JSON's string
 * escapes are valid TOML escapes.
 */
export function tomlValue(value: TomlValue): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (isArray(value)) return `[${value.map((v) => JSON.stringify(v)).join(", ")}]`;
  const pairs = Object.entries(value)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${tableName([k])} = ${JSON.stringify(v)}`);
  return pairs.length === 0 ? "{}" : `{ ${pairs.join(", ")} }`;
}

function isArray(value: TomlValue): value is readonly string[] {
  return Array.isArray(value);
}

function isTable(value: TomlValue): value is TomlTable {
  return typeof value !== "string" && !Array.isArray(value);
}

/** A bare or quoted TOML key as its name. */
function keyName(raw: string): string {
  const key = raw.trim();
  if (key.startsWith('"')) return JSON.parse(key) as string;
  if (key.startsWith("'")) return key.slice(1, -1);
  return key;
}

/** One `key = value` of an inline table: the key's name, and the key and value as written. */
export interface InlinePair {
  name: string;
  key: string;
  value: string;
}

/**
 * The top-level `key = value` pairs of an inline table `{ … }`, each value as its raw text, or
 * undefined when `text` is not one. Strings, arrays and nested inline tables are skipped over, so
 * `env = { A = "1, 2" }` stays one pair.
 */
export function inlineTablePairs(text: string): InlinePair[] | undefined {
  const body = text.trim();
  if (!body.startsWith("{") || !body.endsWith("}")) return undefined;
  const pairs: InlinePair[] = [];
  let depth = 0;
  let start = 1;
  const take = (end: number): boolean => {
    const part = body.slice(start, end).trim();
    start = end + 1;
    if (part === "") return true;
    const m = /^("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=\s*([\s\S]+)$/.exec(part);
    if (m === null) return false;
    pairs.push({ name: keyName(m[1]!), key: m[1]!, value: m[2]!.trim() });
    return true;
  };
  let bad = false;
  let closed = false;
  const stopped = outsideStrings(body, 1, (ch, c) => {
    if (ch === "[" || ch === "{") depth++;
    else if ((ch === "]" || ch === "}") && depth > 0) depth--;
    else if ((ch === "," && depth === 0) || (ch === "}" && depth === 0 && c === body.length - 1)) {
      bad = !take(c);
      closed = c === body.length - 1;
    }
    return bad;
  });
  // Not closed: the final brace was inside an unterminated string.
  return closed && stopped === -1 && !bad ? pairs : undefined;
}

/**
 * Call `visit` for each character of `text` from `from` that is outside a string; stop when it
 * returns true. The index it stopped at, or -1 at the end (also when the text ends inside a string,
 * which `visit` can tell by never seeing the closing characters).
 */
function outsideStrings(text: string, from: number, visit: (ch: string, at: number) => boolean): number {
  let inString: string | null = null;
  for (let c = from; c < text.length; c++) {
    const ch = text[c]!;
    if (inString !== null) {
      if (ch === "\\" && inString === '"') c++;
      else if (ch === inString) inString = null;
    } else if (ch === '"' || ch === "'") inString = ch;
    else if (visit(ch, c)) return c;
  }
  return -1;
}

/**
 * `entries` merged into the inline table `raw`: baton's keys get baton's values (a table value is
 * merged key by key), every other key keeps its own text, in its place.
 */
function mergeInline(
  raw: string | undefined,
  entries: Readonly<Record<string, TomlEdit>>,
  changed: Changed = () => {},
): string {
  const pairs = raw === undefined ? [] : inlineTablePairs(raw);
  if (pairs === undefined) {
    throw new BatonError(
      "INVALID_INPUT",
      `cannot read the inline table ${raw!.trim().slice(0, 80)}: edit it by hand (nothing was changed)`,
    );
  }
  for (const [name, edit] of Object.entries(entries)) {
    const at = pairs.findIndex((p) => p.name === name);
    const existing = at === -1 ? undefined : pairs[at]!;
    const value = resolveEdit(edit, existing?.value);
    if (value === undefined) continue;
    if (value === null) {
      if (existing !== undefined) {
        changed(name, oneLine(existing.value), undefined);
        pairs.splice(at, 1);
      }
      continue;
    }
    if (existing === undefined && onlyRemovals(value)) continue;
    const text = isTable(value)
      ? mergeInline(existing?.value, value, (k, b, a) => changed(`${name}.${k}`, b, a))
      : tomlValue(value);
    if (existing === undefined) pairs.push({ name, key: tableName([name]), value: text });
    else {
      if (!isTable(value) && !sameValue(existing.value, text)) changed(name, oneLine(existing.value), text);
      existing.value = text;
    }
  }
  return pairs.length === 0 ? "{}" : `{ ${pairs.map((p) => `${p.key} = ${p.value}`).join(", ")} }`;
}

/** A value's text on one line, for a message. */
const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, " ");

/**
 * Whether the TOML text `a` says what baton's rendering `b` says: the same text, or the same
 * strings written differently (`[\n  "mcp",\n]` and `["mcp"]`; basic strings read as JSON).
 */
function sameValue(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return JSON.stringify(JSON.parse(a.replace(/,\s*\]$/, "]"))) === JSON.stringify(JSON.parse(b));
  } catch {
    return false;
  }
}

/** `a.b` with each part bare when it may be, quoted otherwise. */
function tableName(parts: readonly string[]): string {
  return parts.map((p) => (/^[A-Za-z0-9_-]+$/.test(p) ? p : JSON.stringify(p))).join(".");
}

/** The dotted name of a `[table]` header line (quotes removed), or undefined for other lines. */
function headerOf(line: string): string[] | undefined {
  const m = /^\s*\[(?!\[)\s*(.+?)\s*\](?!\])\s*(#.*)?$/.exec(line);
  if (m === null) return undefined;
  const body = m[1]!;
  const part = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(\.|$)/y;
  const parts: string[] = [];
  for (let pos = 0; ;) {
    part.lastIndex = pos;
    const match = part.exec(body);
    if (match === null) return undefined;
    parts.push(match[1] !== undefined ? (JSON.parse(`"${match[1]}"`) as string) : (match[2] ?? match[3]!));
    if (match[4] === "") return parts;
    pos = part.lastIndex;
  }
}

const isTableLine = (line: string): boolean => /^\s*\[/.test(line);

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");

/**
 * The lines of a TOML text read the way TOML reads them: for each line, whether it starts inside a
 * value begun on an earlier line (a multi-line string `"""`/`'''`, array or inline table), and where
 * its `# comment` starts. A `[table]` or `key =` inside a multi-line string is text, not TOML (F1).
 */
function lexLines(lines: readonly string[]): { inside: boolean[]; comment: (number | undefined)[] } {
  const inside: boolean[] = [];
  const comment: (number | undefined)[] = [];
  let quote: string | null = null;
  let depth = 0;
  for (const line of lines) {
    if (quote?.length === 1) quote = null; // a one-line string does not continue
    inside.push(quote !== null || depth > 0);
    comment.push(undefined);
    const header = !inside[inside.length - 1]! && isTableLine(line);
    for (let c = 0; c < line.length; c++) {
      const ch = line[c]!;
      if (quote !== null) {
        if (ch === "\\" && quote[0] === '"') c++;
        else if (line.startsWith(quote, c)) {
          // A closing `"""` may follow up to two quotes that belong to the string.
          let n = quote.length;
          while (quote.length === 3 && n < 5 && line[c + n] === quote[0]) n++;
          c += n - 1;
          quote = null;
        }
      } else if (line.startsWith('"""', c) || line.startsWith("'''", c)) {
        quote = line.slice(c, c + 3);
        c += 2;
      } else if (ch === '"' || ch === "'") quote = ch;
      else if (ch === "#") {
        comment[comment.length - 1] = c;
        break;
      } else if (header) continue;
      else if (ch === "[" || ch === "{") depth++;
      else if ((ch === "]" || ch === "}") && depth > 0) depth--;
    }
  }
  return { inside, comment };
}

/** The text of `count` lines from `start` (which starts a key or table) without their comments. */
function withoutComments(lines: readonly string[], start: number, count = 1): string {
  const part = lines.slice(start, start + count);
  const { comment } = lexLines(part);
  return part.map((l, i) => (comment[i] === undefined ? l : l.slice(0, comment[i]).trimEnd())).join("\n");
}

/** A line without its trailing `# comment` (a `#` inside a string is not a comment). */
const withoutComment = (line: string): string => withoutComments([line], 0);

/** For each line, whether it is a `[table]` header: not a line inside a multi-line value. */
function tableLines(lines: readonly string[]): boolean[] {
  const { inside } = lexLines(lines);
  return lines.map((l, i) => !inside[i] && isTableLine(l));
}

/** The header of each `[table]` line (undefined for other lines, and for lines inside a value). */
function headers(lines: readonly string[]): (string[] | undefined)[] {
  const tables = tableLines(lines);
  return lines.map((l, i) => (tables[i] ? headerOf(l) : undefined));
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** How many lines a `key = value` starting at `start` spans (a multi-line array or string). */
function valueSpan(lines: readonly string[], start: number): number {
  const { inside } = lexLines(lines);
  let end = start + 1;
  while (end < lines.length && inside[end]) end++;
  return end - start;
}

const SCALAR = [
  /^"(?:[^"\\\n]|\\.)*"$/,
  /^'[^'\n]*'$/,
  /^("""|''')[\s\S]*\1$/,
  /^(?:true|false)$/,
  /^[+-]?(?:0x[0-9A-Fa-f](?:_?[0-9A-Fa-f])*|0o[0-7](?:_?[0-7])*|0b[01](?:_?[01])*|inf|nan|(?:0|[1-9](?:_?\d)*)(?:\.\d(?:_?\d)*)?(?:[eE][+-]?\d(?:_?\d)*)?)$/,
  /^(?:\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})?)?|\d{2}:\d{2}:\d{2}(?:\.\d+)?)$/,
];

/** Whether `raw` (comments removed) reads as one TOML value: a string, number, boolean, date, array or inline table. */
export function isTomlValue(raw: string): boolean {
  const text = raw.trim();
  if (SCALAR.some((re) => re.test(text))) return true;
  if (text.startsWith("{")) return inlineTablePairs(text)?.every((p) => isTomlValue(p.value)) ?? false;
  if (!text.startsWith("[") || !text.endsWith("]")) return false;
  const elements: string[] = [];
  let depth = 0;
  let from = 1;
  const stopped = outsideStrings(text, 1, (ch, at) => {
    if (ch === "[" || ch === "{") depth++;
    else if ((ch === "]" || ch === "}") && depth > 0) depth--;
    else if ((ch === "," && depth === 0) || (ch === "]" && depth === 0 && at === text.length - 1)) {
      elements.push(text.slice(from, at));
      from = at + 1;
    } else if (ch === "]" && depth === 0) return true;
    return false;
  });
  if (stopped !== -1 || from !== text.length) return false;
  // A trailing comma leaves one empty last element; an empty array is `[]`.
  if (elements.length > 0 && elements[elements.length - 1]!.trim() === "") elements.pop();
  return elements.every((e) => e.trim() !== "" && isTomlValue(e));
}

const KEY_PART = `(?:"(?:[^"\\\\]|\\\\.)*"|'[^']*'|[A-Za-z0-9_-]+)`;
const KEY_LINE = new RegExp(`^\\s*(${KEY_PART}(?:\\s*\\.\\s*${KEY_PART})*)\\s*=`);

function refuse(message: string): never {
  throw new BatonError("INVALID_INPUT", `${message}: edit it by hand (nothing was changed)`);
}

/**
 * Refuse a file that defines the table `table` in a way the upsert cannot edit: by dotted keys
 * (`mcp_servers.baton.command = …` at the top, `baton.command = …` under `[mcp_servers]`), inside an
 * inline parent (`mcp_servers = { baton = … }`), or with a dotted key under one of the `keys` baton
 * sets (`env.A = …`, where baton would add `env = …`). Adding `[mcp_servers.baton]` there would define
 * it twice, which Codex refuses. Also refuse a value in the entry that is not TOML (`A = 1 + 2`).
 */
function checkTomlTable(lines: readonly string[], table: readonly string[], keys: readonly string[]): void {
  const parent = table.slice(0, -1);
  const startsWith = (full: readonly string[], prefix: readonly string[]) =>
    full.length >= prefix.length && same(full.slice(0, prefix.length), prefix);
  let current: string[] = [];
  const tables = tableLines(lines);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (tables[i]) {
      current = headerOf(line.replace(/^(\s*)\[\[(.*)\]\]/, "$1[$2]")) ?? [];
      if (/^\s*\[\[/.test(line) && startsWith(table, current))
        refuse(
          `line ${i + 1} (\`${line.trim().slice(0, 60)}\`) makes ${tableName(current)} an array of tables, which is not a server entry baton can edit; write one [${tableName(table)}] table`,
        );
      continue;
    }
    const m = KEY_LINE.exec(line);
    if (m === null) continue;
    const span = valueSpan(lines, i);
    const parts = (m[1]!.match(new RegExp(KEY_PART, "g")) ?? []).map(keyName);
    const full = [...current, ...parts];
    const where = `line ${i + 1} (\`${line.trim().slice(0, 60)}\`)`;
    const value = withoutComments(lines, i, span);
    i += span - 1;
    const inEntry = startsWith(full, table);
    if (same(current, table) && parts.length > 1 && keys.includes(parts[0]!))
      refuse(`${where} sets ${tableName(full)} by a dotted key, beside the \`${parts[0]}\` baton writes`);
    const handled =
      (same(current, table) && parts.length === 1) ||
      (same(current, parent) && parts.length === 1 && parts[0] === table[table.length - 1]) ||
      (current.length > table.length && startsWith(current, table));
    // `mcp_servers = { docs = … }`: baton is not in it, but a [mcp_servers.baton] table cannot be added.
    const inlineParent =
      full.length < table.length &&
      startsWith(table, full) &&
      !(
        inlineTablePairs(value.slice(value.indexOf("=") + 1))?.some((p) => p.name === table[full.length]) ??
        false
      );
    if (!handled && inlineParent)
      refuse(
        `${where} defines ${tableName(full)} as one value (an inline table or a dotted key), which TOML does not let baton add a [${tableName(table)}] table to; write ${tableName(full)}'s entries as [${tableName(full)}.<name>] tables`,
      );
    if (!handled && (inEntry || startsWith(table, full)))
      refuse(
        `${where} defines ${tableName(table)} by dotted keys or inside an inline table, which baton does not edit; write it as a [${tableName(table)}] table`,
      );
    if (inEntry && !isTomlValue(value.slice(value.indexOf("=") + 1)))
      refuse(`${where} is not a TOML value baton can read`);
  }
}

/**
 * Set `entries` in the table named `table` (e.g. `["mcp_servers", "baton"]`), creating the table at
 * the end of the file when it does not exist. Keys of the table that are not in `entries` are kept.
 */
export function upsertTomlTable(
  text: string | null,
  table: readonly string[],
  entries: Readonly<Record<string, TomlEdit>>,
  changed: Changed = () => {},
): string {
  const source = text ?? "";
  const eol = source.includes("\r\n") ? "\r\n" : "\n";
  const lines = source === "" ? [] : source.split(/\r?\n/);
  const trailingNewline = lines.length > 0 && lines[lines.length - 1] === "";
  if (trailingNewline) lines.pop();
  const finish = (out: string[]) => out.join(eol) + eol;
  checkTomlTable(lines, table, Object.keys(entries));

  const start = headers(lines).findIndex((h) => h !== undefined && same(h, table));

  if (start === -1) {
    // The entry may be inline in its parent table: `[mcp_servers]` … `baton = { command = … }`.
    const parent = table.slice(0, -1);
    const key = table[table.length - 1]!;
    const parentStart = headers(lines).findIndex((h) => h !== undefined && same(h, parent));
    if (parentStart !== -1) {
      const keyPattern = new RegExp(`^\\s*(${escape(key)}|"${escape(key)}")\\s*=`);
      const tables = tableLines(lines);
      const { inside } = lexLines(lines);
      for (let i = parentStart + 1; i < lines.length && !tables[i]; i++) {
        if (!inside[i] && keyPattern.test(lines[i]!)) {
          const span = valueSpan(lines, i);
          // Every key of the user's inline table is kept; baton's keys get baton's values.
          const current = withoutComments(lines, i, span);
          const inline = `${tableName([key])} = ${mergeInline(current.slice(current.indexOf("=") + 1), entries, changed)}`;
          const comment = span === 1 ? lines[i]!.slice(withoutComment(lines[i]!).length) : "";
          if (span === 1 && withoutComment(lines[i]!).trim() === inline) return finish(lines);
          lines.splice(i, span, `${inline}${comment}`);
          return finish(lines);
        }
      }
    }
    const block = [
      `[${tableName(table)}]`,
      ...Object.entries(entries).flatMap(([k, edit]) => {
        const v = resolveEdit(edit, undefined);
        return v === undefined || v === null || onlyRemovals(v) ? [] : [`${k} = ${tomlValue(v)}`];
      }),
    ];
    const out = [...lines];
    // Next to its siblings (after the last `[mcp_servers.*]` table) when there are any, else at the end.
    let lastSibling = -1;
    headers(out).forEach((h, i) => {
      if (h !== undefined && h.length > parent.length && same(h.slice(0, parent.length), parent))
        lastSibling = i;
    });
    if (lastSibling !== -1) {
      const tables = tableLines(out);
      let end = lastSibling + 1;
      while (end < out.length && !tables[end]) end++;
      // Blank lines and comments before the next table belong to it.
      while (end > lastSibling + 1 && (out[end - 1]!.trim() === "" || out[end - 1]!.trim().startsWith("#")))
        end--;
      const after = end < out.length && out[end]!.trim() !== "" ? [""] : [];
      out.splice(end, 0, "", ...block, ...after);
      return finish(out);
    }
    if (out.length > 0 && out[out.length - 1]!.trim() !== "") out.push("");
    out.push(...block);
    return finish(out);
  }

  const tables = tableLines(lines);
  let end = start + 1;
  while (end < lines.length && !tables[end]) end++;
  let out = [...lines];
  for (const [key, edit] of Object.entries(entries)) {
    const prefixed: Changed = (k, b, a) => changed(`${key}.${k}`, b, a);
    const pattern = new RegExp(`^(\\s*)(${escape(key)}|"${escape(key)}")\\s*=`);
    let found = -1;
    const { inside } = lexLines(out);
    for (let i = start + 1; i < end && found === -1; i++) if (!inside[i] && pattern.test(out[i]!)) found = i;
    const currentText = found === -1 ? undefined : withoutComments(out, found, valueSpan(out, found));
    const current =
      currentText === undefined ? undefined : currentText.slice(currentText.indexOf("=") + 1).trim();
    const value = resolveEdit(edit, current);
    if (value === undefined) continue;
    if (value === null) {
      if (found !== -1) {
        const span = valueSpan(out, found);
        changed(key, oneLine(current!), undefined);
        out.splice(found, span);
        end -= span;
      } else {
        // Written as its own sub-table (`[mcp_servers.baton.http_headers]`): that section goes.
        const removed = removeSubTable(out, [...table, key], end);
        if (removed !== undefined) changed(key, removed, undefined);
      }
      continue;
    }
    if (isTable(value)) {
      // A table value (`env`) goes into its sub-table `[<table>.env]` when the file has one, else it
      // is merged into the inline `env = { … }` line, whose other keys are kept.
      const sub = headers(out).findIndex((h) => h !== undefined && same(h, [...table, key]));
      if (sub !== -1) {
        out = upsertTomlTable(finish(out), [...table, key], value, prefixed).split(/\r?\n/);
        if (out[out.length - 1] === "") out.pop();
        continue;
      }
      if (found === -1 && onlyRemovals(value)) continue;
    }
    const rendered = isTable(value) ? mergeInline(current, value, prefixed) : tomlValue(value);
    const wanted = `${key} = ${rendered}`;
    if (found === -1) {
      // After the table's last key line, before the blank lines and comments that end it.
      let last = start;
      for (let i = start + 1; i < end; i++) {
        if (!inside[i] && /^\s*[A-Za-z0-9_"'-]+\s*=/.test(out[i]!)) {
          last = i + valueSpan(out, i) - 1;
          i = last;
        }
      }
      out.splice(last + 1, 0, wanted);
      end++;
      continue;
    }
    const span = valueSpan(out, found);
    const indent = pattern.exec(out[found]!)![1]!;
    if (span === 1 && withoutComment(out[found]!).trim() === wanted) continue;
    const old = currentText!.slice(currentText!.indexOf("=") + 1).trim();
    if (!isTable(value) && !sameValue(old, rendered)) changed(key, oneLine(old), rendered);
    out.splice(found, span, `${indent}${wanted}`);
    end -= span - 1;
  }
  return finish(out);
}

/**
 * Remove the section of sub-table `name` and of its own sub-tables, found at or after line `from`
 * (past its parent's keys); its lines joined as the old value, or undefined when there is none.
 */
function removeSubTable(lines: string[], name: readonly string[], from: number): string | undefined {
  const found = headers(lines);
  const at = found.findIndex((h, i) => i >= from && h !== undefined && same(h, name));
  if (at === -1) return undefined;
  let next = at + 1;
  while (next < lines.length) {
    const h = found[next];
    if (h !== undefined && !(h.length > name.length && same(h.slice(0, name.length), name))) break;
    next++;
  }
  // The blank lines before the next table stay as its separation.
  while (next > at + 1 && lines[next - 1]!.trim() === "") next--;
  const old = lines.slice(at, next).join(" ");
  const before = at > 0 && lines[at - 1]!.trim() === "" ? 1 : 0;
  lines.splice(at - before, next - at + before);
  return old;
}
