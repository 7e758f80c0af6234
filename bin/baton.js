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
const { existsSync, readFileSync, statSync } = require("node:fs");
const { homedir } = require("node:os");
const { join, resolve } = require("node:path");

const CLI = join(__dirname, "..", "dist", "cli.mjs");
const LEDGER_KEY = join(__dirname, "..", "dist", "ledger-key.cjs");
/** What `baton <command…> --help` prints, written at build time from the CLI (scripts/help-texts.mjs). */
const HELP = join(__dirname, "..", "dist", "cli-help.json");

// A reader that went away (`baton logs <id> | head`) ends the call quietly with exit 0, as `cat`
// or `git log` would end, not with an unhandled EPIPE and a stack. Node ignores SIGPIPE, so the
// closed pipe shows up as an error of the stream; a closed stderr alone is ignored.
process.stdout.on("error", (error) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(0);
});
process.stderr.on("error", (error) => {
  if (error.code !== "EPIPE") throw error;
});

const argv = process.argv.slice(2);
const SERVED = new Set([
  "enqueue",
  "complete",
  "fail",
  "resume",
  "show",
  "list",
  "ls",
  "ps",
  "explain",
  "audit",
  "receipt",
  "health",
  "skip",
  "accept-before",
  "archive",
  "delete",
  "redrive",
  "pause",
  "unpause",
  "clean",
  "claim",
  "heartbeat",
  "release",
  "recover",
  "status",
  "run",
  "stop",
  "retry",
  "wait",
  "__complete",
]);
/**
 * Every call the daemon serves carries a request id. When the daemon goes away mid-call, the
 * call runs here with the same id: a change the daemon had committed is answered from the ledger
 * (the first call's outcome), not made again; one it had not is made now.
 */
let requestId;
const LOCAL_ONLY = new Set(["-", "-h", "--help", "-V", "--version", "--wait", "--follow", "--hook"]);

/**
 * Where the command's words start: after the global flags typed before them (`--request-id <id>`,
 * `--json`), which name the call, not the command (a stop typed `baton --request-id x stop <id>`
 * ran here instead of in the daemon).
 */
function commandAt() {
  let at = 0;
  for (;;) {
    if (argv[at] === "--request-id") at += 2;
    else if (argv[at]?.startsWith("--request-id=") || argv[at] === "--json") at += 1;
    else return at;
  }
}

function servable() {
  const at = commandAt();
  if (process.env.BATON_DIRECT === "1" || !SERVED.has(argv[at])) return false;
  if (argv.some((a) => LOCAL_ONLY.has(a) || a.startsWith("--database-url"))) return false;
  return !(
    argv[at] === "run" &&
    argv.slice(at + 1, argv.indexOf("--") >= 0 ? argv.indexOf("--") : undefined).includes("-f")
  );
}

