import { Client } from "@modelcontextprotocol/client";
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
