import { BatonError, InvalidInputError } from "./errors.js";

/**
 * Serialise a value that must be plain JSON (payloads, results, evidence) and enforce its size.
 * Rejects what JSON cannot represent faithfully (functions, undefined at top level or in arrays, cycles,
 * non-finite numbers, bigint) instead of silently changing it.
 */
export function encodeJson(value: unknown, what: string, maxBytes: number): string {
  let text: string | undefined;
  try {
    // Plain data (the usual payload) needs no replacer, whose call per key and value made this
    // three times slower than JSON.stringify itself (issue 22): the same text, checked first.
    text = isPlainJson(value, 0) ? JSON.stringify(value) : stringifyChecked(value, what);
  } catch (error) {
    if (error instanceof BatonError) throw error;
    throw new InvalidInputError(`${what} is not serialisable as JSON: ${(error as Error).message}`);
  }
  if (text === undefined) throw new InvalidInputError(`${what} is not a JSON value`);
  // A UTF-16 unit is at most 3 bytes of UTF-8: a short text needs no count.
  const bytes = text.length * 3 <= maxBytes ? 0 : Buffer.byteLength(text, "utf8");
  if (bytes > maxBytes) {
    throw new BatonError("PAYLOAD_TOO_LARGE", `${what} is ${bytes} bytes; the limit is ${maxBytes}`, {
      details: { bytes, limit: maxBytes },
    });
  }
  return text;
}

/** Deeper than this, {@link isPlainJson} leaves the value to the checked path (which also finds cycles). */
const PLAIN_DEPTH = 64;

/**
 * Whether JSON.stringify renders `value` exactly as {@link stringifyChecked} would, with nothing
 * for the checks to refuse: strings, finite numbers, booleans, null, and arrays and plain objects
 * (prototype Object.prototype or null, no toJSON) of those, without undefined in arrays. Anything
 * else (a Date, a class instance, NaN, a function, a deep or cyclic value…) answers false and
 * takes the checked path, which says what is wrong or applies toJSON as before.
 */
function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object": {
      if (value === null) return true;
      if (depth >= PLAIN_DEPTH) return false;
      if (Array.isArray(value)) {
        if ("toJSON" in value) return false;
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (item === undefined || !isPlainJson(item, depth + 1)) return false;
        }
        return true;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      const record = value as Record<string, unknown>;
      if ("toJSON" in record) return false;
      for (const key in record) {
        if (!Object.prototype.hasOwnProperty.call(record, key)) return false;
        const item = record[key];
        // An undefined property is left out, by JSON.stringify and the checked path alike.
        if (item !== undefined && !isPlainJson(item, depth + 1)) return false;
      }
      return true;
    }
    case "bigint":
    case "function":
    case "symbol":
    case "undefined":
      return false;
  }
}

/** JSON.stringify with a replacer that refuses what JSON cannot represent faithfully. */
function stringifyChecked(value: unknown, what: string): string | undefined {
  return JSON.stringify(value, function (this: unknown, _key, v: unknown) {
    if (typeof v === "number" && !Number.isFinite(v)) throw new InvalidInputError(`${what} contains ${v}`);
    // JSON would turn it into null (an undefined property is simply absent, as JSON means).
    if (v === undefined && Array.isArray(this)) {
      throw new InvalidInputError(`${what} contains undefined in an array`);
    }
    if (typeof v === "bigint") throw new InvalidInputError(`${what} contains a bigint`);
    if (typeof v === "function" || typeof v === "symbol") {
      throw new InvalidInputError(`${what} contains a ${typeof v}, which is not JSON`);
    }
    return v;
  });
}

export function decodeJson(text: string | null): unknown {
  return text === null ? null : (JSON.parse(text) as unknown);
}
