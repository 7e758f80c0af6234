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
import { invoke } from "../ops/invoke.js";
import { InvalidInputError } from "../core/errors.js";
import { checkRequestId } from "../core/request.js";
import { withProgress } from "./follow.js";
import { boundWaits, checkArgumentShape, errorBody } from "../ops/wire.js";
import { compactInputSchema, compactOutputSchema } from "./schema.js";
import { hintsOf } from "../ops/operation.js";
import type { AgentExposure, Operation, OpContext } from "../ops/operation.js";

/** Which tools a server offers: the small default set, or every operation meant for agents. */
export type ToolSet = "default" | "full";

/**
 * Where tool calls get their context. Asynchronous so that a server can answer `initialize` before
 * its database is open, and can answer every call with the store's error code if it cannot open.
 */
export type ContextSource = () => Promise<OpContext>;

export function exposedIn(set: ToolSet): readonly AgentExposure[] {
  return set === "full" ? ["default", "full"] : ["default"];
}

/** The operations a tool set exposes, in catalogue order. */
export function toolOperations(operations: readonly Operation[], set: ToolSet): Operation[] {
  const wanted = exposedIn(set);
  return operations.filter((op) => wanted.includes(op.agent));
}

/** Tool annotations derived from the operation's effects (see `hintsOf`), stated honestly. */
export function annotationsOf(op: Operation): ToolAnnotations {
  const h = hintsOf(op);
  return {
    readOnlyHint: h.readOnly,
    destructiveHint: h.destructive,
    idempotentHint: h.idempotent,
    openWorldHint: h.openWorld,
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
 * A tool error an agent can act on: `{"error":{"code","message"}}` as the text content. There is no
 * `structuredContent`: it would have to match the tool's output schema, and some clients (the MCP
 * Inspector) validate it even on errors.
 */
export function errorResult(error: unknown): CallToolResult {
  return { content: [{ type: "text", text: JSON.stringify({ error: errorBody(error) }) }], isError: true };
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

/** The optional argument of every tool that is not read-only (D50). */
export const REQUEST_ID_ARGUMENT = "request_id";
/** The same id given by a host in the request's `_meta` instead (costs no schema characters). */
export const REQUEST_ID_META = "baton/request_id";

/** A mutating tool's input schema with the optional `request_id` the catalogue's ops do not name. */
function withRequestIdArgument(json: Json): Json {
  const properties = (json.properties ?? {}) as Json;
  return {
    ...json,
    properties: {
      ...properties,
      [REQUEST_ID_ARGUMENT]: {
        type: "string",
        description: "Your call id: a repeat returns the first answer",
      },
    },
  };
}

/**
 * The caller's request id from `request_id` or `_meta["baton/request_id"]`, and the
 * arguments without it (the operation's own input does not know it). A non-string is refused.
 */
export function takeRequestId(
  op: Operation,
  args: unknown,
  meta: Record<string, unknown> | undefined,
): { args: unknown; requestId?: string } {
  let given: unknown = meta?.[REQUEST_ID_META];
  let rest = args;
  if (!op.readOnly && args !== null && typeof args === "object" && REQUEST_ID_ARGUMENT in args) {
    const { [REQUEST_ID_ARGUMENT]: fromArgs, ...others } = args as Json;
    // Two different ids for one call: which the caller will repeat is unknown (stranger s18a: the
    // argument won and _meta's was dropped silently).
    if (given !== undefined && fromArgs !== undefined && given !== fromArgs)
      throw new InvalidInputError(
        `${REQUEST_ID_ARGUMENT} and _meta["${REQUEST_ID_META}"] name two different request ids: give one`,
      );
    given = fromArgs;
    rest = others;
  }
  if (given === undefined) return { args: rest };
  if (typeof given !== "string") throw new InvalidInputError(`${REQUEST_ID_ARGUMENT} must be a string`);
  return { args: rest, requestId: checkRequestId(given) };
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
        inputSchema: op.readOnly
          ? advertisedInput(op.input)
          : advertisedInput(op.input, (json) => withRequestIdArgument(compactInputSchema(json))),
        outputSchema: advertisedOutput(op.output),
        annotations: annotationsOf(op),
      },
      (args: unknown, request: ServerContext) => callTool(op, args, request, ctx),
    );
  }
}

/**
 * One tool call: the request id taken out of the arguments (or `_meta`), the shared context, then
 * the operation (with progress while a long-polling one waits). Task-augmented calls (tasks.ts) run
 * through here too, so they answer exactly what a plain call would.
 */
export async function callTool(
  op: Operation,
  args: unknown,
  request: ServerContext,
  ctx: ContextSource,
): Promise<CallToolResult> {
  let context: OpContext;
  let input: unknown;
  try {
    const taken = takeRequestId(op, args, request.mcpReq._meta);
    input = taken.args;
    const shared = await ctx();
    context = taken.requestId === undefined ? shared : { ...shared, requestId: taken.requestId };
  } catch (error) {
    return errorResult(error);
  }
  return withProgress(op, input, context, request, () => callOperation(op, input, context));
}
