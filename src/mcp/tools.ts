/**
 * Operations of the catalogue as MCP tools. Nothing here names an operation: every operation whose
 * `agent` exposure is in the chosen set becomes a tool, so operations added later appear without
 * MCP code.
 */
import type {
  CallToolResult,
  McpServer,
  ServerContext,
  StandardSchemaWithJSON,
  ToolAnnotations,
} from "@modelcontextprotocol/server";
import type { z } from "zod";
import type { ErrorCode } from "../core/errors.js";
import { InvalidInputError, toBatonError } from "../core/errors.js";
import { invoke } from "../ops/invoke.js";
import { withProgress } from "./follow.js";
import { compactInputSchema, compactOutputSchema } from "./schema.js";
import type { AgentExposure, Operation, OpContext } from "../ops/operation.js";

/** Which tools a server offers: the small default set, or every operation meant for agents. */
export type ToolSet = "default" | "full";

/**
 * Where tool calls get their context. Asynchronous so that a server can answer `initialize` before
 * its database is open, and can answer every call with the store's error code if it cannot open.
 */
export type ContextSource = () => Promise<OpContext>;

/** Arguments nested deeper than this are refused before they reach an operation. */
export const MAX_ARGUMENT_DEPTH = 64;
/** Arrays and objects in one call's arguments, at most (a 10,000-task batch is ~30,000). */
export const MAX_ARGUMENT_NODES = 200_000;
/**
 * Hosts give up on a tool call after about 60 s, so no call may block longer than this: a
 * `timeoutSeconds` argument (wait-style operations) is capped, and the answer says "still running".
 */
export const MAX_WAIT_SECONDS = 45;
/** Error messages are cut to this length: an echoed 10 MB key must not come back in full. */
const MAX_MESSAGE_CHARS = 500;

export function exposedIn(set: ToolSet): readonly AgentExposure[] {
  return set === "full" ? ["default", "full"] : ["default"];
}

/** The operations a tool set exposes, in catalogue order. */
export function toolOperations(operations: readonly Operation[], set: ToolSet): Operation[] {
  const wanted = exposedIn(set);
  return operations.filter((op) => wanted.includes(op.agent));
}

/** Tool annotations straight from the operation's flags (the spec's hints, stated honestly). */
export function annotationsOf(op: Operation): ToolAnnotations {
  return {
    readOnlyHint: op.readOnly,
    destructiveHint: op.destructive,
    idempotentHint: op.idempotent,
    openWorldHint: false,
  };
}

type Json = Record<string, unknown>;
type ConvertOptions = Parameters<StandardSchemaWithJSON["~standard"]["jsonSchema"]["input"]>[0];

/**
 * The SDK wants a Standard Schema with a JSON Schema converter. Input is advertised from the zod
 * schema (compacted, see schema.ts) but validated by `invoke()`, not by the SDK: then a bad argument
 * comes back as an `isError` result carrying `INVALID_INPUT`, the same code the CLI and HTTP API give.
 */
export function advertisedInput(
  schema: z.ZodType,
  compact: (json: Json) => Json = compactInputSchema,
): StandardSchemaWithJSON {
  const std = schema["~standard"] as unknown as StandardSchemaWithJSON["~standard"];
  const cache = new Map<string, Json>();
  const convert = (io: "input" | "output", options: ConvertOptions): Json => {
    const key = `${io}:${options.target}`;
    let json = cache.get(key);
    if (json === undefined) {
      json = compact(std.jsonSchema[io](options));
      cache.set(key, json);
    }
    return json;
  };
  return {
    "~standard": {
      version: 1,
      vendor: "baton",
      validate: (value: unknown) => ({ value }),
      jsonSchema: { input: (o) => convert("input", o), output: (o) => convert("output", o) },
    },
  };
}

