/**
 * Job references on the command line (D59): a full id, its short id (the last 6 characters), a
 * unique id prefix, or a name looked up in the caller's project first. Anything matching two
 * jobs is AMBIGUOUS_ID naming both, and nothing is done to either. Real binary, real SQLite file.
 */
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { baton, envelope } from "./helpers/cli.js";
import { call, connectStdio, toolError } from "./helpers/mcp.js";
import { tempDir } from "./helpers/tmp.js";

function world() {
  const home = tempDir("baton-refs-home-");
  const root = tempDir("baton-refs-projects-");
  const projA = join(root, "alpha");
  const projB = join(root, "beta");
  const projC = join(root, "gamma");
  for (const p of [projA, projB, projC]) mkdirSync(join(p, ".git"), { recursive: true });
  const json = (args: string[], cwd = projA) => {
    // Before `--`: after it, --json is the command's own argument.
    const dash = args.indexOf("--");
    const r = baton(
      dash < 0 ? [...args, "--json"] : [...args.slice(0, dash), "--json", ...args.slice(dash)],
      {
        home,
        cwd,
      },
    );
    return { code: r.code, env: envelope(r), stderr: r.stderr };
  };
  const add = (name: string, cwd = projA, extra: string[] = []): string => {
    const r = json(["enqueue", "{}", "-n", name, ...extra], cwd);
    expect(r.code, r.stderr).toBe(0);
    return r.env.data.jobs[0].id as string;
  };
  const state = (id: string) => json(["show", id]).env.data.job.state as string;
  return { home, projA, projB, projC, json, add, state };
}

describe("job references (D59)", () => {
  it("finding 6: a job named with another job's id prefix makes `complete <prefix>` AMBIGUOUS_ID, completing neither", () => {
    const w = world();
    const target = w.add("target");
    const prefix = target.slice(0, 14);
    const impostor = w.add(prefix);
    const r = w.json(["complete", prefix, "-e", "done"]);
    expect(r.code).toBe(4);
    expect(r.env.error?.code).toBe("AMBIGUOUS_ID");
    expect(r.env.error?.message).toContain(target);
    expect(r.env.error?.message).toContain(impostor);
    expect(w.state(target)).toBe("queued");
    expect(w.state(impostor)).toBe("queued");
    // Text mode says the same on one line.
    const text = baton(["complete", prefix], { home: w.home, cwd: w.projA });
    expect(text.code).toBe(4);
    expect(text.stderr).toContain(impostor);
  });

  it("a reference matching more than 10 jobs says how many, shows 10 and how to narrow (D114)", () => {
    const w = world();
    const ids = Array.from({ length: 23 }, (_, i) => w.add(`many${i}`));
    const prefix = ids[0]!.slice(0, 4);
    expect(ids.every((id) => id.startsWith(prefix))).toBe(true);
    const r = w.json(["show", prefix]);
    expect(r.code).toBe(4);
    expect(r.env.error?.code).toBe("AMBIGUOUS_ID");
    expect(r.env.error?.message).toContain(`'${prefix}' matches 23 jobs, among them `);
    expect(r.env.error?.message).toContain("narrow it: more characters of the id, its short id");
    expect(
      (r.env.error as { details?: { candidates?: string[] } } | undefined)?.details?.candidates,
    ).toHaveLength(10);
    const text = baton(["show", prefix], { home: w.home, cwd: w.projA });
    expect(text.code).toBe(4);
    expect(text.stderr).toContain("matches 23 jobs");
  });

  it("a short id (last 6 characters, any case) is printed by list and works wherever a job is taken", () => {
    const w = world();
    const ids = Array.from({ length: 5 }, (_, i) => w.add(`job${i}`));
    const table = baton(["list"], { home: w.home, cwd: w.projA }).stdout;
    for (const id of ids) {
      expect(table).toContain(id.slice(-6));
      expect(table).not.toContain(id);
    }
    const short = ids[2]!.slice(-6).toLowerCase();
    expect(w.json(["show", short]).env.data.job.id).toBe(ids[2]);
    expect(w.json(["complete", short, "-e", "ok"]).env.data.completed[0].id).toBe(ids[2]);
    expect(w.state(ids[2]!)).toBe("succeeded");
  });

  it("--depends-on takes a short id or a name, and a missing one is still DEPENDENCY_NOT_FOUND", () => {
    const w = world();
    const base = w.add("base");
    const other = w.add("other");
    const byName = w.add("after-name", w.projA, ["--depends-on", "base"]);
    const byShort = w.add("after-short", w.projA, ["--depends-on", other.slice(-6)]);
    expect(w.json(["show", byName]).env.data.job.dependsOn).toEqual([base]);
    expect(w.json(["show", byShort]).env.data.job.dependsOn).toEqual([other]);
    const missing = w.json(["enqueue", "{}", "--depends-on", "no-such-job"]);
    expect(missing.code).toBe(3);
    expect(missing.env.error?.code).toBe("DEPENDENCY_NOT_FOUND");
    expect(missing.env.error?.message).toContain("no-such-job");
  });

  it("names resolve in the current project first; a name only elsewhere is found; two elsewhere are AMBIGUOUS_ID", () => {
    const w = world();
    const a = w.add("build", w.projA);
    const b = w.add("build", w.projB);
    expect(w.json(["show", "build"], w.projA).env.data.job.id).toBe(a);
    expect(w.json(["show", "build"], w.projB).env.data.job.id).toBe(b);
    // From a third project, "build" could be either: refused, naming both projects.
    const r = w.json(["show", "build"], w.projC);
    expect(r.code).toBe(4);
    expect(r.env.error?.code).toBe("AMBIGUOUS_ID");
    expect(r.env.error?.message).toContain(w.projA);
    expect(r.env.error?.message).toContain(w.projB);
    expect(w.json(["complete", "build"], w.projB).env.data.completed[0].id).toBe(b);
    expect(w.state(a)).toBe("queued");
    const lone = w.add("lint", w.projB);
    expect(w.json(["show", "lint"], w.projC).env.data.job.id).toBe(lone);
  });
});

