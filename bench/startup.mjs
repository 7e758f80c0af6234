// One-shot start-up of the CLI (issue 19): the median wall time of `node -e 0`, `baton --version`,
// `baton --help` and `baton list` on an empty BATON_HOME with no daemon, each run N times in turn
// (hyperfine-like: one warm-up round first, then N rounds; each sample is one child process from
// spawn to exit). Uses the built CLI (npm run build).
//
//   npm run bench:startup              # 20 rounds
//   npm run bench:startup -- --runs 50
//   npm run bench:startup -- --before /path/to/other/bin/baton.js   # the same rows for another
//                                      build, interleaved round by round (a fair before/after)
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(root, "bin", "baton.js");
const at = process.argv.indexOf("--runs");
const RUNS = at > 0 ? Number(process.argv[at + 1]) : 20;
const home = mkdtempSync(join(tmpdir(), "baton-startup-"));
const project = join(home, "project");
mkdirSync(join(project, ".git"), { recursive: true });
const env = { ...process.env, BATON_HOME: join(home, "home"), NO_COLOR: "1" };
delete env.BATON_DATABASE_URL;

const before = process.argv.indexOf("--before");
const bins = [["", BIN], ...(before > 0 ? [["before: ", process.argv[before + 1]]] : [])];
const cases = [
  ["node -e 0", ["-e", "0"]],
  ...bins.flatMap(([label, bin]) => [
    [`${label}baton --version`, [bin, "--version"]],
    [`${label}baton --help`, [bin, "--help"]],
    [`${label}baton list (empty home, no daemon)`, [bin, "list"]],
  ]),
];

function once(args) {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, cwd: project, encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(" ")}: exit ${r.status}: ${r.stderr}`);
  return ms;
}

const samples = new Map(cases.map(([name]) => [name, []]));
for (const [, args] of cases) once(args); // warm-up: the first list creates the ledger
for (let i = 0; i < RUNS; i++) for (const [name, args] of cases) samples.get(name).push(once(args));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const base = median(samples.get("node -e 0"));
console.log(`start-up, median of ${RUNS} runs each (node ${process.version}, ${process.platform})`);
for (const [name] of cases) {
  const m = median(samples.get(name));
  const xs = [...samples.get(name)].sort((a, b) => a - b);
  console.log(
    `${name.padEnd(46)} ${m.toFixed(1).padStart(7)} ms  ${(m / base).toFixed(2)}× node -e 0  (min ${xs[0].toFixed(1)}, max ${xs.at(-1).toFixed(1)})`,
  );
}
rmSync(home, { recursive: true, force: true });
