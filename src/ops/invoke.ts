import { InvalidInputError } from "../core/errors.js";
import { callOf, checkRequestId, decodeRecorded, refuseOtherCall } from "../core/request.js";
import type { RequestScope } from "../core/request.js";
import { withProjectRoot } from "./common.js";
import type { Operation, OpContext } from "./operation.js";

/**
 * The issues with a declared bound first: for an integer out of its range (`priority` 1e20) zod
 * reports the JavaScript safe-integer limit (9007199254740991) before the field's own limit (1000),
 * which is the one to name.
 */
export function boundsFirst<T extends { path: readonly PropertyKey[]; message: string }>(
  issues: readonly T[],
): T[] {
  const safeRange = (i: T) => {
    const { origin, maximum, minimum } = i as { origin?: unknown; maximum?: unknown; minimum?: unknown };
    return origin === "int" && (maximum === Number.MAX_SAFE_INTEGER || minimum === Number.MIN_SAFE_INTEGER);
  };
  const same = (a: T, b: T) => a.path.map(String).join(".") === b.path.map(String).join(".");
  return [...issues].sort(
    (a, b) =>
      (safeRange(a) && issues.some((o) => o !== a && same(o, a) && !safeRange(o)) ? 1 : 0) -
      (safeRange(b) && issues.some((o) => o !== b && same(o, b) && !safeRange(o)) ? 1 : 0),
  );
}

/** Describe the first problem zod found, naming the field. */
export function describeIssue(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  const issue = boundsFirst(issues)[0];
  if (issue === undefined) return "invalid input";
  const path = issue.path.map(String).join(".");
  return path === "" ? issue.message : `${path}: ${issue.message}`;
}

/** Most issues an INVALID_INPUT error lists in its details. */
const MAX_ISSUES = 10;

/**
 * An INVALID_INPUT error for what zod found, its message naming the first field and its details
 * listing each problem with its field path (`tasks.0.payload`; "" for the input as a whole), so a
 * client can point at the field. `rename` maps field names back to what the caller wrote (an HTTP
 * query's `q` is the operation's `text`).
 */
export function inputError(
  what: string,
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  rename: Readonly<Record<string, string>> = {},
): InvalidInputError {
  const named = boundsFirst(issues).map((i) => ({
    path: i.path.map((p, n) => (n === 0 ? (rename[String(p)] ?? String(p)) : String(p))),
    message: i.message,
  }));
  return new InvalidInputError(`${what}: ${describeIssue(named)}`, {
    issues: named.slice(0, MAX_ISSUES).map((i) => ({ path: i.path.join("."), message: i.message })),
  });
}

/**
 * Validate raw input against an operation's schema and run it. Every front-end calls this, so
 * validation and error shapes are the same everywhere. `what` names the call in error messages
 * (default: the operation's name).
 */
export async function invoke(
  op: Operation,
  raw: unknown,
  ctx: OpContext,
  what: string = op.name,
  rename?: Readonly<Record<string, string>>,
): Promise<unknown> {
  const parsed = op.input.safeParse(raw ?? {});
  if (!parsed.success) throw inputError(what, parsed.error.issues, rename);
  const input = withProjectRoot(op.input, parsed.data, ctx);
  if (ctx.requestId === undefined || op.readOnly) return op.run(input, ctx);
  const request: RequestScope = {
    id: checkRequestId(ctx.requestId),
    op: callOf(op.name, input),
    seq: 0,
    replayed: false,
  };
  // The id's first recorded write names the call it belongs to: another call is refused before it
  // runs (a call that writes nothing, or whose only write the ledger refuses — stop_job's probe of
  // a cancelled job, stranger s18a — never met that record). A call that wrote nothing bound the
  // id with its answer (D157): the repeat gets that answer.
  const first = await ctx.engine.store.requestCall(request.id);
  if (first !== undefined) {
    refuseOtherCall(request, first.op);
    if (first.seq === 0) return decodeRecorded(first.result);
  }
  const answer = await op.run(input, { ...ctx, engine: ctx.engine.forRequest(request), request });
  // Bound now, so that the id cannot be taken by another call (stranger s17j: a stop of a finished
  // job left its id free; `run` took it, and the stop repeated under it was refused). A write begun
  // and refused counts as none. The answer stands if the binding cannot be written: the call
  // changed nothing. Another call that took the id meanwhile is this one's refusal.
  if (op.idempotent && request.wrote !== true && !request.replayed) {
    const taken = await ctx.engine.store.bindRequest(request.id, request.op, answer).catch(() => undefined);
    if (taken !== undefined) refuseOtherCall(request, taken);
  }
  return answer;
}
