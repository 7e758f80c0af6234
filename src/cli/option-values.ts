/** Reading commander's option values: a string flag's text, a whole number's value. */
import { InvalidInputError } from "../core/errors.js";

/** The option's text; undefined when it was not given (or is a boolean flag). */
export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/**
 * A whole-number option (`--limit 20`): undefined when not given, INVALID_INPUT naming the flag
 * when it is not a number.
 */
export function count(name: string, v: unknown): number | undefined {
  const text = str(v);
  if (text === undefined) return undefined;
  // "-1" is a number: say which numbers the flag takes (stranger s18b).
  if (!/^\d+$/.test(text))
    throw new InvalidInputError(`--${name} must be a whole number (0 or more), not '${text}'`);
  return Number(text);
}
