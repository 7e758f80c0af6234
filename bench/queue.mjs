// The queue library side by side with its peers, in one run: enqueue throughput and processing
// throughput with N workers (no-op handlers), for baton's Worker, baton's raw claim+complete loop,
// plainjob 0.0.14 (SQLite) and BullMQ (Redis at 127.0.0.1:6379). Prints medians and ratios.
//
//   npm run build && npm run bench:queue            # 5,000 jobs, 3 rounds
//   npm run bench:queue -- --quick                  # 1,000 jobs, 1 round
//   npm run bench:queue -- --durability normal      # baton at synchronous=NORMAL, as plainjob
//
// Every contender uses its own defaults for durability (baton: synchronous=FULL; plainjob:
// better-sqlite3 defaults; BullMQ: whatever Redis is configured with), which favours the others.
import { batonRound, bullmqRound, plainjobRound, rawRound, rounds, tryRounds } from "./queue-rounds.mjs";

const quick = process.argv.includes("--quick");
// `--durability normal`: baton with synchronous=NORMAL, as plainjob runs (like for like).
const durability = process.argv.includes("--durability")
  ? process.argv[process.argv.indexOf("--durability") + 1]
  : "full";
const JOBS = quick ? 1000 : 5000;
const ROUNDS = quick ? 1 : 3;
const CONCURRENCY = [1, 8];
const opts = { jobs: JOBS, durability };

const fmt = (x) => (x === undefined ? "-" : `${Math.round(x).toLocaleString("en-US")}/s`);
const ratio = (a, b) => (a === undefined || b === undefined ? "-" : `${(a / b).toFixed(2)}×`);

console.log(
  `queue benchmark: ${JOBS} no-op jobs, median of ${ROUNDS} round(s), baton durability=${durability}, node ${process.version}`,
);
const raw = await rounds(() => rawRound(opts), ROUNDS);
console.log(`raw claim+complete loop (baton engine, 1 at a time): ${fmt(raw.process)}`);
for (const c of CONCURRENCY) {
  const baton = await rounds(() => batonRound(c, opts), ROUNDS);
  const plain = await tryRounds("plainjob", () => plainjobRound(c, opts), ROUNDS);
  const bull = await tryRounds("bullmq", () => bullmqRound(c, opts), ROUNDS);
  console.log(`\nconcurrency ${c}`);
  console.log(`  ${"".padEnd(10)} ${"enqueue".padStart(12)} ${"process".padStart(12)}`);
  for (const [label, r] of [
    ["baton", baton],
    ["plainjob", plain],
    ["bullmq", bull],
  ]) {
    console.log(`  ${label.padEnd(10)} ${fmt(r?.enqueue).padStart(12)} ${fmt(r?.process).padStart(12)}`);
  }
  console.log(
    `  ratios: baton/raw ${ratio(baton.process, raw.process)}, baton/plainjob ${ratio(baton.process, plain?.process)} (enqueue ${ratio(baton.enqueue, plain?.enqueue)}), baton/bullmq ${ratio(baton.process, bull?.process)} (enqueue ${ratio(baton.enqueue, bull?.enqueue)})`,
  );
}
process.exit(0);
