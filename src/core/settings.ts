import { InvalidInputError } from "./errors.js";
import { MAX_DURATION_MS } from "./timer.js";

/**
 * baton's settings from the environment, each checked the same way: a value that is set but not
 * allowed is refused as INVALID_INPUT naming the variable and what it may be, with
 * `details: { field: <variable>, value }` (a `BATON_LOG_CAP_BYTES` of "50MB" read as NaN used to
 * mean no cap at all, a bad `BATON_MAX_RUNNING` fell back to the default without a word, and
 * `BATON_DURABILITY=bogus` meant `full`).
 */

/** The numeric settings, each with its bounds. */
export const NUMERIC_SETTINGS = {
  BATON_LOG_CAP_BYTES: { min: 4_096, max: Number.MAX_SAFE_INTEGER, unit: "bytes" },
  BATON_KILL_GRACE_MS: { min: 0, max: MAX_DURATION_MS, unit: "milliseconds" },
  BATON_SHUTDOWN_GRACE_MS: { min: 0, max: MAX_DURATION_MS, unit: "milliseconds" },
  BATON_COMMAND_LEASE_MS: { min: 300, max: MAX_DURATION_MS, unit: "milliseconds" },
  BATON_MAX_RUNNING: { min: 1, max: 100_000, unit: "commands" },
  BATON_MAX_RUNNING_PER_PROJECT: { min: 1, max: 100_000, unit: "commands" },
  BATON_DATABASE_POOL_SIZE: { min: 1, max: 1000, unit: "connections" },
} as const;

export type NumericSetting = keyof typeof NUMERIC_SETTINGS;

/** The variable's value as a number, `undefined` when unset or empty; out of bounds is INVALID_INPUT. */
export function numericSetting(
  name: NumericSetting,
  env: NodeJS.ProcessEnv = process.env,
): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const { min, max, unit } = NUMERIC_SETTINGS[name];
  const value = /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidInputError(
      `${name} must be a whole number of ${unit} from ${min} to ${max} (got '${raw.slice(0, 40)}'); unset it for the default`,
      { field: name, value: raw.slice(0, 40) },
    );
  }
  return value;
}

/** SQLite's durability (docs/durability.md): `full`, the default, or `normal`. */
export const DURABILITIES = ["full", "normal"] as const;

/**
 * `BATON_DURABILITY`, `undefined` when unset or empty; any other value than {@link DURABILITIES}
 * is INVALID_INPUT.
 *
 * @example durabilitySetting({ BATON_DURABILITY: "normal" }) // "normal"
 */
export function durabilitySetting(
  env: NodeJS.ProcessEnv = process.env,
): (typeof DURABILITIES)[number] | undefined {
  const raw = env.BATON_DURABILITY;
  if (raw === undefined || raw.trim() === "") return undefined;
  const value = DURABILITIES.find((d) => d === raw.trim());
  if (value === undefined) {
    throw new InvalidInputError(
      `BATON_DURABILITY must be one of ${DURABILITIES.join(", ")} (got '${raw.slice(0, 40)}'); unset it for the default (full)`,
      { field: "BATON_DURABILITY", value: raw.slice(0, 40) },
    );
  }
  return value;
}

/**
 * Check every setting at once (a CLI call, served or not, and the daemon at start call this
 * before any work), so a bad one is refused the same way whoever would have read it.
 */
export function checkSettings(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of Object.keys(NUMERIC_SETTINGS) as NumericSetting[]) numericSetting(name, env);
  durabilitySetting(env);
}
