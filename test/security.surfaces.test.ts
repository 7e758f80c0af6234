/**
 * another local user against every listening surface. The suite runs as root in CI; the
 * attacks run as `nobody` (`runuser -u nobody -- node …`, and curl for the first finding), over
 * TCP against the daemon's server (HTTP API, SSE, dashboard, `/mcp`), `baton serve` and
 * `baton mcp --http --tools full`, and over the daemon's Unix socket. Each attack — no token, a
 * wrong token, the read-only token on a mutating call, a foreign Host, a foreign Origin — is
 * refused; the ledger does not change and the canary a started command would write never appears.
 */
import type { ChildProcess } from "node:child_process";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { socketPath } from "../src/ops/ipc.js";
import { BIN } from "./helpers/cli.js";
import type { Home } from "./helpers/supervisor.js";
import { cliJson, eventRows, jobRows, newHome, withDb } from "./helpers/supervisor.js";

const isRoot = process.getuid?.() === 0;
const hasRunuser = spawnSync("runuser", ["--help"]).status === 0;
const reason = !isRoot
  ? "R-36 needs root to run attacks as a second local user (runuser -u nobody); skipped as uid " +
    String(process.getuid?.())
  : "R-36 needs runuser (util-linux) to act as a second local user";
if (!isRoot || !hasRunuser) console.warn(`security.surfaces: skipped: ${reason}`);

/** One request the attacker sends; `host`/`origin` override those headers. */
interface Attack {
  label: string;
  port: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}
interface Outcome {
  label: string;
  status: number;
  body: string;
  error?: string;
}

/** The attacker's program: plain JavaScript nobody can read and run (no project files needed). */
const ATTACKER = `
const http = require("node:http");
const net = require("node:net");
const input = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
function one(a) {
  return new Promise((resolve) => {
    if (a.socket) {
      const s = net.connect(a.socket);
      let text = "";
      s.on("connect", () => s.write(JSON.stringify({ id: 1, method: a.method, params: a.params }) + "\\n"));
      s.on("data", (d) => { text += d; s.end(); });
      s.on("error", (e) => resolve({ label: a.label, status: 0, body: text, error: e.code || e.message }));
      s.on("close", () => resolve({ label: a.label, status: text ? 200 : 0, body: text }));
      setTimeout(() => s.destroy(), 3000);
      return;
    }
    const headers = Object.assign({ host: "127.0.0.1:" + a.port }, a.headers);
    const req = http.request({ host: "127.0.0.1", port: a.port, method: a.method, path: a.path,
      headers, setHost: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => { text += d; if (text.length > 4000) req.destroy(); });
      res.on("end", () => resolve({ label: a.label, status: res.statusCode, body: text,
        wwwAuthenticate: res.headers["www-authenticate"] }));
      res.on("error", () => resolve({ label: a.label, status: res.statusCode, body: text }));
      // SSE that was let in would never end: take what came.
      setTimeout(() => { resolve({ label: a.label, status: res.statusCode, body: text }); req.destroy(); }, 2000);
    });
    req.on("error", (e) => resolve({ label: a.label, status: 0, body: "", error: e.code || e.message }));
    if (a.body !== undefined) req.write(a.body);
    req.end();
  });
}
(async () => {
  const out = [];
  for (const a of input) out.push(await one(a));
  process.stdout.write(JSON.stringify(out));
})();
`;

let attackerDir: string;

