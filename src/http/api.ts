/**
 * The JSON routes of the HTTP API. `POST /api/ops/<name>` calls any operation of the catalogue
 * (same names, schemas and error codes as the CLI and MCP); the `GET` routes below are the reads the
 * dashboard needs, each a thin view over an operation or the engine, validated by zod like the rest.
 */
import { basename } from "node:path";
import { z } from "zod";
import { BatonError, InvalidInputError } from "../core/errors.js";
import { SHORT_ID_LENGTH } from "../core/ids.js";
import type { JobState } from "../core/states.js";
import { JOB_STATES, TERMINAL_STATES } from "../core/states.js";
import { boundWaits, checkArgumentShape } from "../ops/wire.js";
import { getOperation, operations } from "../ops/catalogue.js";
import { inputError, invoke } from "../ops/invoke.js";
import type { OpContext, Operation } from "../ops/operation.js";
import { resolveJob } from "../ops/common.js";
import { eventView, eventViewSchema } from "../ops/views.js";
import { describeOperation, operationEntrySchema } from "../ops/tasks.js";
import { jobStateSchema } from "../core/job.js";

/** Most bytes of a log one request returns (the client asks again from the new offset). */
export const MAX_LOG_CHUNK = 256 * 1024;

export type Query = URLSearchParams;

// --- what the read routes answer (inside {ok, data}); the OpenAPI document is made from these ---

export const logChunkSchema = z.object({
  id: z.string(),
  attempt: z.number().int().describe("The attempt read (0: the job has none yet)."),
  stream: z.enum(["output", "stdout", "stderr"]),
  start: z.number().int().describe("The byte offset the text starts at."),
  offset: z.number().int().describe("The offset to ask from next time."),
  size: z.number().int().describe("The log's size in bytes now."),
  text: z.string(),
  finished: z.boolean().describe("No more bytes will come (the attempt ended)."),
});

export const eventsAnswerSchema = z.object({
  events: z.array(eventViewSchema),
  last: z.number().int().describe("The last event id here: the next call's `after`."),
});

const seriesSchema = z.object({
  done: z.array(z.number().int()).describe("succeeded, skipped"),
  failed: z.array(z.number().int()).describe("failed, timed out"),
  cancelled: z.array(z.number().int()),
});

export const throughputSchema = z.object({
  hours: z.array(z.string()).describe("The start of each hour bucket (ISO), oldest first; 24 of them."),
  total: seriesSchema,
  byType: z.record(z.string(), seriesSchema),
});

export const statsSchema = z.object({
  project: z.object({ path: z.string(), name: z.string() }),
  byState: z.record(z.string(), z.number().int()),
  byType: z.record(z.string(), z.record(z.string(), z.number().int())),
  lastHour: z
    .record(z.string(), z.number().int())
    .describe("Jobs finished in the last hour, by the state they ended in."),
  paused: z.array(z.string()).describe("`all`, `type:<name>` or `workflow:<name>`."),
  daemon: z.looseObject({ running: z.boolean(), pid: z.number().int().optional() }),
  lastEventId: z.number().int(),
  states: z.array(jobStateSchema),
  shortIdLength: z.number().int(),
  readOnly: z.boolean().describe("This server refuses operations that change the ledger."),
  sessionRenewMs: z.number().int().describe("How often an open dashboard page renews its session (ms)."),
});

export const operationsSchema = z.object({
  operations: z.array(
    operationEntrySchema.extend({
      allowed: z.boolean().describe("This server lets the caller call it (a read-only one: only reads)."),
    }),
  ),
});

function parse<T extends z.ZodType>(schema: T, raw: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw inputError(what, parsed.error.issues);
  return parsed.data;
}

/** The spellings a boolean query parameter takes (said in its error). */
const BOOLEAN_SPELLINGS = ["true", "false"] as const;

/** A query error naming the parameter as the caller wrote it, with its field path in details.issues. */
function queryError(route: string, key: string, rule: string, got?: string): InvalidInputError {
  const name = key.slice(0, 50);
  const shown = got === undefined ? "" : ` (got '${got.slice(0, 50)}')`;
  return new InvalidInputError(`${route}: ${name}: ${rule}${shown}`, {
    issues: [{ path: name, message: rule }],
  });
}

/**
 * The one query check every route goes through (server.ts calls it for the routes that read no
 * parameters, the stream and the pages; the read routes here for theirs). Only the named query
 * parameters, converted; an unknown one is an error (like unknown JSON keys).
 * Every parameter is one value: given twice, or empty (`?limit=`), is an error rather than a
 * silent choice. `numbers` names the whole-number parameters with their least value: anything
 * else there ("-1", "abc") is an error in words, not zod's "expected number, received string";
 * `booleans` names those that take `true` or `false` only; every other value stays text.
 */
