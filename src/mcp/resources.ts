/**
 * Resources (`baton://jobs/{id}`, `baton://workflows/{name}`, `baton://tasks/{name}`) and the
 * `resume` and `run_task` prompts. They read through the same operations as the tools, so they show
 * what `check_task`, `receipt`, `describe_task` and `resume_session` show.
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
import { completeJobId, completeProject, completeTaskName, completeWorkflow } from "./follow.js";

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

/**
 * Register the resources and prompts. `tools` are the names of the tools this server offers: a
 * prompt that asks the agent to call a tool is offered only with that tool.
 */
export function registerResources(server: McpServer, ctx: ContextSource, tools: ReadonlySet<string>): void {
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

  server.registerResource(
    "configured-task",
    new ResourceTemplate("baton://tasks/{name}", {
      list: undefined,
      complete: { name: (value) => completeTaskName(ctx, value) },
    }),
    {
      title: "A configured task",
      description:
        "One task of baton.yaml (as describe_task): inputs, outputs, required env, network/destructive flags.",
      mimeType: "application/json",
    },
    async (uri, variables) => {
      try {
        return json(uri, await run("describe_task", { task: variable(variables.name) }, await ctx()));
      } catch (error) {
        return readError(uri, error);
      }
    },
  );

  if (tools.has("run_task"))
    server.registerPrompt(
      "run_task",
      {
        title: "Run a configured task",
        description:
          "Run one task of baton.yaml: its contract, a dry run, then the run, followed to the end.",
        argsSchema: z.object({
          // Completed from the baton.yaml of `cwd` when the client passed it first, else the server's.
          task: completable(z.string(), (v, context) => completeTaskName(ctx, v, context?.arguments?.cwd)),
          cwd: completable(z.string(), (v) => completeProject(ctx, v))
            .optional()
            .describe("The project directory (default: the server's)."),
        }),
      },
      (args): GetPromptResult => {
        const where = args.cwd === undefined ? "" : ` (cwd: ${JSON.stringify(args.cwd)})`;
        const text = [
          `Run the configured baton task ${JSON.stringify(args.task)}${where}:`,
          "call describe_task for its inputs, then run_task with dryRun: true and check what it would do,",
          "then run_task for real and follow the run with wait_job until it finishes; report its outcome.",
        ].join(" ");
        return {
          description: `baton: run the configured task ${args.task}`,
          messages: [{ role: "user", content: { type: "text", text } }],
        };
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
