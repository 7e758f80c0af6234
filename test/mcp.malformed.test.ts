/**
 * garbage on the MCP server's stdin. Every malformed message gets an answer (a JSON-RPC error,
 * or an `isError` tool result with a baton code), the server keeps serving, and stdout carries
 * nothing but protocol frames.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { BIN } from "./helpers/cli.js";
import { tempDir } from "./helpers/tmp.js";

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Malformed {
  kind: string;
  /** The raw line (without newline), or bytes. */
  line: string | Buffer;
  /** The id the answer must carry: a number, or null when the message cannot be read. */
  id: number | null;
}

const TEN_MB = "x".repeat(10 * 1024 * 1024);

function nested(depth: number): string {
  return `${"[".repeat(depth)}1${"]".repeat(depth)}`;
}

/** 1,000 malformed messages from a dozen families, each a request (or unreadable) so each is owed an answer. */
function malformedMessages(count: number, seed: number): Malformed[] {
  const rand = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const out: Malformed[] = [];
  let nextId = 1000;
  const families: ((id: number) => Malformed)[] = [
    // Not JSON at all.
    () => ({
      kind: "bad-json",
      line: pick([
        "{",
        "}",
        '{"jsonrpc":"2.0",',
        "nope",
        "{'single':'quotes'}",
        "[1,2",
        "\u0000\u0001",
        '{"a":1}}',
      ]),
      id: null,
    }),
    () => ({ kind: "bad-utf8", line: Buffer.from([0xff, 0xfe, 0x7b, 0x80, 0x81]), id: null }),
    () => ({
      kind: "truncated",
      line: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }).slice(
        0,
        5 + Math.floor(rand() * 30),
      ),
      id: null,
    }),
    // JSON, but not JSON-RPC.
    () => ({
      kind: "not-an-object",
      line: pick([
        "42",
        '"text"',
        "null",
        "true",
        "[]",
        "[1,2,3]",
        '[{"jsonrpc":"2.0","id":1,"method":"ping"}]',
      ]),
      id: null,
    }),
    (id) => ({ kind: "wrong-version", line: JSON.stringify({ jsonrpc: "1.0", id, method: "ping" }), id }),
    (id) => ({
      kind: "method-not-string",
      line: JSON.stringify({ jsonrpc: "2.0", id, method: pick([123, null, {}, ["tools/list"]]) }),
      id,
    }),
    () => ({
      kind: "bad-id",
      line: JSON.stringify({ jsonrpc: "2.0", id: pick([{}, [], true]), method: "ping" }),
      id: null,
    }),
    (id) => ({
      kind: "params-not-object",
      line: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: pick(["x", 5, [1], true]) }),
      id,
    }),
    // Known methods, wrong types.
    (id) => ({
      kind: "tool-name-type",
      line: JSON.stringify({
        jsonrpc: "2.0",
        id,
        method: "tools/call",
        params: { name: pick([1, null, {}, []]) },
      }),
      id,
    }),
    (id) => ({
      kind: "arguments-type",
      line: JSON.stringify({
        jsonrpc: "2.0",
        id,
        method: "tools/call",
        params: { name: "health", arguments: pick(["x", 1, [1, 2], true]) },
      }),
      id,
    }),
    (id) => ({
      kind: "resource-uri-type",
      line: JSON.stringify({
        jsonrpc: "2.0",
        id,
        method: "resources/read",
        params: { uri: pick([5, null, {}]) },
      }),
      id,
    }),
    (id) => ({
      kind: "prompt-name-type",
      line: JSON.stringify({ jsonrpc: "2.0", id, method: "prompts/get", params: { name: pick([5, null]) } }),
      id,
    }),
    // Unknown things.
    (id) => ({
      kind: "unknown-tool",
      line: JSON.stringify({
        jsonrpc: "2.0",
        id,
        method: "tools/call",
        params: { name: `no_such_tool_${id}`, arguments: {} },
      }),
      id,
    }),
    (id) => ({
      kind: "unknown-method",
      line: JSON.stringify({
        jsonrpc: "2.0",
        id,
        method: pick(["foo/bar", "tools/explode", "", "rpc.discover", "../../etc/passwd"]),
        params: {},
      }),
      id,
    }),
    (id) => ({
      kind: "unknown-resource",
      line: JSON.stringify({
        jsonrpc: "2.0",
        id,
        method: "resources/read",
        params: { uri: pick(["baton://nothing/here", "file:///etc/passwd", "baton://jobs/"]) },
      }),
      id,
    }),
    // Real tools, bad arguments.
    (id) => ({
      kind: "bad-arguments",
      line: JSON.stringify({
        jsonrpc: "2.0",
        id,
        method: "tools/call",
        params: pick([
          { name: "check_task", arguments: { id: 42 } },
          { name: "check_task", arguments: {} },
          { name: "enqueue_task", arguments: { tasks: "many" } },
          { name: "enqueue_task", arguments: { priority: "high", payload: 1 } },
          { name: "complete_task", arguments: { ids: [] } },
          { name: "list_tasks", arguments: { limit: -1 } },
          { name: "audit_log", arguments: { since: "yesterday-ish" } },
          { name: "fail_task", arguments: { id: "x", error: "" } },
          { name: "resume_session", arguments: { budget: "lots" } },
          { name: "health", arguments: { surprise: true } },
          { name: "check_task", arguments: { id: "\u0000\u202e💥'; DROP TABLE jobs; --" } },
        ]),
      }),
      id,
    }),
    (id) => ({
      kind: "deep-arguments",
      line: `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"enqueue_task","arguments":{"payload":${nested(10_000 + Math.floor(rand() * 90_000))}}}}`,
      id,
    }),
    (id) => ({
      kind: "deep-params",
      line: `{"jsonrpc":"2.0","id":${id},"method":"tools/list","params":{"cursor":${nested(50_000)}}}`,
      id,
    }),
  ];
  const huge: ((id: number) => Malformed)[] = [
    (id) => ({
      kind: "10mb-id",
      line: JSON.stringify({
        jsonrpc: "2.0",
        id,
        method: "tools/call",
        params: { name: "check_task", arguments: { id: TEN_MB } },
      }),
      id,
    }),
    (id) => ({
      kind: "10mb-payload",
      line: JSON.stringify({
        jsonrpc: "2.0",
        id,
        method: "tools/call",
        params: { name: "enqueue_task", arguments: { payload: TEN_MB } },
      }),
      id,
    }),
    (id) => ({
      kind: "10mb-key",
      line: JSON.stringify({
        jsonrpc: "2.0",
        id,
        method: "tools/call",
        params: { name: "health", arguments: { [TEN_MB]: 1 } },
      }),
      id,
    }),
    (id) => ({ kind: "10mb-method", line: JSON.stringify({ jsonrpc: "2.0", id, method: TEN_MB }), id }),
    () => ({ kind: "10mb-garbage", line: `{${TEN_MB}`, id: null }),
  ];
  for (let i = 0; i < count; i++) {
    const id = nextId++;
    // A handful of 10 MB messages, spread through the run.
    const family = i % 200 === 100 ? huge[((i / 200) % huge.length) | 0]! : pick(families);
    out.push(family(id));
  }
  return out;
}