export function queryObject(
  query: Query,
  allowed: readonly string[],
  route: string,
  numbers: Readonly<Record<string, number>> = {},
  booleans: readonly string[] = [],
): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [key, value] of query) {
    // `token` opens pages only (server.ts); elsewhere it is left to the token check, which ignores it.
    if (key === "token" && !allowed.includes(key)) continue;
    if (!allowed.includes(key)) {
      const name = key.slice(0, 50);
      throw new InvalidInputError(
        allowed.length === 0
          ? `${route}: takes no query parameters (got '${name}')`
          : `${route}: unknown query parameter '${name}' (known: ${allowed.join(", ")})`,
        { issues: [{ path: name, message: "unknown query parameter" }], known: [...allowed] },
      );
    }
    const times = query.getAll(key).length;
    if (times > 1) throw queryError(route, key, `given ${times} times: give it once`);
    if (value === "") throw queryError(route, key, "is empty: give a value, or leave the parameter out");
    const least = numbers[key];
    if (least !== undefined) {
      const number = Number(value);
      if (!(/^\d+$/.test(value) && Number.isSafeInteger(number) && number >= least))
        throw queryError(route, key, `must be a whole number ≥ ${least}`, value);
      out[key] = number;
    } else if (booleans.includes(key)) {
      if (!(BOOLEAN_SPELLINGS as readonly string[]).includes(value))
        throw queryError(route, key, `must be ${BOOLEAN_SPELLINGS.join(" or ")}`, value);
      out[key] = value === "true";
    } else out[key] = value; // text stays text, even when it looks like a number (`q=007`)
  }
  return out;
}

/** Run an operation by name for `POST /api/ops/<name>`. */
export async function callOperation(
  name: string,
  body: unknown,
  ctx: OpContext,
  readOnly: boolean,
): Promise<unknown> {
  const op = getOperation(name);
  if (op === undefined)
    throw new BatonError("NOT_FOUND", `no operation '${name.slice(0, 100)}' (GET /api/ops lists them)`, {
      details: { operation: name.slice(0, 100) },
    });
  if (readOnly && !op.readOnly) {
    throw new BatonError("FORBIDDEN", `this server is read-only: '${op.name}' changes the ledger`);
  }
  checkArgumentShape(body);
  return invoke(op, boundWaits(body), ctx);
}

/** `GET /api/ops`: the catalogue, with each operation's input as JSON Schema. */
export function describeOperations(readOnly: boolean): unknown {
  return {
    operations: operations.map((op: Operation) => ({
      ...describeOperation(op),
      allowed: !readOnly || op.readOnly,
    })),
  };
}

const listQuery = [
  "state",
  "type",
  "workflow",
  "project",
  "tag",
  "q",
  "limit",
  "cursor",
  "archived",
  "since",
  "until",
] as const;

/** `GET /api/jobs`: list_tasks over every project (unless `project` is given), `q` for the text search. */
export async function listJobs(query: Query, ctx: OpContext): Promise<unknown> {
  const input: Record<string, unknown> = queryObject(query, listQuery, "GET /api/jobs", { limit: 1 }, [
    "archived",
  ]);
  const { q, state, project } = input as { q?: string; state?: string; project?: string };
  delete input.q;
  if (q !== undefined) input.text = q;
  if (state !== undefined) {
    const states = state.split(",").filter((s) => s !== "");
    const known: readonly string[] = [...JOB_STATES, "live", "finished"];
    const bad = states.find((s) => !known.includes(s));
    if (bad !== undefined) {
      throw new InvalidInputError(
        `GET /api/jobs: state: '${bad.slice(0, 50)}' is not a state (one of: ${known.join(", ")}; several with commas)`,
        { issues: [{ path: "state", message: `'${bad.slice(0, 50)}' is not a state` }] },
      );
    }
    input.state = states.length === 1 ? states[0] : states;
  }
  if (project === undefined) input.all = true;
  return invoke(getOperation("list_tasks")!, input, ctx, "GET /api/jobs", { text: "q" });
}

/** `GET /api/jobs/<id>`: the job with its attempts and its whole event timeline (last 500). */
export function showJob(id: string, query: Query, ctx: OpContext): Promise<unknown> {
  queryObject(query, [], "GET /api/jobs/<id>");
  return invoke(getOperation("check_task")!, { id, events: 500 }, ctx);
}

/** The log routes as errors name them (the address the caller used, not an internal name). */
const LOG_ROUTE = "GET /api/jobs/<id>/log";
const DOWNLOAD_ROUTE = "GET /api/jobs/<id>/log/download";