/** Run the attacks as `nobody`; the answers in order. */
function asNobody(attacks: readonly (Attack | Record<string, unknown>)[]): Outcome[] {
  const result = spawnSync(
    "runuser",
    ["-u", "nobody", "--", process.execPath, join(attackerDir, "attack.cjs")],
    { input: JSON.stringify(attacks), encoding: "utf8", cwd: attackerDir, timeout: 120_000 },
  );
  if (result.status !== 0) throw new Error(`attacker failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout) as Outcome[];
}

function mcpBody(id: number, method: string, params: unknown): string {
  return JSON.stringify({ jsonrpc: "2.0", id, method, params });
}

const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const JSON_HEADERS = { "content-type": "application/json" };
const INIT = mcpBody(1, "initialize", {
  protocolVersion: "2025-06-18",
  capabilities: {},
  clientInfo: { name: "nobody", version: "1" },
});

/** A surface under attack: a home with a daemon and its servers, started as root. */
interface Surfaces {
  home: Home;
  canary: string;
  children: ChildProcess[];
  mcpPort: number;
  daemonPort: number;
  servePort: number;
  full: string;
  readOnly: string;
  close(): void;
}

/** Start a long-running baton child (as root) and wait for a line matching `pattern` on its output. */
function startChild(
  s: Pick<Surfaces, "home" | "children">,
  args: string[],
  pattern: RegExp,
): Promise<RegExpExecArray> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, BATON_HOME: s.home.dir, BATON_DURABILITY: "normal", NO_COLOR: "1" },
    cwd: s.home.dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  s.children.push(child);
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(
      () => reject(new Error(`baton ${args.join(" ")}: no ${pattern} in ${text}`)),
      20_000,
    );
    const on = (d: Buffer) => {
      text += d.toString();
      const m = pattern.exec(text);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout.on("data", on);
    child.stderr.on("data", on);
    child.once("exit", (code) => reject(new Error(`baton ${args.join(" ")} exited ${code}: ${text}`)));
  });
}

async function startSurfaces(): Promise<Surfaces> {
  const home = newHome();
  const children: ChildProcess[] = [];
  const s = { home, children };
  const dash = cliJson(home, ["dashboard", "--no-open"]);
  const [mcp, serve] = await Promise.all([
    startChild(s, ["mcp", "--http", "--tools", "full", "--port", "0"], /http:\/\/127\.0\.0\.1:(\d+)\/mcp/),
    startChild(s, ["serve", "--port", "0"], /http:\/\/127\.0\.0\.1:(\d+)\//),
  ]);
  return {
    home,
    canary: join(home.dir, "pwned"),
    children,
    mcpPort: Number(mcp[1]),
    daemonPort: dash.port,
    servePort: Number(serve[1]),
    full: cliJson(home, ["token", "show"]).token,
    readOnly: cliJson(home, ["token", "show", "--read-only"]).token,
    close() {
      for (const c of children) c.kill("SIGTERM");
    },
  };
}

/** What the attacks must not change. */
function ledgerState(home: Home) {
  return {
    jobs: jobRows(home).map((j) => `${j.id}:${j.state}`),
    events: eventRows(home).length,
    paused: cliJson(home, ["health"]).paused,
  };
}

/** Nothing ran: a proper command still runs; the canary never appeared; no job names it. */
function expectNothingStarted(s: Surfaces): void {
  cliJson(s.home, ["run", "--wait", "--", "true"]);
  expect(existsSync(s.canary)).toBe(false);
  expect(
    withDb(s.home, (db) => db.prepare("SELECT id FROM jobs WHERE payload LIKE '%pwned%'").all()),
  ).toEqual([]);
}

describe.skipIf(!isRoot || !hasRunuser)("R-36 a second local user against every surface", () => {
  beforeAll(() => {
    attackerDir = mkdtempSync(join(tmpdir(), "baton-attacker-"));
    chmodSync(attackerDir, 0o755);
    writeFileSync(join(attackerDir, "attack.cjs"), ATTACKER, { mode: 0o644 });
  });
  afterAll(() => {
    if (attackerDir !== undefined) rmSync(attackerDir, { recursive: true, force: true });
  });

  it("R-36 finding 1: curl as nobody cannot initialize `baton mcp --http --tools full`, let alone run_command", async () => {
    const s = await startSurfaces();
    try {
      const before = ledgerState(s.home);
      const init = spawnSync(
        "runuser",
        ["-u", "nobody", "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"]
          .concat([
            "-H",
            "content-type: application/json",
            "-H",
            "accept: application/json, text/event-stream",
          ])
          .concat(["-d", INIT, `http://127.0.0.1:${s.mcpPort}/mcp`]),
        { encoding: "utf8", timeout: 20_000 },
      );
      expect(init.stdout).toBe("401");
      const attack = mcpBody(2, "tools/call", {
        name: "run_command",
        arguments: { argv: ["sh", "-c", `id > '${s.canary}'`], cwd: "/tmp" },
      });
      const outcomes = asNobody(
        [undefined, "Bearer not-the-token-at-all-000000", `Bearer ${s.readOnly}`].map((auth, i) => ({
          label: `mcp ${i}`,
          port: s.mcpPort,
          method: "POST",
          path: "/mcp",
          headers: auth === undefined ? MCP_HEADERS : { ...MCP_HEADERS, authorization: auth },
          body: attack,
        })),
      );
      expect(outcomes.map((o) => o.status)).toEqual([401, 401, 200]);
      // The read-only token reaches MCP, but only its read-only tools: run_command is not one.
      expect(outcomes[2]!.body).toMatch(/not found|Unknown tool|-32602/i);
      expect(ledgerState(s.home)).toEqual(before);
      expectNothingStarted(s);
    } finally {
      s.close();
    }
  });

  it("R-36 every surface refuses no token, a wrong token, the read-only token on a change, a foreign Host and Origin", async () => {
    const s = await startSurfaces();
    try {
      const before = ledgerState(s.home);
      const runArgs = { argv: ["sh", "-c", `id > '${s.canary}'`], cwd: "/tmp" };
      const wrong = "Bearer wrong-token-0123456789abcdef";
      const ro = `Bearer ${s.readOnly}`;
      const full = `Bearer ${s.full}`;
      const attacks: (Attack & { expect: number })[] = [];
      const add = (
        label: string,
        port: number,
        method: string,
        path: string,
        headers: Record<string, string>,
        body: string | undefined,
        status: number,
      ) =>
        attacks.push({
          label,
          port,
          method,
          path,
          headers,
          ...(body === undefined ? {} : { body }),
          expect: status,
        });
      for (const [name, port] of [
        ["daemon", s.daemonPort],
        ["serve", s.servePort],
      ] as const) {
        // HTTP API: a process, a checkpoint, a pause; reads.
        for (const [op, input] of [
          ["run_command", runArgs],
          ["enqueue_task", { payload: { from: "nobody" } }],
          ["pause", {}],
        ] as const) {
          const body = JSON.stringify(input);
          add(`${name} ${op} no token`, port, "POST", `/api/ops/${op}`, JSON_HEADERS, body, 401);
          add(
            `${name} ${op} wrong token`,
            port,
            "POST",
            `/api/ops/${op}`,
            { ...JSON_HEADERS, authorization: wrong },
            body,
            401,
          );
          add(
            `${name} ${op} read-only token`,
            port,
            "POST",
            `/api/ops/${op}`,
            { ...JSON_HEADERS, authorization: ro },
            body,
            403,
          );
          add(
            `${name} ${op} foreign Host`,
            port,
            "POST",
            `/api/ops/${op}`,
            { ...JSON_HEADERS, authorization: full, host: "evil.example" },
            body,
            403,
          );
          add(
            `${name} ${op} foreign Origin`,
            port,
            "POST",
            `/api/ops/${op}`,
            { ...JSON_HEADERS, authorization: full, origin: "http://evil.example" },
            body,
            403,
          );
          add(
            `${name} ${op} null Origin`,
            port,
            "POST",
            `/api/ops/${op}`,
            { ...JSON_HEADERS, authorization: full, origin: "null" },
            body,
            403,
          );
        }
        add(`${name} jobs no token`, port, "GET", "/api/jobs", {}, undefined, 401);
        add(`${name} SSE no token`, port, "GET", "/api/stream", {}, undefined, 401);
        add(`${name} SSE wrong token`, port, "GET", "/api/stream", { authorization: wrong }, undefined, 401);
        add(
          `${name} SSE foreign Host`,
          port,
          "GET",
          "/api/stream",
          { authorization: full, host: "evil.example" },
          undefined,
          403,
        );
        add(`${name} dashboard no token`, port, "GET", "/", {}, undefined, 401);
        add(
          `${name} dashboard wrong token`,
          port,
          "GET",
          "/?token=wrong-token-0123456789abcdef",
          {},
          undefined,
          401,
        );
        add(
          `${name} dashboard wrong cookie`,
          port,
          "GET",
          "/",
          { cookie: `baton_session_${port}=wrong-token-0123456789abcdef` },
          undefined,
          401,
        );
      }
      const call = mcpBody(2, "tools/call", { name: "run_command", arguments: runArgs });
      const enqueue = mcpBody(3, "tools/call", {
        name: "enqueue_task",
        arguments: { payload: { from: "nobody" } },
      });
      for (const [name, port, path] of [
        ["mcp --http", s.mcpPort, "/mcp"],
        ["daemon /mcp", s.daemonPort, "/mcp?tools=full"],
        ["serve /mcp", s.servePort, "/mcp?tools=full"],
      ] as const) {
        for (const body of [INIT, call, enqueue]) {
          add(`${name} no token`, port, "POST", path, MCP_HEADERS, body, 401);
          add(`${name} wrong token`, port, "POST", path, { ...MCP_HEADERS, authorization: wrong }, body, 401);
          add(
            `${name} foreign Host`,
            port,
            "POST",
            path,
            { ...MCP_HEADERS, authorization: full, host: "evil.example" },
            body,
            403,
          );
          add(
            `${name} foreign Origin`,
            port,
            "POST",
            path,
            { ...MCP_HEADERS, authorization: full, origin: "http://evil.example" },
            body,
            403,
          );
        }
        add(`${name} GET no token`, port, "GET", path, { accept: "text/event-stream" }, undefined, 401);
      }
      const outcomes = asNobody(attacks);
      const wrongStatus = outcomes
        .map((o, i) => ({ ...o, expect: attacks[i]!.expect }))
        .filter((o) => o.status !== o.expect)
        .map((o) => `${o.label}: ${o.status} (wanted ${o.expect}) ${o.body.slice(0, 120)}`);
      expect(wrongStatus).toEqual([]);
      // A 401 says how to authenticate (and nothing an MCP client would take for OAuth discovery).
      for (const [i, o] of outcomes.entries())
        if (attacks[i]!.expect === 401)
          expect((o as Outcome & { wwwAuthenticate?: string }).wwwAuthenticate).toBe('Bearer realm="baton"');
      // MCP with the read-only token: run_command is not among its tools; enqueue is refused.
      const [roCall, roEnqueue] = asNobody([
        {
          label: "ro call",
          port: s.mcpPort,
          method: "POST",
          path: "/mcp",
          headers: { ...MCP_HEADERS, authorization: ro },
          body: call,
        },
        {
          label: "ro enqueue",
          port: s.daemonPort,
          method: "POST",
          path: "/mcp",
          headers: { ...MCP_HEADERS, authorization: ro },
          body: enqueue,
        },
      ]);
      expect(roCall!.body).not.toContain('"isError":false');
      expect(roCall!.body).toMatch(/-32602|not found|unknown tool/i);
      expect(roEnqueue!.body).toMatch(/-32602|not found|unknown tool/i);
      // The daemon's socket: nobody cannot even connect (0700 home, 0600 socket).
      const [sock] = asNobody([
        {
          label: "socket",
          socket: socketPath(s.home.dir),
          method: "cli",
          params: { argv: ["run", "--", "sh", "-c", `id > '${s.canary}'`] },
        },
      ]);
      expect(sock!.error).toBe("EACCES");
      expect(ledgerState(s.home)).toEqual(before);
      expectNothingStarted(s);
    } finally {
      s.close();
    }
  });
});