function viaDaemon() {
  requestId = `cli-${require("node:crypto").randomUUID()}`;
  const home = process.env.BATON_HOME ? resolve(process.env.BATON_HOME) : join(homedir(), ".baton");
  // The daemon of the ledger the environment names (D49, D121): a flag or config naming another
  // ledger is answered "fallback" by this one and runs here. The key is the CLI's own code
  // (src/ops/ledger-key.ts, built as dist/ledger-key.cjs), so both name the same daemon.
  // The home's SQLite ledger (no URL) needs no key, nor the module: most calls skip it (≈1 ms).
  // The key holds the URL's TLS demand, and a URL the CLI refuses (sslmode=bogus) has a key of its
  // own that no daemon has (D127): such a call runs here and is refused as it is without a daemon.
  let key = "";
  if ((process.env.BATON_DATABASE_URL ?? "").trim() !== "") {
    try {
      key = `-${require(LEDGER_KEY).ledgerKey(process.env)}`;
    } catch {
      return Promise.resolve(undefined);
    }
  }
  const socketPath = join(home, `daemon${key}.sock`);
  if (Buffer.byteLength(socketPath) >= 100) return Promise.resolve(undefined);
  let build;
  try {
    build = String(statSync(CLI).mtimeMs);
    // Only a socket of this user's own daemon gets the call and its environment (D86); anything
    // else runs here, where the full CLI refuses a home another user controls.
    const owner = statSync(socketPath).uid;
    if (process.geteuid && owner !== process.geteuid()) return Promise.resolve(undefined);
  } catch {
    return Promise.resolve(undefined);
  }
  // A daemon that holds its socket but does not take the call (stopped with SIGSTOP, hung) would
  // keep this caller forever: it must acknowledge the call within this long, and then send a
  // keep-alive every second (more often for a window under 3 s) until its answer (D135, D138).
  // Same default as src/ops/daemon-client.ts.
  const answerMs =
    Number(process.env.BATON_DAEMON_ANSWER_MS) > 0 ? Number(process.env.BATON_DAEMON_ANSWER_MS) : 5000;
  return new Promise((done) => {
    const socket = connect(socketPath);
    let sent = false;
    let pending = "";
    let silence;
    const listen = () => {
      clearTimeout(silence);
      silence = setTimeout(() => {
        socket.destroy();
        done("unresponsive");
      }, answerMs);
    };
    const finish = (outcome) => {
      clearTimeout(silence);
      done(outcome);
    };
    listen();
    socket.setEncoding("utf8");
    socket.on("connect", () => {
      const params = {
        argv,
        cwd: process.cwd(),
        env: process.env,
        isTTY: process.stdout.isTTY === true,
        columns: process.stdout.columns,
        build,
        requestId,
        answerBy: Date.now() + answerMs,
      };
      socket.write(`${JSON.stringify({ id: 1, method: "cli", params })}\n`);
      sent = true;
    });
    socket.on("data", (chunk) => {
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        let answer;
        try {
          answer = JSON.parse(line);
        } catch {
          socket.destroy();
          finish("lost");
          return;
        }
        if (answer.ack === true) {
          listen();
          continue;
        }
        socket.destroy();
        finish(answer.ok && !answer.data.fallback ? answer.data : "lost");
        return;
      }
    });
    socket.on("error", () => finish(sent ? "lost" : undefined));
    socket.on("close", () => finish(sent ? "lost" : undefined));
  });
}

/**
 * `baton --help` and `baton <command…> --help`, as the CLI would print them, without loading it (its
 * operation catalogue, zod and yaml cost 3× `node -e 0`). Only the plain form — command words, then
 * `--help` or `-h` — and only when commander would wrap at its default 80 columns (output that is
 * not a terminal, or one 80 columns wide); anything else is left to the CLI.
 */
function staticHelp() {
  const last = argv[argv.length - 1];
  if (last !== "--help" && last !== "-h") return undefined;
  const words = argv.slice(0, -1);
  if (words.some((w) => w.startsWith("-"))) return undefined;
  if (process.stdout.isTTY && process.stdout.columns !== 80) return undefined;
  try {
    const text = JSON.parse(readFileSync(HELP, "utf8"))[words.join(" ")];
    return typeof text === "string" ? text : undefined;
  } catch {
    return undefined;
  }
}

async function main() {
  // `baton --version` alone is answered here, without loading the CLI (the bundle's version is
  // package.json's, defined at build time).
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    process.stdout.write(`${require("../package.json").version}\n`);
    return;
  }
  const help = staticHelp();
  if (help !== undefined) {
    process.stdout.write(help);
    return;
  }
  const served = servable() ? await viaDaemon() : undefined;
  if (served !== undefined && served !== "lost" && served !== "unresponsive") {
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
          process.stdout.write(
            `${JSON.stringify({ ok: false, error: { code: "INTERNAL", message: "baton is not built" } })}\n`,
          );
        process.stderr.write("baton is not built: run npm install (or npm run build)\n");
        process.exit(1);
      }
      throw error;
    }
    // Run here: nothing served it, or its daemon went away mid-call (then under the same request id).
    // A daemon that did not take the call in time: read-only calls run here; changes are refused
    // (DAEMON_UNRESPONSIVE) under the request id the daemon may still commit them with (D135).
    process.exitCode = await cli.main(
      argv,
      served === "lost"
        ? { requestId }
        : served === "unresponsive"
          ? { requestId, daemonUnresponsive: true }
          : {},
    );
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