/** The log route's query (its OpenAPI parameters are made from this: openapi.ts). */
export const logQuerySchema = z
  .object({
    attempt: z.number().int().min(1).max(1_000_000).optional(),
    stream: z.enum(["output", "stdout", "stderr"]).optional(),
    offset: z.number().int().min(0).optional(),
    max: z.number().int().min(1).max(MAX_LOG_CHUNK).optional(),
  })
  .strict();

/**
 * The job and attempt a log route asks for (default: the latest attempt; undefined when it has
 * none); an attempt the job does not have is NOT_FOUND, not an empty log.
 */
async function logTarget<T extends { attempt?: number | undefined }>(id: string, input: T, ctx: OpContext) {
  const commands = ctx.commands;
  if (commands === undefined) throw new BatonError("NOT_FOUND", "logs are not available from this server");
  const job = await resolveJob(ctx, id);
  const attempts = await ctx.engine.attempts(job.id);
  const attempt = input.attempt ?? attempts[attempts.length - 1]?.n;
  if (attempt !== undefined && !attempts.some((a) => a.n === attempt))
    throw new BatonError("NOT_FOUND", `job ${job.id} has no attempt ${attempt}`, {
      details: { id: job.id, attempt },
    });
  return { input, commands, job, attempts, attempt };
}

/**
 * `GET /api/jobs/<id>/log`: bytes of an attempt's log from `offset` (default: the last 64 KiB),
 * with the offset to ask from next time: a live tail is this call repeated.
 */
export async function readJobLog(id: string, query: Query, ctx: OpContext): Promise<unknown> {
  const { input, commands, job, attempts, attempt } = await logTarget(
    id,
    parse(
      logQuerySchema,
      queryObject(query, ["attempt", "stream", "offset", "max"], LOG_ROUTE, {
        attempt: 1,
        offset: 0,
        max: 1,
      }),
      LOG_ROUTE,
    ),
    ctx,
  );
  if (attempt === undefined) {
    return {
      id: job.id,
      attempt: 0,
      stream: input.stream ?? "output",
      start: 0,
      offset: 0,
      size: 0,
      text: "",
      finished: TERMINAL_STATES.includes(job.state),
    };
  }
  const stream = input.stream ?? "output";
  const { start, offset, size, text } = commands.readLogChunk(
    job.id,
    attempt,
    stream,
    input.offset,
    input.max ?? 64 * 1024,
  );
  const current = await ctx.engine.get(job.id);
  return {
    id: job.id,
    attempt,
    stream,
    start,
    offset,
    size,
    text,
    finished: TERMINAL_STATES.includes(current.state) || attempt < (attempts[attempts.length - 1]?.n ?? 0),
  };
}

const downloadSchema = logQuerySchema.pick({ attempt: true, stream: true }).strict();

/**
 * `GET /api/jobs/<id>/log/download`: the whole of an attempt's log (as big as it was when the
 * download began), read in chunks through readLogChunk and handed to `write` one at a time, so a
 * 50 MB log never sits in memory. `begin` gets the file name before the first chunk; `write`
 * answers false when the client went away.
 */
export async function downloadJobLog(
  id: string,
  query: Query,
  ctx: OpContext,
  begin: (filename: string) => void,
  write: (text: string) => Promise<boolean>,
): Promise<void> {
  const { input, commands, job, attempt } = await logTarget(
    id,
    parse(
      downloadSchema,
      queryObject(query, ["attempt", "stream"], DOWNLOAD_ROUTE, { attempt: 1 }),
      DOWNLOAD_ROUTE,
    ),
    ctx,
  );
  const stream = input.stream ?? "output";
  begin(`${job.id}-${stream}.log`);
  if (attempt === undefined) return;
  let offset = 0;
  let end: number | undefined;
  for (;;) {
    const chunk = commands.readLogChunk(job.id, attempt, stream, offset, MAX_LOG_CHUNK);
    end ??= chunk.size;
    if (chunk.offset <= offset) break;
    if (!(await write(chunk.text))) return;
    offset = chunk.offset;
    if (offset >= end) break;
  }
}

const eventsSchema = z
  .object({
    after: z.number().int().min(0).optional(),
    job: z.string().min(1).max(200).optional(),
    workflow: z.string().min(1).max(500).optional(),
    limit: z.number().int().min(1).max(1000).optional(),
  })
  .strict();

