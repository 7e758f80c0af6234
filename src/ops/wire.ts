/**
 * What every network front-end (MCP, the HTTP API) does to arguments before an operation sees them
 * and to errors before they leave: adapter-neutral, so no adapter borrows from another.
 */
import type { ErrorCode } from "../core/errors.js";
import { InvalidInputError, toBatonError } from "../core/errors.js";

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
