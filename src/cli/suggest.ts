/**
 * Words for errors a person reads: "did you mean" for a misspelt value, and the flag a user typed
 * for the catalogue field a schema complains about (`--ttl`, not `ttlSeconds`).
 */
import type { CliBinding } from "./bindings.js";

/** Edit distance (insertions, deletions, substitutions, adjacent swaps). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [
    i,
    ...Array<number>(b.length).fill(0),
  ]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate within a third of the word's length (at least 1 edit), if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const dist = distance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return best;
}

/** "'x' is not a state: a, b, c (did you mean b?)" */
export function notOneOf(what: string, value: string, valid: readonly string[]): string {
  const guess = closest(value, valid);
  return `'${value}' is not ${what}: use ${valid.join(", ")}${guess === undefined ? "" : ` (did you mean ${guess}?)`}`;
}

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Fields whose name does not follow from their flag's. */
const RENAMED: Record<string, string> = { idempotencyKey: "key", text: "search", types: "type", tags: "tag" };

/**
 * The flag (or argument) of `binding` that fills the catalogue field `field`, as the user typed
 * it: `ttlSeconds` → `--ttl`, `timeoutMs` → `--timeout`, `ids` (or one `id` of them) → `<ids>`.
 */
export function flagFor(binding: CliBinding, field: string): string | undefined {
  const longs = (binding.options ?? [])
    .map((o) => /--([a-z0-9-]+)/.exec(o.flags)?.[1])
    .filter((f): f is string => f !== undefined);
  const renamed = RENAMED[field];
  if (renamed !== undefined && longs.includes(renamed)) return `--${renamed}`;
  for (const flag of longs) {
    const name = camel(flag);
    if (field === name || ["Seconds", "Ms", "Key", "s"].some((unit) => field === name + unit))
      return `--${flag}`;
  }
  // `id` of one job is the first of `[ids...]` (complete, fail, skip… take one or many).
  const argument = new RegExp(`[<\\[](${field}s?)(\\.\\.\\.)?[>\\]]`).exec(binding.command);
  if (argument !== null) return `<${argument[1]!}>`;
  return undefined;
}
