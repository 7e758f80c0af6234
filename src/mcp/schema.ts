/**
 * Tool schemas as agents see them. Every tool's input and output schema is generated from the
 * operation's zod schema, then made compact by the same rules for every tool, because a host puts
 * the whole tool list into every chat and the agent pays for each character:
 *
 * - Input: safety caps (`maxLength` ≥ 100, `maxItems` ≥ 50, ±2^53 bounds, `minLength: 1`,
 *   `minItems: 1`) are left out. They still hold: `invoke()` validates the full zod schema and answers
 *   a violation with `INVALID_INPUT` naming the field. Types, enums, required fields, ranges that
 *   carry meaning (priority -1000..1000) and descriptions stay.
 * - Output: the top-level fields are described (name, type, enum, description, required); nested
 *   objects and arrays by their JSON type only. The agent reads the result itself, and results are
 *   still validated against the full zod schema before they leave the server.
 */

type Json = Record<string, unknown>;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Output objects and arrays nested this deep are described by their type alone. */
const MAX_OUTPUT_DEPTH = 1;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function compactInputNode(node: Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "$schema") continue;
    if ((key === "maximum" || key === "minimum") && (value === MAX_SAFE || value === -MAX_SAFE)) continue;
    if (key === "maxLength" && typeof value === "number" && value >= 100) continue;
    if (key === "maxItems" && typeof value === "number" && value >= 50) continue;
    if ((key === "minLength" || key === "minItems") && value === 1) continue;
    if (
      key === "propertyNames" &&
      isObject(value) &&
      value.type === "string" &&
      Object.keys(value).length === 1
    )
      continue;
    out[key] = transform(value, compactInputNode);
  }
  return out;
}

function transform(value: unknown, node: (n: Json) => Json): unknown {
  if (Array.isArray(value)) return value.map((v) => transform(v, node));
  if (!isObject(value)) return value;
  return node(value);
}

/** The compact form of an input schema (see the module comment). */
export function compactInputSchema(schema: Json): Json {
  return compactInputNode(schema);
}

function typeOnly(node: Json): Json {
  const out: Json = {};
  if (node.type !== undefined) out.type = node.type;
  if (isObject(node.items) && node.items.type !== "object" && node.items.type !== "array")
    out.items = node.items;
  if (Array.isArray(node.enum)) out.enum = node.enum;
  if (typeof node.description === "string") out.description = node.description;
  return out;
}

function compactOutputNode(node: Json, depth: number): Json {
  if (depth >= MAX_OUTPUT_DEPTH && (node.type === "object" || node.type === "array")) return typeOnly(node);
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "$schema" || key === "additionalProperties" || key === "propertyNames") continue;
    if (key === "properties" && isObject(value)) {
      out.properties = Object.fromEntries(
        Object.entries(value).map(([name, sub]) => [
          name,
          isObject(sub) ? compactOutputNode(sub, depth + 1) : sub,
        ]),
      );
    } else if (key === "items" && isObject(value)) {
      out.items = compactOutputNode(value, depth + 1);
    } else if ((key === "anyOf" || key === "oneOf") && Array.isArray(value)) {
      out[key] = value.map((v) => (isObject(v) ? compactOutputNode(v, depth) : v));
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** The compact form of an output schema (see the module comment). */
export function compactOutputSchema(schema: Json): Json {
  return compactOutputNode(schema, 0);
}