/** `GET /api/events`: ledger events, oldest first, after an event id (the SSE resume cursor). */
export async function listEvents(query: Query, ctx: OpContext): Promise<unknown> {
  const raw = queryObject(query, ["after", "job", "workflow", "limit"], "GET /api/events", {
    after: 0,
    limit: 1,
  });
  const input = parse(eventsSchema, raw, "GET /api/events");
  const jobId = input.job === undefined ? undefined : (await resolveJob(ctx, input.job)).id;
  const limit = input.limit ?? 100;
  const events = await ctx.engine.events({
    limit,
    order: input.after === undefined ? "desc" : "asc",
    ...(input.after === undefined ? {} : { afterId: input.after }),
    ...(jobId === undefined ? {} : { jobId }),
    ...(input.workflow === undefined ? {} : { workflow: input.workflow }),
  });
  // Without a cursor: the newest `limit`, shown oldest first.
  if (input.after === undefined) events.reverse();
  return { events: events.map(eventView), last: events[events.length - 1]?.id ?? input.after ?? 0 };
}

const HOUR = 3_600_000;
const DONE_STATES: readonly JobState[] = ["succeeded", "skipped"];

/** Jobs (archived ones too) that finished in [from, to), by current state and type. */
function finishedCounts(ctx: OpContext, from: number, to?: number) {
  return ctx.engine.countByState({
    states: TERMINAL_STATES,
    finishedAfter: from,
    ...(to === undefined ? {} : { finishedBefore: to }),
    includeArchived: true,
  });
}

interface Series {
  done: number[];
  failed: number[];
  cancelled: number[];
}

/** The series a finished state counts in: cancelled is nobody's failure, so it is apart. */
function seriesOf(state: JobState): keyof Series {
  if (DONE_STATES.includes(state)) return "done";
  return state === "cancelled" ? "cancelled" : "failed";
}

/**
 * `GET /api/throughput`: jobs finished in each of the last 24 hours (the current one last), done
 * (succeeded, skipped), failed (failed, timed out) and cancelled, in all and per type. One query
 * per hour over the (state, finished_at) index.
 */
export async function throughput(query: Query, ctx: OpContext): Promise<unknown> {
  queryObject(query, [], "GET /api/throughput");
  const now = ctx.engine.clock.now();
  const first = Math.floor(now / HOUR) * HOUR - 23 * HOUR;
  const starts = Array.from({ length: 24 }, (_, i) => first + i * HOUR);
  const buckets = await Promise.all(
    starts.map((start, i) => finishedCounts(ctx, start, i === 23 ? undefined : start + HOUR)),
  );
  const empty = (): Series => ({
    done: new Array<number>(24).fill(0),
    failed: new Array<number>(24).fill(0),
    cancelled: new Array<number>(24).fill(0),
  });
  const total = empty();
  const byType: Record<string, Series> = {};
  buckets.forEach((counts, i) => {
    for (const c of counts) {
      const key = seriesOf(c.state);
      total[key][i]! += c.count;
      (byType[c.type] ??= empty())[key][i]! += c.count;
    }
  });
  return { hours: starts.map((t) => new Date(t).toISOString()), total, byType };
}

/** `GET /api/stats`: counts by state and type, the last hour's throughput, pauses, the daemon. */
export async function stats(query: Query, ctx: OpContext, project: string): Promise<Record<string, unknown>> {
  queryObject(query, [], "GET /api/stats");
  const now = ctx.engine.clock.now();
  const [counts, recent, pauses, daemon, newest] = await Promise.all([
    ctx.engine.countByState({}),
    finishedCounts(ctx, now - HOUR),
    ctx.engine.pauses(),
    ctx.commands?.daemonStatus().catch(() => ({ running: false })) ?? Promise.resolve({ running: false }),
    ctx.engine.events({ limit: 1, order: "desc" }),
  ]);
  const byState: Record<string, number> = {};
  const byType: Record<string, Record<string, number>> = {};
  for (const c of counts) {
    byState[c.state] = (byState[c.state] ?? 0) + c.count;
    (byType[c.type] ??= {})[c.state] = c.count;
  }
  const lastHour: Record<string, number> = {};
  // Jobs, not state changes: archiving records succeeded→succeeded, and a job redriven and failed
  // again changed state twice; each job counts once, in the state it ended in.
  for (const c of recent) lastHour[c.state] = (lastHour[c.state] ?? 0) + c.count;
  return {
    project: { path: project, name: basename(project) || project },
    byState,
    byType,
    lastHour,
    paused: pauses.map((p) => (p.scope === "all" ? "all" : `${p.scope}:${p.target}`)),
    daemon,
    lastEventId: newest[0]?.id ?? 0,
    states: JOB_STATES,
    /** How many of an id's last characters make its short id (D59): the dashboard shows those. */
    shortIdLength: SHORT_ID_LENGTH,
  };
}
