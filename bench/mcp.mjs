#!/usr/bin/env node
/**
 * MCP server benchmarks (issue 4 targets):
 *
 *   1. in-process `check_task` tool call p50 on a 10,000-job database (target ≤ 2 ms): the SDK's
 *      Client calls the registered tool through a linked in-memory transport pair, so the number
 *      includes JSON-RPC framing, argument handling, the operation, output validation and result
 *      mapping. Printed next to a direct `invoke()` of the same operation, as a ratio.
 *   2. `baton mcp` spawn → `initialize` answered (target ≤ 300 ms), median of 10, next to a bare
 *      `node -e 0` spawn on the same machine.
 *
 *   node bench/mcp.mjs            (or: npm run bench:mcp)
 *
 * The in-process part bundles src/ on the fly with esbuild (into bench/results/), so it needs no
 * prior library build; part 2 runs bin/baton.js, so build the CLI first (`npm run build`).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadSources as loadBundle } from "./sources.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const JOBS = 10_000;
const CALLS = 2_000;
const WARMUP = 300;
const SPAWNS = 10;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const ms = (n) => `${n.toFixed(3)} ms`;

function loadSources() {
  return loadBundle("mcp", [
    'export { createMcpServer } from "./src/mcp/server.ts";',
    'export { openEngine } from "./src/open.ts";',
    'export { getOperation } from "./src/ops/catalogue.ts";',
    'export { invoke } from "./src/ops/invoke.ts";',
  ]);
}

async function inProcess() {
  const { createMcpServer, openEngine, getOperation, invoke } = await loadSources();
  const { Client } = await import("@modelcontextprotocol/client");
  const { InMemoryTransport } = await import("@modelcontextprotocol/server");
  const home = mkdtempSync(join(tmpdir(), "baton-bench-mcp-"));
  try {
    const { engine, store } = await openEngine({ home, actor: "bench" });
    const ids = [];
    for (let i = 0; i < JOBS; i += 1000) {
      const specs = Array.from({ length: 1000 }, (_, k) => ({
        type: "task",
        workflow: `wf${(i + k) % 50}`,
        name: `file-${i + k}`,
        payload: { file: `src/module${i + k}.ts`, note: "x".repeat(40) },
      }));
      const outcomes = await engine.enqueue(specs, { project: "/bench/project", actor: "bench" });
      ids.push(...outcomes.map((o) => o.job.id));
    }
    // Give some jobs history, so check_task has attempts and events to read.
    for (const id of ids.slice(0, 2000))
      await engine.complete(id, { actor: "bench", evidence: { ok: true } });

    const ctx = { engine, cwd: "/bench/project", actor: "mcp", location: store.location };
    const server = createMcpServer(async () => ctx, { tools: "default", version: "bench" });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: "bench", version: "1" });
    await client.connect(clientSide);
    await client.listTools();

    const pick = (n) => ids[(n * 7919) % ids.length];
    const op = getOperation("check_task");
    const timeCalls = async (fn) => {
      for (let i = 0; i < WARMUP; i++) await fn(pick(i));
      const times = [];
      for (let i = 0; i < CALLS; i++) {
        const id = pick(i + WARMUP);
        const t0 = performance.now();
        await fn(id);
        times.push(performance.now() - t0);
      }
      return times.sort((a, b) => a - b);
    };
    const direct = await timeCalls((id) => invoke(op, { id }, ctx));
    const viaMcp = await timeCalls(async (id) => {
      const result = await client.callTool({ name: "check_task", arguments: { id } });
      if (result.isError) throw new Error(JSON.stringify(result.content));
    });
    await client.close();
    await server.close();
    await store.close();
    return { direct, viaMcp };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** Spawn a process, write `input` at once, resolve with ms until the first stdout line. */
function firstLine(command, args, env, input) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, { env, stdio: ["pipe", "pipe", "ignore"] });
    let buffer = "";
    let done = false;
    child.stdout.on("data", (d) => {
      buffer += d;
      if (!done && buffer.includes("\n")) {
        done = true;
        resolve(performance.now() - t0);
        child.kill("SIGKILL");
      }
    });
    child.on("error", reject);
    child.on("exit", () => {
      if (!done) reject(new Error(`${command} exited before answering`));
    });
    if (input !== undefined) child.stdin.write(input);
  });
}

async function spawnToInitialize() {
  const home = mkdtempSync(join(tmpdir(), "baton-bench-spawn-"));
  try {
    const env = { ...process.env, BATON_HOME: home };
    const initialize = `${JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "bench", version: "1" },
      },
    })}\n`;
    // The first run creates and migrates the database; it is not counted.
    await firstLine(process.execPath, [join(root, "bin", "baton.js"), "mcp"], env, initialize);
    const baton = [];
    const node = [];
    for (let i = 0; i < SPAWNS; i++) {
      baton.push(await firstLine(process.execPath, [join(root, "bin", "baton.js"), "mcp"], env, initialize));
      node.push(await firstLine(process.execPath, ["-e", "console.log(1)"], env));
    }
    return { baton: baton.sort((a, b) => a - b), node: node.sort((a, b) => a - b) };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

const { direct, viaMcp } = await inProcess();
const p50 = percentile(viaMcp, 50);
process.stdout.write(
  `check_task on a ${JOBS.toLocaleString("en")}-job database, ${CALLS} calls after ${WARMUP} warm-up\n`,
);
process.stdout.write(
  `  MCP tool call (in-memory transport): p50 ${ms(p50)}  p95 ${ms(percentile(viaMcp, 95))}  p99 ${ms(percentile(viaMcp, 99))}   target p50 ≤ 2 ms: ${p50 <= 2 ? "met" : "MISSED"}\n`,
);
process.stdout.write(
  `  direct invoke():                     p50 ${ms(percentile(direct, 50))}  p95 ${ms(percentile(direct, 95))}  p99 ${ms(percentile(direct, 99))}\n`,
);
process.stdout.write(`  MCP / direct (p50): ${(p50 / percentile(direct, 50)).toFixed(2)}x\n`);

const spawned = await spawnToInitialize();
const median = (xs) => (xs[(xs.length - 1) >> 1] + xs[xs.length >> 1]) / 2;
const batonMedian = median(spawned.baton);
process.stdout.write(`baton mcp spawn → initialize answered, median of ${SPAWNS}\n`);
process.stdout.write(
  `  baton mcp: ${ms(batonMedian)} (min ${ms(spawned.baton[0])}, max ${ms(spawned.baton.at(-1))})   target ≤ 300 ms: ${batonMedian <= 300 ? "met" : "MISSED"}\n`,
);
process.stdout.write(
  `  bare node -e: ${ms(median(spawned.node))}   baton mcp / bare node: ${(batonMedian / median(spawned.node)).toFixed(2)}x\n`,
);
