import { BatonError, InvalidInputError } from "./errors.js";

/**
 * Serialise a value that must be plain JSON (payloads, results, evidence) and enforce its size.
 * Rejects what JSON cannot represent faithfully (functions, undefined at top level or in arrays, cycles,
 * non-finite numbers, bigint) instead of silently changing it.
 */
export function encodeJson(value: unknown, what: string, maxBytes: number): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, function (this: unknown, _key, v: unknown) {
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
  } catch (error) {
    if (error instanceof BatonError) throw error;
    throw new InvalidInputError(`${what} is not serialisable as JSON: ${(error as Error).message}`);
  }
  if (text === undefined) throw new InvalidInputError(`${what} is not a JSON value`);
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > maxBytes) {
    throw new BatonError("PAYLOAD_TOO_LARGE", `${what} is ${bytes} bytes; the limit is ${maxBytes}`, {
      details: { bytes, limit: maxBytes },
    });
  }
  return text;
}

export function decodeJson(text: string | null): unknown {
  return text === null ? null : (JSON.parse(text) as unknown);
}