describe("job references over MCP take project as the CLI takes --project (D130)", () => {
  it("a command named 'build' in two projects: the job tools resolve it in the project given; without one it is AMBIGUOUS_ID", async () => {
    const w = world();
    // The server stands in a third project, as a host's server does: its cwd says nothing.
    const server = await connectStdio(w.home, ["--tools", "full"], w.projC);
    try {
      const tools = (await server.client.listTools()).tools;
      for (const name of ["job_status", "job_logs", "wait_job", "stop_job", "retry_job", "job_events"]) {
        const properties = tools.find((t) => t.name === name)!.inputSchema.properties as Record<
          string,
          unknown
        >;
        expect(Object.keys(properties), name).toContain("project");
      }
      const started = async (project: string, word: string) =>
        (await call(server.client, "run_command", { argv: ["echo", word], name: "build", cwd: project })).data
          .id as string;
      const a = await started(w.projA, "alpha");
      const b = await started(w.projB, "beta");
      const inA = { id: "build", project: w.projA };
      const inB = { id: "build", project: w.projB };
      expect((await call(server.client, "wait_job", { ...inA, timeoutSeconds: 30 })).data).toMatchObject({
        id: a,
        state: "succeeded",
      });
      expect((await call(server.client, "wait_job", { ...inB, timeoutSeconds: 30 })).data.id).toBe(b);
      expect((await call(server.client, "job_status", inA)).data.job.id).toBe(a);
      expect((await call(server.client, "job_logs", inB)).data.text).toBe("beta\n");
      expect((await call(server.client, "job_events", inA)).data.id).toBe(a);
      expect((await call(server.client, "stop_job", inB)).data).toMatchObject({
        id: b,
        outcome: "already_finished",
      });
      expect((await call(server.client, "retry_job", inA)).data.id).toBe(a);
      await call(server.client, "wait_job", { ...inA, timeoutSeconds: 30 });

      // Without a project the name is looked up from the server's cwd: two elsewhere, as the CLI says.
      const ambiguous = await call(server.client, "job_status", { id: "build" });
      expect(ambiguous.isError).toBe(true);
      expect(toolError(ambiguous).code).toBe("AMBIGUOUS_ID");
      const cli = w.json(["status", "build"], w.projC);
      expect(cli.env.error?.code).toBe("AMBIGUOUS_ID");
      expect(w.json(["status", "build", "--project", w.projB], w.projC).env.data.job.id).toBe(b);
    } finally {
      await server.close();
      baton(["daemon", "stop"], { home: w.home });
    }
  }, 90_000);

  it("the default set's check_task / complete_task / fail_task take project too: 'build' in two projects", async () => {
    const w = world();
    // The default tool set (no --tools), its server standing in a third project.
    const server = await connectStdio(w.home, [], w.projC);
    try {
      const tools = (await server.client.listTools()).tools;
      for (const name of ["check_task", "complete_task", "fail_task"])
        expect(Object.keys(tools.find((t) => t.name === name)!.inputSchema.properties ?? {}), name).toContain(
          "project",
        );
      const enqueued = async (project: string) =>
        (await call(server.client, "enqueue_task", { name: "build", cwd: project })).data.jobs[0]
          .id as string;
      const a = await enqueued(w.projA);
      const b = await enqueued(w.projB);
      const inA = { id: "build", project: w.projA };
      const inB = { id: "build", project: w.projB };
      const state = async (scope: { id: string; project: string }) => {
        const shown = await call(server.client, "check_task", scope);
        expect(shown.isError, JSON.stringify(shown.content)).toBeFalsy();
        return [shown.data.job.id, shown.data.job.state] as [string, string];
      };

      // Without a project the name is looked up from the server's cwd, then everywhere: two projects
      // have it, so each tool answers AMBIGUOUS_ID (as job_status does) and changes nothing.
      for (const [name, args] of [
        ["check_task", { id: "build" }],
        ["complete_task", { id: "build", evidence: "done" }],
        ["fail_task", { id: "build", error: "broke" }],
      ] as const) {
        const refused = await call(server.client, name, args);
        expect(refused.isError, name).toBe(true);
        expect(toolError(refused).code, name).toBe("AMBIGUOUS_ID");
      }
      expect(await state(inA)).toEqual([a, "queued"]);
      expect(await state(inB)).toEqual([b, "queued"]);

      const completed = await call(server.client, "complete_task", { ...inA, evidence: "done" });
      expect(completed.data.completed).toEqual([{ id: a, state: "succeeded" }]);
      expect(await state(inA)).toEqual([a, "succeeded"]);
      expect(await state(inB)).toEqual([b, "queued"]);

      const failed = await call(server.client, "fail_task", { ...inB, error: "broke", noRetry: true });
      expect(failed.data).toMatchObject({ id: b, state: "failed" });
      expect(await state(inA)).toEqual([a, "succeeded"]);
      expect(await state(inB)).toEqual([b, "failed"]);

      // `ids` and `items` are looked up in the project given too.
      const c = await enqueued(w.projA);
      const d = await enqueued(w.projB);
      const many = await call(server.client, "complete_task", { ids: ["build"], project: w.projB });
      expect(many.data.errors).toEqual([]);
      expect(many.data.completed).toEqual([{ id: d, state: "succeeded" }]);
      const items = await call(server.client, "complete_task", {
        items: [{ id: "build", evidence: "own" }],
        project: w.projA,
      });
      expect(items.data.completed).toEqual([{ id: c, state: "succeeded" }]);
    } finally {
      await server.close();
    }
  }, 90_000);
});

