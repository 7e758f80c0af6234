/**
 * A careful, section-level upsert for TOML config files (OpenAI Codex's `~/.codex/config.toml`).
 * Not a TOML parser: it finds the table `[<table>]` by its header line and sets the given keys
 * inside it, line by line, so every other table, key, comment and blank line is left byte for byte.
 * Also handles the entry written inline under its parent (`[mcp_servers]` … `baton = { … }`).
 */

/** A TOML value for strings and arrays of strings (JSON's string escapes are valid TOML escapes). */
export function tomlValue(value: string | readonly string[]): string {
  return typeof value === "string"
    ? JSON.stringify(value)
    : `[${value.map((v) => JSON.stringify(v)).join(", ")}]`;
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

/** A line without its trailing `# comment` (a `#` inside a string is not a comment). */
function withoutComment(line: string): string {
  let inString: string | null = null;
  for (let c = 0; c < line.length; c++) {
    const ch = line[c]!;
    if (inString !== null) {
      if (ch === "\\" && inString === '"') c++;
      else if (ch === inString) inString = null;
    } else if (ch === '"' || ch === "'") inString = ch;
    else if (ch === "#") return line.slice(0, c).trimEnd();
  }
  return line;
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** How many lines a `key = value` starting at `start` spans (a multi-line array or string). */
function valueSpan(lines: readonly string[], start: number): number {
  const first = lines[start]!;
  const value = first.slice(first.indexOf("=") + 1);
  if (/^\s*("""|''')/.test(value)) {
    const quote = value.trim().slice(0, 3);
    if (value.trim().length > 3 && value.trim().slice(3).includes(quote)) return 1;
    for (let i = start + 1; i < lines.length; i++) if (lines[i]!.includes(quote)) return i - start + 1;
    return lines.length - start;
  }
  let depth = 0;
  let inString: string | null = null;
  for (let i = start; i < lines.length; i++) {
    const text = i === start ? value : lines[i]!;
    for (let c = 0; c < text.length; c++) {
      const ch = text[c]!;
      if (inString !== null) {
        if (ch === "\\" && inString === '"') c++;
        else if (ch === inString) inString = null;
      } else if (ch === '"' || ch === "'") inString = ch;
      else if (ch === "#") break;
      else if (ch === "[" || ch === "{") depth++;
      else if (ch === "]" || ch === "}") depth--;
    }
    if (depth <= 0) return i - start + 1;
  }
  return lines.length - start;
}

/**
 * Set `entries` in the table named `table` (e.g. `["mcp_servers", "baton"]`), creating the table at
 * the end of the file when it does not exist. Keys of the table that are not in `entries` are kept.
 */
export function upsertTomlTable(
  text: string | null,
  table: readonly string[],
  entries: Readonly<Record<string, string | readonly string[]>>,
): string {
  const source = text ?? "";
  const eol = source.includes("\r\n") ? "\r\n" : "\n";
  const lines = source === "" ? [] : source.split(/\r?\n/);
  const trailingNewline = lines.length > 0 && lines[lines.length - 1] === "";
  if (trailingNewline) lines.pop();
  const finish = (out: string[]) => out.join(eol) + eol;

  const start = lines.findIndex((l) => {
    const h = headerOf(l);
    return h !== undefined && same(h, table);
  });

  if (start === -1) {
    // The entry may be inline in its parent table: `[mcp_servers]` … `baton = { command = … }`.
    const parent = table.slice(0, -1);
    const key = table[table.length - 1]!;
    const parentStart = lines.findIndex((l) => {
      const h = headerOf(l);
      return h !== undefined && same(h, parent);
    });
    if (parentStart !== -1) {
      const keyPattern = new RegExp(`^\\s*(${escape(key)}|"${escape(key)}")\\s*=`);
      for (let i = parentStart + 1; i < lines.length && !isTableLine(lines[i]!); i++) {
        if (keyPattern.test(lines[i]!)) {
          const span = valueSpan(lines, i);
          const inline = `${tableName([key])} = { ${Object.entries(entries)
            .map(([k, v]) => `${k} = ${tomlValue(v)}`)
            .join(", ")} }`;
          const comment = span === 1 ? lines[i]!.slice(withoutComment(lines[i]!).length) : "";
          if (span === 1 && withoutComment(lines[i]!).trim() === inline) return finish(lines);
          lines.splice(i, span, `${inline}${comment}`);
          return finish(lines);
        }
      }
    }
    const block = [
      `[${tableName(table)}]`,
      ...Object.entries(entries).map(([k, v]) => `${k} = ${tomlValue(v)}`),
    ];
    const out = [...lines];
    // Next to its siblings (after the last `[mcp_servers.*]` table) when there are any, else at the end.
    let lastSibling = -1;
    out.forEach((l, i) => {
      const h = headerOf(l);
      if (h !== undefined && h.length > parent.length && same(h.slice(0, parent.length), parent))
        lastSibling = i;
    });
    if (lastSibling !== -1) {
      let end = lastSibling + 1;
      while (end < out.length && !isTableLine(out[end]!)) end++;
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

  let end = start + 1;
  while (end < lines.length && !isTableLine(lines[end]!)) end++;
  const out = [...lines];
  for (const [key, value] of Object.entries(entries)) {
    const wanted = `${key} = ${tomlValue(value)}`;
    const pattern = new RegExp(`^(\\s*)(${escape(key)}|"${escape(key)}")\\s*=`);
    let found = -1;
    for (let i = start + 1; i < end && found === -1; i++) if (pattern.test(out[i]!)) found = i;
    if (found === -1) {
      // After the table's last key line, before the blank lines and comments that end it.
      let last = start;
      for (let i = start + 1; i < end; i++) {
        if (/^\s*[A-Za-z0-9_"'-]+\s*=/.test(out[i]!)) {
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
    out.splice(found, span, `${indent}${wanted}`);
    end -= span - 1;
  }
  return finish(out);
}