/** The output schema, validated by the SDK with zod (a mismatch is a bug we want to see). */
export function advertisedOutput(schema: z.ZodType): StandardSchemaWithJSON {
  const std = schema["~standard"] as unknown as StandardSchemaWithJSON["~standard"];
  const advertised = advertisedInput(schema, compactOutputSchema)["~standard"];
  return { "~standard": { ...advertised, validate: (value: unknown) => std.validate(value) } };
}

/**
 * Refuse arguments that are absurdly deep or large before an operation (or `JSON.stringify`, which
 * recurses) touches them. Iterative, so a million-deep array cannot overflow the stack here.
 */
export function checkArgumentShape(value: unknown): void {
  const stack: [unknown, number][] = [[value, 0]];
  let nodes = 0;
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== "object") continue;
    if (depth >= MAX_ARGUMENT_DEPTH) {
      throw new InvalidInputError(`arguments are nested deeper than ${MAX_ARGUMENT_DEPTH} levels`);
    }
    if (++nodes > MAX_ARGUMENT_NODES) {
      throw new InvalidInputError(`arguments hold more than ${MAX_ARGUMENT_NODES} arrays and objects`);
    }
    for (const child of Array.isArray(current) ? current : Object.values(current))
      stack.push([child, depth + 1]);
  }
}

/** Cap a wait-style `timeoutSeconds` at {@link MAX_WAIT_SECONDS}. */
export function boundWaits(args: unknown): unknown {
  if (args === null || typeof args !== "object" || Array.isArray(args)) return args ?? {};
  const timeout = (args as { timeoutSeconds?: unknown }).timeoutSeconds;
  return typeof timeout === "number" && timeout > MAX_WAIT_SECONDS
    ? { ...args, timeoutSeconds: MAX_WAIT_SECONDS }
    : args;
}

function clip(message: string): string {
  return message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS - 1)}…` : message;
}

/**
 * A tool error an agent can act on: `{"error":{"code","message"}}` as the text content. There is no
 * `structuredContent`: it would have to match the tool's output schema, and some clients (the MCP
 * Inspector) validate it even on errors.
 */
export function errorResult(error: unknown): CallToolResult {
  return { content: [{ type: "text", text: JSON.stringify({ error: errorBody(error) }) }], isError: true };
}

/** The wire form of an error (MCP and HTTP): code, a clipped message, and small details. */
export function errorBody(error: unknown): { code: ErrorCode; message: string; details?: unknown } {
  const e = toBatonError(error);
  const body: { code: ErrorCode; message: string; details?: unknown } = {
    code: e.code,
    message: clip(e.message),
  };
  if (e.details !== undefined && JSON.stringify(e.details).length <= MAX_MESSAGE_CHARS)
    body.details = e.details;
  return body;
}

/** A successful call: structured content plus the same object as compact JSON text for older clients. */
export function okResult(data: unknown): CallToolResult {
  return {
    content: [{ type: "text", text: JSON.stringify(data) }],
    structuredContent: data,
  };
}

/** Run an operation for a tool call: shape check, `invoke()` (validation + handler), result mapping. */
export async function callOperation(op: Operation, args: unknown, ctx: OpContext): Promise<CallToolResult> {
  try {
    checkArgumentShape(args);
    const data = await invoke(op, boundWaits(args), ctx);
    return okResult(data);
  } catch (error) {
    return errorResult(error);
  }
}

/** Register one tool per exposed operation. */
export function registerOperationTools(
  server: McpServer,
  operations: readonly Operation[],
  set: ToolSet,
  ctx: ContextSource,
): void {
  for (const op of toolOperations(operations, set)) {
    server.registerTool(
      op.name,
      {
        title: op.title,
        description: op.summary,
        inputSchema: advertisedInput(op.input),
        outputSchema: advertisedOutput(op.output),
        annotations: annotationsOf(op),
      },
      async (args: unknown, request: ServerContext) => {
        let context: OpContext;
        try {
          context = await ctx();
        } catch (error) {
          return errorResult(error);
        }
        return withProgress(op, args, context, request, () => callOperation(op, args, context));
      },
    );
  }
}
