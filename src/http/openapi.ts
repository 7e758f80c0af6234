/**
 * The HTTP API as an OpenAPI 3.1 document (`GET /api/openapi.json`), generated from the operation
 * catalogue: every operation is `POST /api/ops/<name>` with its zod input as the request body and
 * its zod output inside the success envelope (z.toJSONSchema, JSON Schema 2020-12, which OpenAPI
 * 3.1 uses as is). The read routes the dashboard uses are described beside them. Nothing here is
 * written by hand twice: a new operation appears in the document by being in the catalogue.
 */
import { z } from "zod";
import { ERROR_CODES } from "../core/errors.js";
import { JOB_STATES } from "../core/states.js";
import { getOperation, operations } from "../ops/catalogue.js";
import {
  eventsAnswerSchema,
  logChunkSchema,
  logQuerySchema,
  operationsSchema,
  statsSchema,
  throughputSchema,
} from "./api.js";
import type { Operation } from "../ops/operation.js";

type Json = Record<string, unknown>;

/** JSON Schema of a zod type, without the `$schema` key (OpenAPI sets the dialect once). */
function schemaOf(type: z.ZodType, io: "input" | "output"): Json {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(type, { io, unrepresentable: "any" }) as Json;
  return schema;
}

const ref = (name: string) => ({ $ref: `#/components/responses/${name}` });

/** The error answers every route can give, by HTTP status (their codes are in docs/errors.md). */
function errorResponses(statuses: readonly number[]): Json {
  const names: Record<number, string> = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "TooLarge",
    415: "UnsupportedMediaType",
    500: "Internal",
    503: "Unavailable",
  };
  return Object.fromEntries(statuses.map((s) => [String(s), ref(names[s]!)]));
}

function success(data: Json, description: string): Json {
  return {
    description,
    content: {
      "application/json": {
        schema: {
          type: "object",
          required: ["ok", "data"],
          properties: { ok: { const: true }, data },
        },
      },
    },
  };
}

function operationPath(op: Operation): Json {
  return {
    post: {
      operationId: op.name,
      summary: op.title,
      description: op.summary,
      tags: [op.readOnly ? "read" : "change"],
      "x-baton-read-only": op.readOnly,
      "x-baton-destructive": op.destructive,
      "x-baton-idempotent": op.idempotent,
      requestBody: {
        required: false,
        description: "The operation's input as a JSON object (an empty body is `{}`).",
        content: { "application/json": { schema: schemaOf(op.input, "input") } },
      },
      responses: {
        "200": success(schemaOf(op.output, "output"), `${op.title}: the operation's output.`),
        ...errorResponses([400, 401, 403, 404, 405, 409, 413, 415, 500, 503]),
      },
    },
  };
}

const queryParam = (name: string, description: string, schema: Json = { type: "string" }) => ({
  name,
  in: "query",
  required: false,
  description,
  schema,
});
/**
 * A log route's query parameter, its schema made from the very zod schema the server checks the
 * query with (api.ts), so a bound such as `max`'s 256 KiB cannot differ between the two.
 */
const logParam = (name: keyof typeof logQuerySchema.shape, description: string) =>
  queryParam(name, description, schemaOf(logQuerySchema.shape[name].unwrap(), "input"));

/** Which attempt's log, and which view of it. */
const logParams = [
  logParam("attempt", "The attempt (default: the latest)."),
  logParam("stream", "output (both, in order), stdout or stderr."),
];

const idParam = {
  name: "id",
  in: "path",
  required: true,
  description: "A job id, a unique id prefix or suffix, or a job name.",
  schema: { type: "string", minLength: 1, maxLength: 200 },
};

function read(operationId: string, summary: string, data: Json, parameters: Json[] = []): Json {
  return {
    get: {
      operationId,
      summary,
      tags: ["read"],
      parameters,
      responses: { "200": success(data, summary), ...errorResponses([400, 401, 403, 404, 405, 500, 503]) },
    },
  };
}

/** The output schema of a catalogue operation a read route is a view of. */
const outputOf = (name: string): Json => schemaOf(getOperation(name)!.output, "output");