class RawServer {
  private buffer = "";
  private waiting: ((line: string) => void)[] = [];
  readonly lines: string[] = [];
  readonly child: ChildProcessWithoutNullStreams;

  constructor(home: string) {
    this.child = spawn(process.execPath, [BIN, "mcp"], {
      env: { ...process.env, BATON_HOME: home, BATON_DURABILITY: "normal" },
      cwd: home,
    });
    this.child.stderr.resume();
    this.child.stdout.setEncoding("utf8");
    this.child.stdout.on("data", (chunk: string) => {
      this.buffer += chunk;
      for (let nl = this.buffer.indexOf("\n"); nl !== -1; nl = this.buffer.indexOf("\n")) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        this.lines.push(line);
        this.waiting.shift()?.(line);
      }
    });
  }

  /** Write one line and resolve with the next line the server prints. */
  send(line: string | Buffer): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no answer within 20 s")), 20_000);
      this.waiting.push((answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.child.stdin.write(
        Buffer.concat([Buffer.isBuffer(line) ? line : Buffer.from(line, "utf8"), Buffer.from("\n")]),
      );
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.child.once("exit", () => resolve());
      this.child.stdin.end();
    });
  }
}

describe("R-20 malformed MCP messages over stdio", () => {
  it("R-20 answers each of 1,000 malformed messages with a coded error, keeps serving, and prints only protocol frames", async () => {
    const home = tempDir();
    const server = new RawServer(home);
    const init = JSON.parse(
      await server.send(
        JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: {
            protocolVersion: "2025-06-18",
            capabilities: {},
            clientInfo: { name: "fuzz", version: "1" },
          },
        }),
      ),
    );
    expect(init.result.serverInfo.name).toBe("baton");
    server.child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);

    const messages = malformedMessages(1000, 20_20);
    const kinds = new Map<string, number>();
    for (const message of messages) {
      const answer = JSON.parse(await server.send(message.line)) as {
        jsonrpc: string;
        id: unknown;
        error?: { code: unknown; message: unknown };
        result?: { isError?: boolean; content?: { text: string }[] };
      };
      const label = `${message.kind}: ${(Buffer.isBuffer(message.line) ? message.line.toString("hex") : message.line).slice(0, 120)}`;
      expect(answer.jsonrpc, label).toBe("2.0");
      expect(answer.id, label).toBe(message.id);
      if (answer.error !== undefined) {
        expect(typeof answer.error.code, label).toBe("number");
        expect(typeof answer.error.message, label).toBe("string");
      } else {
        expect(answer.result?.isError, label).toBe(true);
        const body = JSON.parse(answer.result!.content![0]!.text) as { error: { code: string } };
        expect(body.error.code, label).toMatch(/^[A-Z_]+$/);
      }
      kinds.set(message.kind, (kinds.get(message.kind) ?? 0) + 1);
    }
    expect(kinds.size).toBeGreaterThanOrEqual(20);

    // Still serving: a real call works.
    const health = JSON.parse(
      await server.send(
        JSON.stringify({
          jsonrpc: "2.0",
          id: 99_999,
          method: "tools/call",
          params: { name: "health", arguments: {} },
        }),
      ),
    );
    expect(health.id).toBe(99_999);
    expect(health.result.structuredContent.ok).toBe(true);
    // Nothing malformed was written to the ledger.
    expect(health.result.structuredContent.counts).toEqual({});

    await server.close();
    // Every line on stdout is one JSON-RPC frame.
    expect(server.lines.length).toBe(1 + messages.length + 1);
    for (const line of server.lines) {
      const frame = JSON.parse(line) as Record<string, unknown>;
      expect(frame.jsonrpc).toBe("2.0");
      expect("result" in frame || "error" in frame || "method" in frame).toBe(true);
    }
  });
});