describe("a refusal names what to pass in the words of the front-end that is talking", () => {
  it("HAS_DEPENDENTS and retry's refusal say --dependents / --force on the CLI, dependents / force over MCP", async () => {
    // Issue 17 (tester finding): the CLI said `pass dependents: cancel` and `pass force`, the
    // operation's field names, where its user must type `--dependents cancel` and `--force`.
    const w = world();
    const first = w.add("first");
    const second = w.add("second", w.projA, ["--depends-on", first]);
    const refused = w.json(["delete", first]);
    expect(refused.env.error?.code).toBe("HAS_DEPENDENTS");
    expect(refused.env.error?.message).toContain(second);
    expect(refused.env.error?.message).toContain(
      "pass --dependents cancel (cancel them) or release (drop the dependency)",
    );
    expect(refused.env.error?.message).not.toContain("dependents:");

    const done = w.add("done");
    expect(w.json(["complete", done, "-e", "ok"]).code).toBe(0);
    const retry = w.json(["retry", done]);
    expect(retry.env.error).toMatchObject({
      code: "INVALID_TRANSITION",
      message: `job ${done} is succeeded: its work is done, so retry leaves it (pass --force to reopen it)`,
    });
    const text = baton(["retry", done], { home: w.home, cwd: w.projA });
    expect(text.stderr).toContain("(pass --force to reopen it)");

    const { client, close } = await connectStdio(w.home, ["--tools", "full"], w.projA);
    try {
      const mcpDelete = toolError(await call(client, "delete_task", { ids: [first] }));
      expect(mcpDelete.code).toBe("HAS_DEPENDENTS");
      expect(mcpDelete.message).toContain("pass dependents: cancel (cancel them) or release");
      const mcpRetry = toolError(await call(client, "retry_job", { id: done }));
      expect(mcpRetry.message).toContain("(pass force to reopen it)");
    } finally {
      await close();
    }
  });

  it("a missing dependency names --depends-on on the CLI and dependsOn over MCP, never the column depends_on", async () => {
    // Issue 17: the CLI said `depends_on names unknown job(s)`, the table's column.
    const w = world();
    const missing = w.json(["enqueue", "{}", "--depends-on", "no-such-job"]);
    expect(missing.env.error).toMatchObject({
      code: "DEPENDENCY_NOT_FOUND",
      message: "--depends-on names unknown job(s): no-such-job",
    });
    const { client, close } = await connectStdio(w.home, ["--tools", "full"], w.projA);
    try {
      const mcp = toolError(await call(client, "enqueue_task", { payload: {}, dependsOn: ["no-such-job"] }));
      expect(mcp).toMatchObject({
        code: "DEPENDENCY_NOT_FOUND",
        message: "dependsOn names unknown job(s): no-such-job",
      });
    } finally {
      await close();
    }
  });

  it("a reference longer than 200 characters names the argument, like the other reference errors", () => {
    // Issue 17: `baton complete <201 characters>` said `complete_task: id: Too big: expected string…`.
    const w = world();
    const long = "a".repeat(201);
    for (const args of [
      ["complete", long],
      ["fail", long, "broke"],
      ["show", long],
    ]) {
      const r = w.json(args);
      expect(r.code).toBe(2);
      expect(r.env.error?.message, args[0]).toMatch(/^<ids?> must be at most 200 characters$/);
    }
    const text = baton(["complete", long], { home: w.home, cwd: w.projA });
    expect(text.stderr).toContain("baton: error: <ids> must be at most 200 characters (INVALID_INPUT)");
  });

  it("a job the engine refuses reads like the other input errors, without the internal 'invalid job:'", () => {
    const w = world();
    const zero = w.json(["run", "--timeout", "0", "--", "true"]);
    expect(zero.env.error).toEqual({ code: "INVALID_INPUT", message: "--timeout must be more than 0" });
  });
});

