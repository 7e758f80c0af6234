#!/usr/bin/env node
// The `baton` command. Kept tiny on purpose: agents call it hundreds of times.
//
// When a daemon runs for this BATON_HOME, short one-shot commands are sent to it over its socket
// and run there (same code, the caller's cwd and environment), which saves loading the CLI.
// Otherwise — no daemon, a different build, or anything interactive — the bundled CLI runs here.
// CommonJS (bin/package.json says so): Node starts a CommonJS entry about 4 ms sooner than an ES
// module, and this file runs on every call. The full CLI (dist/cli.mjs) is an ES module, imported.
"use strict";
const { connect } = require("node:net");
const { existsSync, statSync } = require("node:fs");
const { homedir } = require("node:os");
const { join, resolve } = require("node:path");

const CLI = join(__dirname, "..", "dist", "cli.mjs");

const argv = process.argv.slice(2);
const SERVED = new Set([
  "enqueue", "complete", "fail", "resume", "show", "list", "ls", "ps", "explain", "audit", "receipt",
  "health", "skip", "accept-before", "archive", "delete", "redrive", "pause", "unpause", "clean",
  "claim", "heartbeat", "release", "recover", "status", "run", "stop", "retry", "wait",
]);
/**
 * Every call the daemon serves carries a request id (R-32). When the daemon goes away mid-call, the
 * call runs here with the same id: a change the daemon had committed is answered from the ledger
 * (the first call's outcome), not made again; one it had not is made now.
 */
let requestId;
const LOCAL_ONLY = new Set(["-", "-h", "--help", "-V", "--version", "--wait", "--follow", "--hook"]);

function servable() {
  if (process.env.BATON_DIRECT === "1" || !SERVED.has(argv[0])) return false;
  if (argv.some((a) => LOCAL_ONLY.has(a) || a.startsWith("--database-url"))) return false;
  return !(argv[0] === "run" && argv.slice(1, argv.indexOf("--") >= 0 ? argv.indexOf("--") : undefined).includes("-f"));
}

function viaDaemon() {
  requestId = `cli-${require("node:crypto").randomUUID()}`;
  const home = process.env.BATON_HOME ? resolve(process.env.BATON_HOME) : join(homedir(), ".baton");
  // The daemon of the ledger the environment names (D49, src/daemon/ipc.ts ledgerKey): a flag or
  // config naming another ledger is answered "fallback" by this one and runs here.
  const url = (process.env.BATON_DATABASE_URL ?? "").trim();
  const schema = process.env.BATON_DATABASE_SCHEMA || "baton";
  const key = url === "" ? "" : `-${require("node:crypto").createHash("sha256").update(`${url}#${schema}`).digest("hex").slice(0, 12)}`;
  const socketPath = join(home, `daemon${key}.sock`);
  if (Buffer.byteLength(socketPath) >= 100) return Promise.resolve(undefined);
  let build;
  try {
    build = String(statSync(CLI).mtimeMs);
  } catch {
    return Promise.resolve(undefined);
  }
  return new Promise((done) => {
    const socket = connect(socketPath);
    let sent = false;
    let pending = "";
    socket.setEncoding("utf8");
    socket.on("connect", () => {
      const params = { argv, cwd: process.cwd(), env: process.env, isTTY: process.stdout.isTTY === true, build, requestId };
      socket.write(`${JSON.stringify({ id: 1, method: "cli", params })}\n`);
      sent = true;
    });
    socket.on("data", (chunk) => {
      pending += chunk;
      const newline = pending.indexOf("\n");
      if (newline < 0) return;
      socket.destroy();
      try {
        const answer = JSON.parse(pending.slice(0, newline));
        done(answer.ok && !answer.data.fallback ? answer.data : "lost");
      } catch {
        done("lost");
      }
    });
    socket.on("error", () => done(sent ? "lost" : undefined));
    socket.on("close", () => done(sent ? "lost" : undefined));
  });
}

async function main() {
  const served = servable() ? await viaDaemon() : undefined;
  if (served !== undefined && served !== "lost") {
    process.stdout.write(served.stdout);
    process.stderr.write(served.stderr);
    process.exitCode = served.code;
  } else {
    let cli;
    try {
      cli = await import("../dist/cli.mjs");
    } catch (error) {
      if (!existsSync(CLI)) {
        if (argv.includes("--json"))
          process.stdout.write(`${JSON.stringify({ ok: false, error: { code: "INTERNAL", message: "baton is not built" } })}\n`);
        process.stderr.write("baton is not built: run npm install (or npm run build)\n");
        process.exit(1);
      }
      throw error;
    }
    // Run here: nothing served it, or its daemon went away mid-call (then under the same request id).
    process.exitCode = await cli.main(argv, served === "lost" ? { requestId } : {});
  }
}

main().catch((error) => {
  // What the ES module entry did with an uncaught error: print it and exit 1 (an envelope with --json).
  process.exitCode = 1;
  if (argv.includes("--json")) {
    const message = String(error && error.message ? error.message : error);
    process.stdout.write(`${JSON.stringify({ ok: false, error: { code: "INTERNAL", message } })}\n`);
  }
  console.error(error);
});