/** The document. `version` is the package's. */
export function openApiDocument(version: string): Json {
  const paths: Json = {
    "/api/jobs": read(
      "get_jobs",
      "Jobs, newest first, filtered (list_tasks over every project).",
      outputOf("list_tasks"),
      [
        queryParam("state", `A state, several joined by commas, \`live\` or \`finished\`.`, {
          type: "string",
          examples: [JOB_STATES.join(",")],
        }),
        queryParam("type", "Jobs of this type."),
        queryParam("workflow", "Jobs of this workflow."),
        queryParam("project", "Jobs of this project (default: every project)."),
        queryParam("tag", "Jobs with this tag."),
        queryParam("q", "Text searched in id, name, payload, error and evidence."),
        queryParam("archived", "Include archived jobs.", { type: "boolean" }),
        queryParam("since", "Created at or after: ISO date or a duration ago (2h, 7d)."),
        queryParam("until", "Created before: ISO date or a duration ago."),
        queryParam("limit", "Jobs per page (1-1000, default 50).", {
          type: "integer",
          minimum: 1,
          maximum: 1000,
        }),
        queryParam("cursor", "The nextCursor of the previous page."),
      ],
    ),
    "/api/jobs/{id}": read(
      "get_job",
      "One job with its attempts and its last 500 events (check_task).",
      outputOf("check_task"),
      [idParam],
    ),
    "/api/jobs/{id}/log": read(
      "get_job_log",
      "Bytes of an attempt's log from an offset, and the offset to ask from next (a live tail is this call repeated).",
      schemaOf(logChunkSchema, "output"),
      [
        idParam,
        ...logParams,
        logParam("offset", "Byte offset to read from (default: the last 64 KiB)."),
        logParam("max", "Most bytes to return."),
      ],
    ),
    "/api/jobs/{id}/log/download": {
      get: {
        operationId: "download_job_log",
        summary:
          "The whole log of an attempt as a text/plain attachment (streamed; Content-Disposition names the file).",
        tags: ["read"],
        parameters: [idParam, ...logParams],
        responses: {
          "200": {
            description: "The log's bytes as they were when the download began.",
            headers: {
              "Content-Disposition": {
                description: 'attachment; filename="<id>-<stream>.log"',
                schema: { type: "string" },
              },
            },
            content: { "text/plain": { schema: { type: "string" } } },
          },
          ...errorResponses([400, 401, 403, 404, 405, 500, 503]),
        },
      },
    },
    "/api/events": read(
      "get_events",
      "Ledger events, oldest first, after an event id.",
      schemaOf(eventsAnswerSchema, "output"),
      [
        queryParam("after", "Only events after this id.", { type: "integer", minimum: 0 }),
        queryParam("job", "Events of this job."),
        queryParam("workflow", "Events of this workflow."),
        queryParam("limit", "Most events (1-1000, default 100).", {
          type: "integer",
          minimum: 1,
          maximum: 1000,
        }),
      ],
    ),
    "/api/stats": read(
      "get_stats",
      "Counts by state and type, jobs finished in the last hour, pauses, the daemon.",
      schemaOf(statsSchema, "output"),
    ),
    "/api/throughput": read(
      "get_throughput",
      "Jobs finished in each of the last 24 hours, done, failed and cancelled, in all and per type.",
      schemaOf(throughputSchema, "output"),
    ),
    "/api/ops": read(
      "get_operations",
      "The operation catalogue with each input as JSON Schema.",
      schemaOf(operationsSchema, "output"),
    ),
    "/api/openapi.json": {
      get: {
        operationId: "get_openapi",
        summary: "This document (as it is, not in the {ok, data} envelope).",
        tags: ["read"],
        responses: {
          "200": {
            description: "The OpenAPI 3.1 document.",
            content: { "application/json": { schema: { type: "object", required: ["openapi", "paths"] } } },
          },
          ...errorResponses([400, 401, 403, 405, 500]),
        },
      },
    },
    "/api/stream": {
      get: {
        operationId: "get_stream",
        summary:
          "Server-Sent Events of the ledger (event `ledger`, id = event id; resume with Last-Event-ID).",
        tags: ["read"],
        parameters: [
          queryParam(
            "after",
            "The event id to start after, on a first connection (a reconnecting client's Last-Event-ID header wins); default: the newest.",
            { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
          ),
        ],
        responses: {
          "200": {
            description: "An endless text/event-stream.",
            content: { "text/event-stream": { schema: { type: "string" } } },
          },
          ...errorResponses([400, 401, 403, 405, 503]),
        },
      },
    },
  };
  for (const op of operations) paths[`/api/ops/${op.name}`] = operationPath(op);

  const errorSchema = {
    type: "object",
    required: ["ok", "error"],
    properties: {
      ok: { const: false },
      error: {
        type: "object",
        required: ["code", "message"],
        properties: {
          code: {
            type: "string",
            enum: Object.keys(ERROR_CODES),
            description: "Stable; see docs/errors.md.",
          },
          message: { type: "string" },
          details: {
            type: "object",
            additionalProperties: true,
            description:
              "Context of the error. INVALID_INPUT lists `issues`: each with the field `path` (dot-separated, `tasks.0.payload`) and a `message`.",
            properties: {
              issues: {
                type: "array",
                items: {
                  type: "object",
                  required: ["path", "message"],
                  properties: { path: { type: "string" }, message: { type: "string" } },
                },
              },
            },
          },
        },
      },
    },
  };
  const errorResponse = (description: string, headers?: Json): Json => ({
    description,
    ...(headers === undefined ? {} : { headers }),
    content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
  });

  return {
    openapi: "3.1.0",
    info: {
      title: "baton HTTP API",
      version,
      summary: "The operation catalogue over HTTP, and the reads of the web dashboard.",
      description:
        "Every operation of the catalogue is `POST /api/ops/<name>` with a JSON body; answers are " +
        '`{"ok":true,"data":…}` or `{"ok":false,"error":{"code","message","details"}}` with the HTTP status of the ' +
        "error code. Every route wants the server's token (Authorization: Bearer), or the dashboard's cookie " +
        "with its session key (the cookie alone opens only /api/stream and log downloads).",
      license: { name: "MIT", identifier: "MIT" },
    },
    jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
    servers: [{ url: "/", description: "The server that serves this document." }],
    security: [{ bearer: [] }, { cookie: [], sessionKey: [] }],
    tags: [
      { name: "read", description: "Reads: never change the ledger (allowed with a read-only token)." },
      {
        name: "change",
        description: "Operations that change the ledger (403 FORBIDDEN with a read-only token).",
      },
    ],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "The server's token (or its read-only token).",
        },
        cookie: {
          type: "apiKey",
          in: "cookie",
          name: "baton_session_<port>",
          description:
            "A dashboard session of this server (not the token), set when a page is opened with ?token=… (HttpOnly, SameSite=Strict); not accepted on /mcp. Alone it opens /api/stream and log downloads only; everything else also wants sessionKey (D109).",
        },
        sessionKey: {
          type: "apiKey",
          in: "header",
          name: "X-Baton-Session",
          description:
            "The key of the dashboard session: handed out once, in the fragment of the redirect that answered the ?token=… link; the dashboard keeps it in localStorage.",
        },
      },
      schemas: { Error: errorSchema },
      responses: {
        BadRequest: errorResponse(
          "INVALID_INPUT (with the field paths in details.issues) or another 400 code.",
        ),
        Unauthorized: errorResponse("UNAUTHORIZED: no token or a wrong one.", {
          "WWW-Authenticate": {
            description: "The scheme to authenticate with (Bearer).",
            schema: { type: "string" },
          },
        }),
        Forbidden: errorResponse(
          "FORBIDDEN: a foreign Host or Origin, the dashboard cookie without its session key, or a change asked of a read-only token or server.",
        ),
        NotFound: errorResponse("JOB_NOT_FOUND, NOT_FOUND or DEPENDENCY_NOT_FOUND."),
        MethodNotAllowed: errorResponse("METHOD_NOT_ALLOWED: the route exists with another method.", {
          Allow: { description: "The methods the route accepts.", schema: { type: "string" } },
        }),
        Conflict: errorResponse(
          "The job's state does not allow this (INVALID_TRANSITION…), or an id is ambiguous.",
        ),
        TooLarge: errorResponse("PAYLOAD_TOO_LARGE: the request body (or a payload in it) is too large."),
        UnsupportedMediaType: errorResponse(
          "UNSUPPORTED_MEDIA_TYPE: a request body that is not application/json.",
        ),
        Internal: errorResponse("INTERNAL or STORE_CORRUPT."),
        Unavailable: errorResponse(
          "The store is busy or cannot be reached (STORE_BUSY, STORE_UNAVAILABLE…).",
        ),
      },
    },
  };
}
