/** Strings with SQL metacharacters: stored and filtered verbatim, never interpreted. */
export const METACHARACTERS = [
  "'",
  '"',
  ";",
  "--",
  "%",
  "_",
  "\\",
  "' OR 1=1 --",
  '"; DROP TABLE jobs; --',
  "x' OR 'a'='a",
];

/**
 * The job type that carries `m`: `m` itself where a type may hold it, else `m`'s bytes in hex
 * between the SQL-significant characters a type may hold (`_` is LIKE's wildcard, `--` a comment).
 * Job types hold only ASCII letters, digits and `_ - . : / @ +` (D87); filters take any string.
 */
export function typeFor(m: string): string {
  return /^[A-Za-z0-9_\-.:/@+]+$/.test(m) ? m : `x_${Buffer.from(m).toString("hex")}--`;
}

/**
 * `baton enqueue` of one job whose workflow, tag and name are all `m`, of type `typeFor(m)`, with
 * payload `{m}`. `--flag=value`, so that values such as "--" are never read as options.
 */
export function enqueueArgsWith(m: string): string[] {
  return [
    "enqueue",
    "--json",
    `--workflow=${m}`,
    `--tag=${m}`,
    `--type=${typeFor(m)}`,
    `--name=${m}`,
    JSON.stringify({ m }),
  ];
}
