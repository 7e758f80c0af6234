/**
 * Request ids (R-32): a caller names a mutating call with an id of its own choosing, and sends the
 * same id again when it lost the answer (its daemon died mid-call, a connection broke). The store
 * records each write transaction of the request, in that transaction, under `(id, seq)`; a repeat
 * of the request replays those writes' answers instead of doing them again, so the operation
 * answers what the first call did and the ledger changes once.
 *
 * The scope is held in AsyncLocalStorage around each store call made through a request-bound engine
 * ({@link Engine.forRequest}), not around the whole operation: work the store call does not make
 * itself (a daemon's supervisor reacting to the new job) is never counted as the request's.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import { InvalidInputError } from "./errors.js";

export interface RequestScope {
  /** The caller's request id. */
  readonly id: string;
  /**
   * The call it was given to: the operation's name and a fingerprint of its validated input
   * ({@link callOf}). A repeat under another operation, or with other arguments, is refused.
   */
  readonly op: string;
  /** Write transactions this request has begun so far (the next one is `seq + 1`). */
  seq: number;
  /** True once a write of this request was answered from the ledger instead of being done. */
  replayed: boolean;
  /**
   * True once a write of this request was done and recorded (in its transaction). A write begun
   * and refused (a transition the ledger did not allow) leaves it false: `seq` counts it all the same.
   */
  wrote?: boolean;
}

/** How long the ledger remembers a request's outcome: a repeat after this is a new request. */
export const REQUEST_RETENTION_MS = 24 * 3_600_000;

const REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

/**
 * Check a request id given by a caller: 1–200 characters of letters, digits and `._:-`.
 *
 * @example
 * checkRequestId("cli-01HZ…"); // "cli-01HZ…"
 */
export function checkRequestId(id: string): string {
  if (!REQUEST_ID.test(id))
    throw new InvalidInputError(
      `a request id is 1 to 200 letters, digits, '.', '_', ':' or '-' (starting with a letter or digit), not ${JSON.stringify(id.slice(0, 40))}`,
    );
  return id;
}

/**
 * What a request id is bound to: the operation and a hash of its validated input, so that reusing
 * an id for a call with other arguments is refused instead of silently answered with the first
 * call's result (the caller would believe work was done that never was).
 *
 * @example
 * callOf("enqueue_task", { payload: { r: 1 } }); // "enqueue_task#3b1f…" (16 hex digits)
 */
export function callOf(op: string, input: unknown): string {
  const hash = createHash("sha256")
    .update(JSON.stringify(input) ?? "")
    .digest("hex");
  return `${op}#${hash.slice(0, 16)}`;
}

/**
 * Refuse a request whose id was first given to another call (`recorded`, as the ledger holds it):
 * another operation, or the same one with other arguments. A call recorded before calls carried a
 * fingerprint names its operation alone, and any call of that operation matches it.
 *
 * @example
 * refuseOtherCall(request, "complete_task#3b1f…"); // throws INVALID_INPUT "… with other arguments …"
 */
export function refuseOtherCall(request: Pick<RequestScope, "id" | "op">, recorded: string): void {
  if (recorded === request.op) return;
  const first = opOfCall(recorded);
  const sameOp = first === opOfCall(request.op);
  if (sameOp && first === recorded) return;
  throw new InvalidInputError(
    sameOp
      ? `request id '${request.id}' was used for ${first} with other arguments: a repeat must be the same call (use a new id for a new call)`
      : `request id '${request.id}' was used for ${first}: a repeat must be the same call (use a new id for a new call)`,
  );
}

/** The operation's name in a recorded call (`enqueue_task#…` → `enqueue_task`). */
export function opOfCall(call: string): string {
  const at = call.indexOf("#");
  return at === -1 ? call : call.slice(0, at);
}

const storage = new AsyncLocalStorage<RequestScope>();

/** The request the current store call belongs to, if any. */
export function currentRequest(): RequestScope | undefined {
  return storage.getStore();
}

/** Run `fn` (a store call) as part of `scope`. */
export function inRequest<T>(scope: RequestScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** A write's answer as stored: wrapped, so `undefined` survives the trip through JSON. */
export function encodeRecorded(value: unknown): string {
  return JSON.stringify({ v: value });
}

export function decodeRecorded<T>(text: string): T {
  return (JSON.parse(text) as { v: T }).v;
}
