/**
 * Comment-preserving edits of JSON / JSONC config files (VS Code, Zed and others allow comments and
 * trailing commas). `jsonc-parser` finds where things are; new members are then inserted as text
 * right after the last existing member, indented like their neighbours, so every other byte of the
 * file (keys, comments, blank lines, the user's own formatting) stays as it was.
 */
import type { FormattingOptions, JSONPath, Node, ParseError } from "jsonc-parser";
import * as parser from "jsonc-parser";

// jsonc-parser's CommonJS entry is UMD: Node sees its exports only as the default export, while the
// CLI bundle (which uses the package's ES module build) sees them as named exports.
const jsonc = (Reflect.get(parser, "default") as typeof parser | undefined) ?? parser;
import { BatonError } from "../core/errors.js";

/** Indentation and line ends of the existing text, so inserted lines look like their neighbours. */
export function formattingOf(text: string): FormattingOptions {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const indent = /\n([ \t]+)["/]/.exec(text)?.[1];
  if (indent !== undefined && indent.startsWith("\t")) return { insertSpaces: false, tabSize: 1, eol };
  return { insertSpaces: true, tabSize: indent === undefined ? 2 : Math.min(indent.length, 8), eol };
}

function unitOf(options: FormattingOptions): string {
  return options.insertSpaces ? " ".repeat(options.tabSize ?? 2) : "\t";
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * `text` with a leading UTF-8 byte-order mark turned into a space: the same length, so every offset
 * the parser reports applies to `text` itself, whose mark is kept when it is edited.
 */
export function withoutBom(text: string): string {
  return text.startsWith("\uFEFF") ? ` ${text.slice(1)}` : text;
}

/** Parse `text`, refusing (never clobbering) a file that is not a valid JSONC object. */
function parseStrict(path: string, text: string): Node | undefined {
  const errors: ParseError[] = [];
  const root = jsonc.parseTree(withoutBom(text), errors, {
    allowTrailingComma: true,
    disallowComments: false,
  });
  if (errors.length > 0 || (root !== undefined && root.type !== "object")) {
    const first = errors[0];
    const where =
      first === undefined ? "" : ` at offset ${first.offset} (${jsonc.printParseErrorCode(first.error)})`;
    throw new BatonError(
      "INVALID_INPUT",
      `${path} is not a valid JSON object${where}: fix it by hand (nothing was changed)`,
      {
        details: { path },
      },
    );
  }
  return root;
}

/** The value at `location` in `text`, or undefined. */
export function valueAt(path: string, text: string, location: JSONPath): unknown {
  const root = parseStrict(path, text);
  if (root === undefined) return undefined;
  const node = jsonc.findNodeAtLocation(root, location);
  return node === undefined ? undefined : jsonc.getNodeValue(node);
}

/** The whitespace that starts the line holding `offset`. */
function lineIndent(text: string, offset: number): string {
  const start = text.lastIndexOf("\n", offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(start))![0];
}

/** Indented JSON, with short arrays of plain values kept on one line (`"args": ["mcp"]`). */
function stringify(value: unknown, unit: string, indent: string): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const flat = `[${value.map((v) => JSON.stringify(v)).join(", ")}]`;
    if (value.every((v) => v === null || typeof v !== "object") && flat.length <= 80) return flat;
    const inner = indent + unit;
    return `[\n${value.map((v) => inner + stringify(v, unit, inner)).join(",\n")}\n${indent}]`;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return "{}";
    const inner = indent + unit;
    return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${stringify(v, unit, inner)}`).join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** `value` as JSON on one line, with a space after each `:` and `,` when `spaced`. */
function oneLine(value: unknown, spaced: boolean): string {
  const gap = spaced ? " " : "";
  if (Array.isArray(value)) return `[${value.map((v) => oneLine(v, spaced)).join(`,${gap}`)}]`;
  if (value !== null && typeof value === "object")
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${gap}${oneLine(v, spaced)}`)
      .join(`,${gap}`)}}`;
  return JSON.stringify(value);
}

/** `value` as indented JSON whose continuation lines start with `indent`. */
function pretty(value: unknown, indent: string, options: FormattingOptions): string {
  return stringify(value, unitOf(options), "").split("\n").join(`${options.eol}${indent}`);
}

/** Insert a member (a property of an object, or an element appended to an array) as text. */
function insertMember(text: string, container: Node, key: string | undefined, value: unknown): string {
  const options = formattingOf(text);
  const eol = options.eol!;
  const containerIndent = lineIndent(text, container.offset);
  const children = container.children ?? [];
  const first = children[0];
  const firstOnOwnLine =
    first !== undefined &&
    text.slice(text.lastIndexOf("\n", first.offset - 1) + 1, first.offset).trim() === "";
  const indent =
    first !== undefined && firstOnOwnLine
      ? lineIndent(text, first.offset)
      : containerIndent + unitOf(options);
  const member = `${key === undefined ? "" : `${JSON.stringify(key)}: `}${pretty(value, indent, options)}`;
  const last = children[children.length - 1];
  const span = text.slice(container.offset, container.offset + container.length);
  if (last !== undefined && !span.includes("\n")) {
    // An object or array written on one line (`{"mcpServers": {"x": {…}}}`) stays on one line.
    const at = last.offset + last.length;
    const spaced = /[:,] /.test(span);
    const inline = `${key === undefined ? "" : `${JSON.stringify(key)}:${spaced ? " " : ""}`}${oneLine(value, spaced)}`;
    return `${text.slice(0, at)},${spaced ? " " : ""}${inline}${text.slice(at)}`;
  }
  if (last !== undefined) {
    const at = last.offset + last.length;
    const lineEnd = text.indexOf("\n", at) === -1 ? text.length : text.indexOf("\n", at);
    const restOfLine = text.slice(at, lineEnd).replace(/\r$/, "");
    const tail = /^\s*(,)?\s*(\/\/.*|\/\*.*\*\/\s*)?$/.exec(restOfLine);
    if (tail === null) return `${text.slice(0, at)},${eol}${indent}${member}${text.slice(at)}`;
    // Keep a comment on the last member's line with it, and a trailing comma style as it was.
    const end = at + restOfLine.length;
    const head = tail[1] === "," ? text.slice(0, end) : `${text.slice(0, at)},${text.slice(at, end)}`;
    return `${head}${eol}${indent}${member}${tail[1] === "," ? "," : ""}${text.slice(end)}`;
  }
  const inner = text.slice(container.offset + 1, container.offset + container.length - 1);
  const open = text[container.offset]!;
  const close = text[container.offset + container.length - 1]!;
  const body = inner.trim() === "" ? "" : inner.trimEnd();
  return (
    text.slice(0, container.offset) +
    `${open}${body}${eol}${indent}${member}${eol}${containerIndent}${close}` +
    text.slice(container.offset + container.length)
  );
}

/** Wrap `value` in the objects named by `keys`: (["a","b"], 1) → {a:{b:1}}. */
function nest(keys: JSONPath, value: unknown): unknown {
  return keys.reduceRight<unknown>(
    (inner, key) => (typeof key === "number" ? [inner] : { [key]: inner }),
    value,
  );
}

/**
 * Set the value at `location`, creating missing objects on the way. Replacing an existing value
 * rewrites only that value's bytes; a new member is inserted after its last sibling.
 */
export function setAt(path: string, text: string | null, location: JSONPath, value: unknown): string {
  if (text === null || text.trim() === "") {
    const options = formattingOf("");
    return `${pretty(nest(location, value), "", options)}${options.eol}`;
  }
  const root = parseStrict(path, text);
  if (root === undefined)
    return `${pretty(nest(location, value), "", formattingOf(text))}${formattingOf(text).eol}`;
  let node: Node = root;
  let depth = 0;
  while (depth < location.length) {
    const segment = location[depth]!;
    if (segment === -1) break;
    const child = jsonc.findNodeAtLocation(node, [segment]);
    if (child === undefined) break;
    node = child;
    depth++;
  }
  if (depth === location.length) {
    const edits = jsonc.modify(withoutBom(text), location, value, { formattingOptions: formattingOf(text) });
    return jsonc.applyEdits(text, edits);
  }
  const segment = location[depth]!;
  const rest = location.slice(depth + 1);
  if (node.type === "object" && typeof segment === "string")
    return insertMember(text, node, segment, nest(rest, value));
  if (node.type === "array" && segment === -1) return insertMember(text, node, undefined, nest(rest, value));
  // Something else stands where a container should be (null, a string…): replace it whole.
  const edits = jsonc.modify(withoutBom(text), location.slice(0, depth), nest(location.slice(depth), value), {
    formattingOptions: formattingOf(text),
  });
  return jsonc.applyEdits(text, edits);
}

/**
 * Make the object at `location` hold `entry`'s keys (`location` names it, e.g. `["mcpServers",
 * "baton"]`). Keys of an existing entry that baton does not set (an `env`, `disabled`
 * the user added) are kept; a key already holding the wanted value is not touched.
 */
export function upsertObject(
  path: string,
  text: string | null,
  location: JSONPath,
  entry: Record<string, unknown>,
): string {
  if (text === null || text.trim() === "") return setAt(path, text, location, entry);
  const current = valueAt(path, text, location);
  if (current === undefined || current === null || typeof current !== "object" || Array.isArray(current)) {
    return setAt(path, text, location, entry);
  }
  let out = text;
  for (const [key, value] of Object.entries(entry)) {
    const existing = (current as Record<string, unknown>)[key];
    // An object (Zed's `env`) is merged key by key: the user's own keys in it stay.
    if (isPlainObject(value) && isPlainObject(existing))
      out = upsertObject(path, out, [...location, key], value);
    else if (!deepEqual(existing, value)) out = setAt(path, out, [...location, key], value);
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

const KIND: Partial<Record<Node["type"], string>> = {
  array: "an array",
  string: "a string",
  number: "a number",
  boolean: "a boolean",
  null: "null",
};

/**
 * Refuse a file where an edit at `location` (e.g. `["mcpServers", "baton"]`) would not do what it
 * says: a key on the way given twice (a host reads the last, an edit would change the first), or a
 * value on the way (the entry itself included) that is not an object, which an edit would replace.
 */
export function checkLocation(path: string, text: string | null, location: readonly string[]): void {
  if (text === null || text.trim() === "") return;
  let node = parseStrict(path, text);
  const lineOf = (offset: number) => text.slice(0, offset).split("\n").length;
  const refuse = (message: string) => {
    throw new BatonError("INVALID_INPUT", `${path}: ${message}: fix it by hand (nothing was changed)`, {
      details: { path, location: [...location] },
    });
  };
  for (let depth = 0; node !== undefined; depth++) {
    const here = location.slice(0, depth).join(".");
    if (node.type !== "object") refuse(`"${here}" is ${KIND[node.type] ?? node.type}, not an object`);
    const members = (node.children ?? []).filter((p) => p.children?.[0] !== undefined);
    const seen = new Map<string, number>();
    for (const member of members) {
      const key = member.children![0]!.value as string;
      const before = seen.get(key);
      // Every key of the entry itself, and the one key on the way to it, must be given once.
      if (before !== undefined && (depth === location.length || key === location[depth]))
        refuse(
          `"${[...location.slice(0, depth), key].join(".")}" is given twice (lines ${lineOf(before)} and ${lineOf(member.offset)}; hosts read the last)`,
        );
      seen.set(key, member.offset);
    }
    if (depth === location.length) return;
    const next = members.find((m) => m.children![0]!.value === location[depth]);
    node = next?.children?.[1];
  }
}

/** Replace the array element matching `match`, or append `value` to the array at `location`. */
export function upsertArrayElement(
  path: string,
  text: string | null,
  location: JSONPath,
  value: unknown,
  match: (element: unknown) => boolean,
): string {
  const current = text === null || text.trim() === "" ? undefined : valueAt(path, text, location);
  if (!Array.isArray(current)) return setAt(path, text, location, [value]);
  const index = current.findIndex(match);
  if (index === -1) return setAt(path, text, [...location, -1], value);
  return deepEqual(current[index], value) ? text! : setAt(path, text, [...location, index], value);
}
