/**
 * Resources (`baton://jobs/{id}`, `baton://workflows/{name}`) and the `resume` prompt. They read
 * through the same operations as the tools, so they show what `check_task`, `receipt` and
 * `resume_session` show.
 */
import type { GetPromptResult, McpServer, ReadResourceResult } from "@modelcontextprotocol/server";
import {
  ProtocolError,
  ProtocolErrorCode,
  ResourceNotFoundError,
  ResourceTemplate,
  completable,
} from "@modelcontextprotocol/server";
import { z } from "zod";
import { toBatonError } from "../core/errors.js";
import { LIVE_STATES } from "../core/states.js";
import { getOperation } from "../ops/catalogue.js";
import { invoke } from "../ops/invoke.js";
import type { OpContext } from "../ops/operation.js";
import type { ContextSource } from "./tools.js";
import type { ResumeOutput } from "../ops/resume.js";
import { resumeText } from "../integrations/resume-text.js";
import { completeJobId, completeProject, completeWorkflow } from "./follow.js";

function run(name: string, input: unknown, ctx: OpContext): Promise<unknown> {
  const op = getOperation(name);
  if (op === undefined)
    throw new ProtocolError(ProtocolErrorCode.InternalError, `operation ${name} is missing`);
  return invoke(op, input, ctx);
}

function variable(value: string | string[] | undefined): string {
  const raw = Array.isArray(value) ? value.join("/") : (value ?? "");
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function json(uri: URL, data: unknown): ReadResourceResult {
  return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(data) }] };
}

/** A miss is the protocol's "resource not found"; other failures keep their baton code in `data`. */
function readError(uri: URL, error: unknown): never {
  const e = toBatonError(error);
  if (e.code === "JOB_NOT_FOUND" || e.code === "NOT_FOUND")
    throw new ResourceNotFoundError(uri.href, e.message);
  throw new ProtocolError(ProtocolErrorCode.InvalidParams, e.message, { code: e.code });
}

export function registerResources(server: McpServer, ctx: ContextSource): void {
  server.registerResource(
    "job",
    new ResourceTemplate("baton://jobs/{id}", {
      list: undefined,
      complete: { id: (value) => completeJobId(ctx, value) },
    }),
    {
      title: "A baton job",
      description: "One job in full (as check_task): payload, state, evidence, attempts, recent events.",
      mimeType: "application/json",
    },
    async (uri, variables) => {
      try {
        return json(uri, await run("check_task", { id: variable(variables.id) }, await ctx()));
      } catch (error) {
        return readError(uri, error);
      }
    },
  );

  server.registerResource(
    "workflow",
    new ResourceTemplate("baton://workflows/{name}", {
      complete: { name: (value) => completeWorkflow(ctx, value) },
      list: async () => {
        const live = await (await ctx()).engine.list({ states: LIVE_STATES }, { limit: 1000 });
        const names = [...new Set(live.map((j) => j.workflow).filter((w): w is string => w !== null))];
        return {
          resources: names.map((name) => ({
            uri: `baton://workflows/${encodeURIComponent(name)}`,
            name,
            mimeType: "application/json",
          })),
        };
      },
    }),
    {
      title: "A baton workflow",
      description:
        "Progress of a workflow in each project that has it (as receipt): done, remaining, failed.",
      mimeType: "application/json",
    },
    async (uri, variables) => {
      const name = variable(variables.name);
      try {
        const c = await ctx();
        const jobs = await c.engine.list({ workflow: name, includeArchived: true }, { limit: 10_000 });
        const projects = [...new Set(jobs.map((j) => j.project ?? ""))].filter((p) => p !== "");
        if (projects.length === 0) throw new ResourceNotFoundError(uri.href, `no workflow named '${name}'`);
        const receipts = [];
        for (const project of projects) receipts.push(await run("receipt", { project, workflow: name }, c));
        return json(uri, { workflow: name, projects: receipts });
      } catch (error) {
        if (error instanceof ProtocolError) throw error;
        return readError(uri, error);
      }
    },
  );

  server.registerPrompt(
    "resume",
    {
      title: "Resume unfinished work",
      description: "Start a chat from what baton says is left in this project (or one workflow).",
      argsSchema: z.object({
        // Completable inside optional: the SDK unwraps the optional to find the completer.
        cwd: completable(z.string(), (v) => completeProject(ctx, v))
          .optional()
          .describe("The project directory (default: the server's)."),
        workflow: completable(z.string(), (v) => completeWorkflow(ctx, v)).optional(),
      }),
    },
    async (args): Promise<GetPromptResult> => {
      const input = {
        ...(args.cwd === undefined ? {} : { cwd: args.cwd }),
        ...(args.workflow === undefined ? {} : { workflow: args.workflow }),
      };
      const data = (await run("resume_session", input, await ctx())) as ResumeOutput;
      const text =
        data.remaining === 0
          ? `${resumeText(data)} Ask me what to do next.`
          : `${resumeText(data)}\nResume this work now: do the remaining tasks in order and call complete_task for each with evidence of what changed (fail_task if one cannot be done).`;
      return {
        description: `baton resume for ${data.project}`,
        messages: [{ role: "user", content: { type: "text", text } }],
      };
    },
  );
}