describe("a project is read as the CLI reads --project, and a name given one is looked up only there (D145)", () => {
  /** Jobs named `deploy` in alpha and beta, beta's completed by its full id; the server stands in their parent. */
  async function twoDeploys() {
    const w = world();
    const root = join(w.projA, "..");
    mkdirSync(join(w.projB, "src"));
    const server = await connectStdio(w.home, ["--tools", "full"], root);
    const enqueued = async (cwd: string) =>
      (await call(server.client, "enqueue_task", { name: "deploy", cwd })).data.jobs[0].id as string;
    const a = await enqueued(w.projA);
    const b = await enqueued(w.projB);
    const done = await call(server.client, "complete_task", { id: b, evidence: "shipped" });
    expect(done.data.completed).toEqual([{ id: b, state: "succeeded" }]);
    const stateOf = async (id: string) => (await call(server.client, "check_task", { id })).data.job.state;
    return { w, root, server, a, b, stateOf };
  }

  it("complete_task / fail_task / check_task: every spelling of beta acts on beta's job, never alpha's", async () => {
    const { w, server, a, b, stateOf } = await twoDeploys();
    try {
      // `/beta/`, `/beta/src`, `/beta/.`, `//beta`, `beta` (relative to the server's cwd): all beta.
      const spellings = [
        `${w.projB}/`,
        join(w.projB, "src"),
        `${w.projB}/.`,
        w.projB.replace(/\/beta$/, "//beta"),
        "beta",
      ];
      for (const project of spellings) {
        const checked = await call(server.client, "check_task", { id: "deploy", project });
        expect(checked.isError, `${project}: ${JSON.stringify(checked.content)}`).toBeFalsy();
        expect(checked.data.job.id, project).toBe(b);
        const completed = await call(server.client, "complete_task", {
          id: "deploy",
          project,
          evidence: "again",
        });
        expect(completed.isError, `${project}: ${JSON.stringify(completed.content)}`).toBeFalsy();
        expect(
          completed.data.completed.map((c: { id: string }) => c.id),
          project,
        ).toEqual([b]);
        const failed = await call(server.client, "fail_task", {
          id: "deploy",
          project,
          error: "broke",
          noRetry: true,
        });
        // beta's job is done: failing it is refused or a no-op, but it is beta's job either way.
        if (failed.isError === true) expect(toolError(failed).message, project).toContain(b);
        else expect(failed.data.id, project).toBe(b);
        expect(await stateOf(a), project).toBe("queued");
        expect(await stateOf(b), project).toBe("succeeded");
      }

      // A project that is no directory is INVALID_INPUT naming `project`, not a search everywhere.
      for (const project of [`${w.projB}typo`, "/nonexistent", "relative/dir"]) {
        for (const [name, args] of [
          ["check_task", { id: "deploy", project }],
          ["complete_task", { id: "deploy", project, evidence: "x" }],
          ["fail_task", { id: "deploy", project, error: "broke", noRetry: true }],
        ] as const) {
          const refused = await call(server.client, name, args);
          expect(refused.isError, `${name} ${project}`).toBe(true);
          expect(toolError(refused).code, `${name} ${project}`).toBe("INVALID_INPUT");
          expect(toolError(refused).message, `${name} ${project}`).toContain(`project '${project}'`);
        }
      }

      // A project without a job of that name: JOB_NOT_FOUND naming it, never another project's job.
      for (const [name, args] of [
        ["check_task", { id: "deploy", project: w.projC }],
        ["complete_task", { id: "deploy", project: w.projC, evidence: "x" }],
        ["fail_task", { id: "deploy", project: w.projC, error: "broke", noRetry: true }],
      ] as const) {
        const missing = await call(server.client, name, args);
        expect(missing.isError, name).toBe(true);
        expect(toolError(missing).code, name).toBe("JOB_NOT_FOUND");
        expect(toolError(missing).message, name).toContain(`in project ${w.projC}`);
      }
      expect(await stateOf(a)).toBe("queued");
      // The CLI's --project is the same rule.
      const cli = w.json(["complete", "deploy", "--project", w.projC], w.projA);
      expect(cli.env.error?.code).toBe("JOB_NOT_FOUND");
      expect(await stateOf(a)).toBe("queued");
    } finally {
      await server.close();
    }
  }, 90_000);

  it("enqueue_task and resume_session store and read the project root; a project or run_command cwd that is no directory is INVALID_INPUT", async () => {
    const { w, server, b } = await twoDeploys();
    try {
      // A symlink to beta is beta, as `cd link && baton …` is (the kernel's cwd is the real path).
      const link = `${w.projB}-link`;
      symlinkSync(w.projB, link);
      for (const project of [
        `${w.projB}/`,
        join(w.projB, "src"),
        `${w.projB}/.`,
        "beta",
        link,
        join(link, "src"),
      ]) {
        const added = await call(server.client, "enqueue_task", {
          payload: { n: 1 },
          workflow: "ship",
          project,
        });
        expect(added.isError, `${project}: ${JSON.stringify(added.content)}`).toBeFalsy();
        expect(added.data.project, project).toBe(w.projB);
        const resumed = await call(server.client, "resume_session", { project });
        expect(resumed.isError, project).toBeFalsy();
        expect(resumed.data.project, project).toBe(w.projB);
        expect(
          resumed.data.workflows.map((x: { workflow: string }) => x.workflow),
          project,
        ).toContain("ship");
      }
      // One project, not seven spellings of it: beta lists its deploy and the six tasks added.
      const listed = await call(server.client, "list_tasks", { project: w.projB, limit: 50 });
      expect(listed.data.jobs).toHaveLength(7);
      const viaCwd = await call(server.client, "resume_session", { cwd: join(link, "src") });
      expect(viaCwd.data.project).toBe(w.projB);
      expect(listed.data.jobs.map((j: { id: string }) => j.id)).toContain(b);

      for (const project of ["/nonexistent", "relative/dir", `${w.projB}typo`]) {
        for (const [name, args] of [
          ["enqueue_task", { payload: { n: 2 }, project }],
          ["resume_session", { project }],
        ] as const) {
          const refused = await call(server.client, name, args);
          expect(refused.isError, `${name} ${project}`).toBe(true);
          expect(toolError(refused).code, `${name} ${project}`).toBe("INVALID_INPUT");
          expect(toolError(refused).message, `${name} ${project}`).toContain(`project '${project}'`);
        }
      }

      const before = (await call(server.client, "list_tasks", { all: true, limit: 200 })).data.jobs.length;
      const run = await call(server.client, "run_command", { argv: ["true"], cwd: "/nonexistent" });
      expect(run.isError).toBe(true);
      expect(toolError(run).code).toBe("INVALID_INPUT");
      expect(toolError(run).message).toContain("cwd '/nonexistent'");
      expect((await call(server.client, "list_tasks", { all: true, limit: 200 })).data.jobs.length).toBe(
        before,
      );
      // A cwd that is not a directory files nothing under a project that does not exist.
      for (const [name, args] of [
        ["enqueue_task", { payload: { n: 3 }, cwd: "/nonexistent" }],
        ["resume_session", { cwd: "/nonexistent" }],
        ["list_tasks", { cwd: `${w.projB}typo` }],
      ] as const) {
        const refused = await call(server.client, name, args);
        expect(refused.isError, name).toBe(true);
        expect(toolError(refused).code, name).toBe("INVALID_INPUT");
        expect(toolError(refused).message, name).toContain("cwd '");
      }
      expect((await call(server.client, "list_tasks", { all: true, limit: 200 })).data.jobs.length).toBe(
        before,
      );
    } finally {
      await server.close();
      baton(["daemon", "stop"], { home: w.home });
    }
  }, 90_000);
});
