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
 * `baton enqueue` of one job whose workflow, tag, type and name are all `m`, with payload `{m}`.
 * `--flag=value`, so that values such as "--" are never read as options.
 */
export function enqueueArgsWith(m: string): string[] {
  return [
    "enqueue",
    "--json",
    `--workflow=${m}`,
    `--tag=${m}`,
    `--type=${m}`,
    `--name=${m}`,
    JSON.stringify({ m }),
  ];
}
