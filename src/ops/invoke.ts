import { InvalidInputError } from "../core/errors.js";
import { checkRequestId } from "../core/request.js";
import type { Operation, OpContext } from "./operation.js";

/** Describe the first problem zod found, naming the field. */
export function describeIssue(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  const issue = issues[0];
  if (issue === undefined) return "invalid input";
  const path = issue.path.map(String).join(".");
  return path === "" ? issue.message : `${path}: ${issue.message}`;
}

/**
 * Validate raw input against an operation's schema and run it. Every front-end calls this, so
 * validation and error shapes are the same everywhere.
 */
export async function invoke(op: Operation, raw: unknown, ctx: OpContext): Promise<unknown> {
  const parsed = op.input.safeParse(raw ?? {});
  if (!parsed.success) throw new InvalidInputError(`${op.name}: ${describeIssue(parsed.error.issues)}`);
  if (ctx.requestId === undefined || op.readOnly) return op.run(parsed.data, ctx);
  const request = { id: checkRequestId(ctx.requestId), op: op.name, seq: 0, replayed: false };
  return op.run(parsed.data, { ...ctx, engine: ctx.engine.forRequest(request), request });
}
