/**
 * Tool schemas as agents see them. Every tool's input and output schema is generated from the
 * operation's zod schema, then made compact by the same rules for every tool, because a host puts
 * the whole tool list into every chat and the agent pays for each character:
 *
 * - Input: safety caps (`maxLength` ≥ 100, `maxItems` ≥ 50, ±2^53 bounds, `minLength: 1`,
 *   `minItems: 1`) are left out. They still hold: `invoke()` validates the full zod schema and answers
 *   a violation with `INVALID_INPUT` naming the field. Types, enums, required fields, ranges that
 *   carry meaning (priority -1000..1000) and descriptions stay.
 * - Input values that may be any JSON (`payload`, `evidence`, `result`) are described as `anyOf` the
 *   six JSON types rather than by an empty schema, which strict validators (the Inspector) flag.
 * - A batch argument whose items take a single call's fields (`tasks`, `items`) says so in one line.
 * - A description repeated inside one schema (a batch item's fields mirror the single call's) is
 *   kept at its first place only.
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

/** Any JSON value, spelled out so that every input property names its types. */
export const ANY_JSON: Json = {
  anyOf: ["object", "array", "string", "number", "boolean", "null"].map((type) => ({ type })),
};

/** A schema that says nothing about its value's type: `{}` or one with only a description. */
function isUntyped(node: Json): boolean {
  return Object.keys(node).every((key) => key === "description");
}

/**
 * Give untyped property schemas the JSON types, drop descriptions already given once, flatten an
 * `anyOf` nested directly in another.
 */
function typeAndDedupe(node: Json, seen: Set<string>): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "anyOf" && Array.isArray(value)) {
      out[key] = value
        .flatMap((v) =>
          isObject(v) && Object.keys(v).length === 1 && Array.isArray(v.anyOf) ? (v.anyOf as unknown[]) : [v],
        )
        .map((v) => (isObject(v) ? typeAndDedupe(v, seen) : v));
    } else if (key === "description" && typeof value === "string") {
      if (seen.has(value)) continue;
      seen.add(value);
      out[key] = value;
    } else if (key === "properties" && isObject(value)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([name, sub]) => [
          name,
          isObject(sub) ? typeAndDedupe(isUntyped(sub) ? { ...sub, ...ANY_JSON } : sub, seen) : sub,
        ]),
      );
    } else if (Array.isArray(value)) {
      out[key] = value.map((v) => (isObject(v) ? typeAndDedupe(v, seen) : v));
    } else {
      out[key] = isObject(value) ? typeAndDedupe(value, seen) : value;
    }
  }
  return out;
}

function withoutDescriptions(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDescriptions);
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => k !== "description")
      .map(([k, v]) => [k, withoutDescriptions(v)]),
  );
}

/**
 * A batch argument whose items take exactly the fields of a single call (`enqueue_task`'s `tasks`,
 * `complete_task`'s `items`) says so in a line instead of repeating every field's schema.
 */
function batchItemsAsAbove(schema: Json): Json {
  const top = schema.properties;
  if (!isObject(top)) return schema;
  const properties: Json = {};
  for (const [name, sub] of Object.entries(top)) {
    const items = isObject(sub) ? sub.items : undefined;
    const fields = isObject(items) ? items.properties : undefined;
    const same =
      isObject(fields) &&
      Object.entries(fields).every(
        ([field, fieldSchema]) =>
          field in top &&
          JSON.stringify(withoutDescriptions(fieldSchema)) ===
            JSON.stringify(withoutDescriptions(top[field])),
      );
    if (!same || !isObject(items)) {
      properties[name] = sub;
      continue;
    }
    const others = Object.keys(top).filter((f) => f !== name && !(f in fields));
    properties[name] = {
      ...(sub as Json),
      items: {
        type: "object",
        description: `Each item takes the fields of a single call${others.length > 0 ? ` but ${others.join(", ")}` : ""}.`,
        ...(items.required === undefined ? {} : { required: items.required }),
      },
    };
  }
  return { ...schema, properties };
}

/** The compact form of an input schema (see the module comment). */
export function compactInputSchema(schema: Json): Json {
  return typeAndDedupe(batchItemsAsAbove(compactInputNode(schema)), new Set());
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
