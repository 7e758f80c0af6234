import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { spawn, spawnSync } from "node:child_process";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/client/stdio";
import { BIN } from "./cli.js";

export interface Connected {
  client: Client;
  transport: StdioClientTransport;
  stderr: () => string;
  close(): Promise<void>;
}

/** Spawn the built `baton mcp` and connect the SDK's own client to it over stdio. */
export async function connectStdio(
  home: string,
  args: string[] = [],
  cwd = home,
  options: ConstructorParameters<typeof Client>[1] = {},
): Promise<Connected> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, "mcp", ...args],
    env: { ...getDefaultEnvironment(), BATON_HOME: home, BATON_DURABILITY: "normal" },
    stderr: "pipe",
    cwd,
  });
  let stderr = "";
  transport.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const client = new Client({ name: "baton-test", version: "1.0.0" }, options);
  await client.connect(transport);
  return { client, transport, stderr: () => stderr, close: () => client.close() };
}

export interface ToolCall {
  isError?: boolean;
  structuredContent?: unknown;
  content: { type: string; text?: string }[];
}

/** Structured content as tests read it: loosely, field by field. */

type Loose = any;

/** Call a tool and return its result with `structuredContent` typed loosely for assertions. */
export async function call(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<ToolCall & { data: Loose }> {
  const result = (await client.callTool({ name, arguments: args })) as ToolCall;
  return { ...result, data: result.structuredContent };
}

/** The `{code, message}` of an `isError` tool result (carried in its JSON text). */
export function toolError(result: ToolCall): { code: string; message: string } {
  const text = result.content.find((c) => c.type === "text")?.text ?? "";
  return (JSON.parse(text) as { error: { code: string; message: string } }).error;
}

export interface HttpServer {
  child: ChildProcessWithoutNullStreams;
  /** `http://127.0.0.1:<port>/mcp` */
  url: URL;
  /** The home's full token. */
  token: string;
}

/** Spawn the built `baton mcp --http --port 0 …args` and read its URL (stderr) and the home's token. */
export async function startHttp(home: string, args: string[] = [], cwd = home): Promise<HttpServer> {
  const child = spawn(process.execPath, [BIN, "mcp", "--http", "--port", "0", ...args], {
    env: { ...process.env, BATON_HOME: home, BATON_DURABILITY: "normal" },
    cwd,
  });
  child.stdout.resume();
  const url = await new Promise<URL>((resolve, reject) => {
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no URL within 20 s: ${stderr}`));
    }, 20_000);
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(stderr);
      if (m !== null) {
        clearTimeout(timer);
        resolve(new URL(m[1]!));
      }
    });
  });
  const shown = spawnSync(process.execPath, [BIN, "token", "show", "--json"], {
    env: { ...process.env, BATON_HOME: home },
    encoding: "utf8",
  });
  const token = (JSON.parse(shown.stdout) as { data: { token: string } }).data.token;
  return { child, url, token };
}

/** The SDK's client over Streamable HTTP to a server {@link startHttp} started. */
export async function connectHttp(server: HttpServer): Promise<Client> {
  const client = new Client({ name: "baton-test", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(server.url, {
      requestInit: { headers: { authorization: `Bearer ${server.token}` } },
    }),
  );
  return client;
}
