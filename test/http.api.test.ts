/**
 * The HTTP API over a real server on 127.0.0.1:0 and a temp SQLite file: every route, typed errors
 * for bad input, and the live event stream (including a change made by another process).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { baton, envelope } from "./helpers/cli.js";
import type { TestServer } from "./helpers/http.js";
import { callOp, readStream, request, startTestServer } from "./helpers/http.js";
import { writeRunOutput } from "./helpers/run-output.js";
import { tempDir } from "./helpers/tmp.js";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The error a GET of `path` answers: status, code, message and the issues' field paths. */
async function errorOf(s: TestServer, path: string) {
  const answer = await request(`${s.base}${path}`);
  return {
    status: answer.status,
    code: answer.body?.error?.code,
    message: answer.body?.error?.message ?? "",
    issues: answer.body?.error?.details?.issues,
  };
}

async function enqueue(s: TestServer, tasks: Record<string, unknown>[]): Promise<string[]> {
  const answer = await callOp(s.base, "enqueue_task", { tasks });
  expect(answer.status, answer.text).toBe(200);
  return (answer.body.data.jobs as { id: string }[]).map((j) => j.id);
}

describe("HTTP API routes", () => {
  it("POST /api/ops/<name> runs an operation and answers with the CLI's envelope", async () => {
    server = await startTestServer();
    const answer = await callOp(server.base, "enqueue_task", { payload: { file: "a.ts" }, workflow: "docs" });
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toMatch(/^application\/json/);
    expect(answer.body.ok).toBe(true);
    const id = answer.body.data.jobs[0].id as string;
    const done = await callOp(server.base, "complete_task", { id, evidence: "edited" });
    expect(done.body.data.completed).toEqual([{ id, state: "succeeded" }]);
    const health = await callOp(server.base, "health", {});
    expect(health.body.data.counts).toEqual({ succeeded: 1 });
  });

  it("GET /api/ops lists the catalogue with JSON Schemas", async () => {
    server = await startTestServer();
    const answer = await request(`${server.base}/api/ops`);
    expect(answer.status).toBe(200);
    const enqueueOp = answer.body.data.operations.find((o: { name: string }) => o.name === "enqueue_task");
    expect(enqueueOp.input.type).toBe("object");
    expect(enqueueOp.allowed).toBe(true);
  });

  it("GET /api/jobs filters by state, type, workflow, tag and text, and pages with a cursor", async () => {
    server = await startTestServer();
    const ids = await enqueue(server, [
      ...Array.from({ length: 5 }, (_, i) => ({ payload: { n: i }, workflow: "w1", tags: ["red"] })),
      { type: "build", payload: { needle: "haystack-xyz" }, workflow: "w2" },
    ]);
    await callOp(server.base, "complete_task", { id: ids[0] });
    const all = await request(`${server.base}/api/jobs`);
    expect(all.body.data.total).toBe(6);
    const queued = await request(`${server.base}/api/jobs?state=queued&workflow=w1`);
    expect(queued.body.data.total).toBe(4);
    const two = await request(`${server.base}/api/jobs?state=queued,succeeded&type=task`);
    expect(two.body.data.total).toBe(5);
    const byType = await request(`${server.base}/api/jobs?type=build`);
    expect(byType.body.data.jobs.map((j: { id: string }) => j.id)).toEqual([ids[5]]);
    const byText = await request(`${server.base}/api/jobs?q=haystack-xyz`);
    expect(byText.body.data.jobs.map((j: { id: string }) => j.id)).toEqual([ids[5]]);
    const byTag = await request(`${server.base}/api/jobs?tag=red`);
    expect(byTag.body.data.total).toBe(5);
    // Creation time: an ISO date or a duration ago.
    expect((await request(`${server.base}/api/jobs?since=1h`)).body.data.total).toBe(6);
    expect((await request(`${server.base}/api/jobs?until=1h`)).body.data.total).toBe(0);
    expect((await request(`${server.base}/api/jobs?since=2999-01-01`)).body.data.total).toBe(0);
    expect((await request(`${server.base}/api/jobs?until=2999-01-01&type=build`)).body.data.total).toBe(1);
    const badTime = await request(`${server.base}/api/jobs?since=yesterday-ish`);
    expect([badTime.status, badTime.body.error.code]).toEqual([400, "INVALID_INPUT"]);

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await request(
        `${server.base}/api/jobs?limit=2${cursor === undefined ? "" : `&cursor=${cursor}`}`,
      );
      expect(page.status).toBe(200);
      expect(page.body.data.jobs.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.data.jobs.map((j: { id: string }) => j.id));
      cursor = page.body.data.nextCursor;
    } while (cursor !== undefined);
    expect(seen.sort()).toEqual([...ids].sort());
  });

  it("GET /api/jobs/<id> shows the job with attempts and events; unknown ids are 404 JOB_NOT_FOUND", async () => {
    server = await startTestServer();
    const [id] = await enqueue(server, [{ payload: { a: 1 } }]);
    await callOp(server.base, "fail_task", { id, error: "boom" });
    const answer = await request(`${server.base}/api/jobs/${id}`);
    expect(answer.status).toBe(200);
    expect(answer.body.data.job.id).toBe(id);
    expect(answer.body.data.events.map((e: { kind: string }) => e.kind)).toContain("enqueued");
    const missing = await request(`${server.base}/api/jobs/01ZZZZZZZZZZZZZZZZZZZZZZZZ`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("JOB_NOT_FOUND");
  });

  it("GET /api/jobs/<id>/log returns bytes from an offset, for a live tail", async () => {
    server = await startTestServer();
    // A command job as run_command makes it (the checkpoint operations refuse the type, R-37).
    const [enqueued] = await server.opened.engine.enqueue([
      { type: "command", payload: { command: "echo" } },
    ]);
    const id = enqueued?.job.id;
    const empty = await request(`${server.base}/api/jobs/${id}/log`);
    expect(empty.body.data).toMatchObject({ attempt: 0, text: "" });
    const [claimed] = await server.opened.engine.claim({ types: ["command"], owner: "test", limit: 1 });
    writeRunOutput(server.home, id!, claimed!.attempt, "line one\n");
    const first = await request(`${server.base}/api/jobs/${id}/log`);
    expect(first.body.data).toMatchObject({ attempt: 1, text: "line one\n", finished: false });
    writeRunOutput(server.home, id!, claimed!.attempt, "line two é\n");
    const next = await request(`${server.base}/api/jobs/${id}/log?offset=${first.body.data.offset}`);
    expect(next.body.data.text).toBe("line two é\n");
    const again = await request(`${server.base}/api/jobs/${id}/log?offset=${next.body.data.offset}`);
    expect(again.body.data.text).toBe("");
    const bad = await request(`${server.base}/api/jobs/${id}/log?stream=../../etc/passwd`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("INVALID_INPUT");
  });

  it("GET /api/events pages events after an id; GET /api/stats counts by state and type", async () => {
    server = await startTestServer();
    const ids = await enqueue(server, [{ payload: 1 }, { type: "build", payload: 2 }]);
    await callOp(server.base, "complete_task", { id: ids[0] });
    const events = await request(`${server.base}/api/events?after=0&limit=2`);
    expect(events.body.data.events.map((e: { id: number }) => e.id)).toEqual([1, 2]);
    const rest = await request(`${server.base}/api/events?after=${events.body.data.last}`);
    expect(rest.body.data.events[0].id).toBe(3);
    const ofJob = await request(`${server.base}/api/events?job=${ids[1]}`);
    expect(ofJob.body.data.events.every((e: { jobId: string }) => e.jobId === ids[1])).toBe(true);
    const stats = await request(`${server.base}/api/stats`);
    expect(stats.body.data).toMatchObject({
      byState: { queued: 1, succeeded: 1 },
      byType: { task: { succeeded: 1 }, build: { queued: 1 } },
      lastHour: { succeeded: 1 },
      readOnly: false,
    });
  });

  it("serves the dashboard page titled after the project, with a CSP and no CORS grant", async () => {
    server = await startTestServer();
    const page = await request(`${server.base}/`);
    expect(page.status).toBe(200);
    expect(page.text).toContain("<title>baton");
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(page.headers["access-control-allow-origin"]).toBeUndefined();
    const icon = await request(`${server.base}/favicon.svg`);
    expect(icon.headers["content-type"]).toBe("image/svg+xml");
  });

  it("a read-only server answers reads and refuses changes with 403 FORBIDDEN", async () => {
    server = await startTestServer({ readOnly: true });
    expect((await callOp(server.base, "health", {})).status).toBe(200);
    const refused = await callOp(server.base, "enqueue_task", { payload: 1 });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("FORBIDDEN");
    expect((await request(`${server.base}/api/jobs`)).body.data.total).toBe(0);
  });
});

describe("one id or many (D76)", () => {
  it("`id` fails with the job's error; `ids` answers per item, with one element as with two", async () => {
    server = await startTestServer();
    const [done, live, other] = await enqueue(server, [{ payload: {} }, { payload: {} }, { payload: {} }]);
    await callOp(server.base, "complete_task", { id: done });
    // One job named with `id`: its error is the answer (409 INVALID_TRANSITION).
    const single = await callOp(server.base, "skip_task", { id: done });
    expect([single.status, single.body.error.code]).toEqual([409, "INVALID_TRANSITION"]);
    const missing = await callOp(server.base, "redrive_task", { id: "NOSUCHJOB" });
    expect([missing.status, missing.body.error.code]).toEqual([404, "JOB_NOT_FOUND"]);
    // The same job in `ids`, alone or beside one that works: 200 with it among the errors.
    const one = await callOp(server.base, "skip_task", { ids: [done] });
    expect(one.status, one.text).toBe(200);
    expect(one.body.data).toEqual({
      changed: [],
      errors: [{ id: done, code: "INVALID_TRANSITION", message: expect.any(String) }],
    });
    const two = await callOp(server.base, "skip_task", { ids: [done, live] });
    expect(two.status, two.text).toBe(200);
    expect(two.body.data.changed).toEqual([{ id: live, state: "skipped" }]);
    expect(two.body.data.errors.map((e: { id: string; code: string }) => [e.id, e.code])).toEqual([
      [done, "INVALID_TRANSITION"],
    ]);
    // complete_task answers per item for `ids` too; a task that already succeeded is "already done"
    // (D60), not an error, whether it is named by `id` or in `ids`.
    const completeOne = await callOp(server.base, "complete_task", { ids: [done, "NOSUCHJOB"] });
    expect(completeOne.status, completeOne.text).toBe(200);
    expect(completeOne.body.data.completed).toEqual([{ id: done, state: "succeeded", alreadyDone: true }]);
    expect(completeOne.body.data.errors.map((e: { code: string }) => e.code)).toEqual(["JOB_NOT_FOUND"]);
    const completeSingle = await callOp(server.base, "complete_task", { id: "NOSUCHJOB" });
    expect([completeSingle.status, completeSingle.body.error.code]).toEqual([404, "JOB_NOT_FOUND"]);
    // Operations that apply in one transaction (archive, unarchive, delete) fail whole, one id or many.
    for (const ids of [["NOSUCHJOB"], [other, "NOSUCHJOB"]]) {
      const failed = await callOp(server.base, "unarchive", { ids });
      expect([failed.status, failed.body.error.code]).toEqual([404, "JOB_NOT_FOUND"]);
    }
    expect((await callOp(server.base, "archive", { ids: [other, live] })).body.data).toEqual({ archived: 2 });
    expect((await callOp(server.base, "unarchive", { ids: [other] })).body.data).toEqual({ unarchived: 1 });
    expect((await callOp(server.base, "unarchive", { ids: [other, live] })).body.data).toEqual({
      unarchived: 1,
    });
  });
});

describe("a project over HTTP is the CLI's --project (D145)", () => {
  it("POST /api/ops resolves `project` to its project root, looks a name up only there and refuses one that is no directory", async () => {
    server = await startTestServer();
    const root = tempDir("baton-http-projects-");
    const [alpha, beta] = [join(root, "alpha"), join(root, "beta")];
    for (const p of [alpha, beta]) mkdirSync(join(p, ".git"), { recursive: true });
    mkdirSync(join(beta, "src"));
    const add = async (cwd: string) =>
      (await callOp(server!.base, "enqueue_task", { name: "deploy", cwd })).body.data.jobs[0].id as string;
    const a = await add(alpha);
    const b = await add(beta);
    await callOp(server.base, "complete_task", { id: b, evidence: "shipped" });
    for (const project of [`${beta}/`, join(beta, "src"), `${beta}/.`]) {
      const done = await callOp(server.base, "complete_task", { id: "deploy", project, evidence: "again" });
      expect(done.status, done.text).toBe(200);
      expect(
        done.body.data.completed.map((c: { id: string }) => c.id),
        project,
      ).toEqual([b]);
      const added = await callOp(server.base, "enqueue_task", { payload: {}, project });
      expect(added.body.data.project, project).toBe(beta);
    }
    expect((await callOp(server.base, "check_task", { id: a })).body.data.job.state).toBe("queued");
    const refused = await callOp(server.base, "fail_task", {
      id: "deploy",
      project: "/nonexistent",
      error: "x",
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe("INVALID_INPUT");
    expect(refused.body.error.message).toContain("project '/nonexistent'");
    const elsewhere = await callOp(server.base, "fail_task", { id: "deploy", project: root, error: "x" });
    expect(elsewhere.body.error.code).toBe("JOB_NOT_FOUND");
    expect((await callOp(server.base, "check_task", { id: a })).body.data.job.state).toBe("queued");
  });
});

describe("HTTP API bad input", () => {
  it("answers each bad request with its typed 4xx error", async () => {
    server = await startTestServer({ maxBodyBytes: 64 * 1024 });
    const cases: [Promise<{ status: number; body: any }>, number, string][] = [
      [callOp(server.base, "enqueue_task", { payload: 1, evidnce: "x" }), 400, "INVALID_INPUT"],
      [callOp(server.base, "list_tasks", { limit: "ten" }), 400, "INVALID_INPUT"],
      [callOp(server.base, "no_such_op", {}), 404, "NOT_FOUND"],
      [
        request(`${server.base}/api/ops/health`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{not json",
        }),
        400,
        "INVALID_INPUT",
      ],
      [
        request(`${server.base}/api/ops/health`, {
          method: "POST",
          headers: { "content-type": "text/plain" },
          body: "{}",
        }),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
      ],
      [
        request(`${server.base}/api/ops/enqueue_task`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ payload: "x".repeat(100_000) }),
        }),
        413,
        "PAYLOAD_TOO_LARGE",
      ],
      [request(`${server.base}/api/ops/health`), 405, "METHOD_NOT_ALLOWED"],
      [request(`${server.base}/api/jobs`, { method: "DELETE" }), 405, "METHOD_NOT_ALLOWED"],
      [request(`${server.base}/api/jobs?limit=0`), 400, "INVALID_INPUT"],
      [request(`${server.base}/api/jobs?state=exploded`), 400, "INVALID_INPUT"],
      [request(`${server.base}/api/jobs?bogus=1`), 400, "INVALID_INPUT"],
      [request(`${server.base}/api/events?after=-1`), 400, "INVALID_INPUT"],
      [request(`${server.base}/api/jobs/%E0%A4%A`), 400, "INVALID_INPUT"],
      [request(`${server.base}/api/nope`), 404, "NOT_FOUND"],
      [request(`${server.base}/nope.html`), 404, "NOT_FOUND"],
      [request(`${server.base}/api/stream`, { headers: { "last-event-id": "abc" } }), 400, "INVALID_INPUT"],
      [
        callOp(server.base, "enqueue_task", JSON.parse("[".repeat(100) + "]".repeat(100))),
        400,
        "INVALID_INPUT",
      ],
    ];
    for (const [pending, status, code] of cases) {
      const answer = await pending;
      expect({ status: answer.status, code: answer.body?.error?.code }).toEqual({ status, code });
    }
  });

  it("errors name what the caller sent: an unknown query parameter in details.issues, ?after= as after", async () => {
    server = await startTestServer();
    const bogus = await request(`${server.base}/api/jobs?bogus=1`);
    expect(bogus.status).toBe(400);
    expect(bogus.body.error.details.issues).toEqual([{ path: "bogus", message: "unknown query parameter" }]);
    expect(bogus.body.error.message).toContain("unknown query parameter 'bogus'");
    const after = await request(`${server.base}/api/stream?after=abc`);
    expect(after.status).toBe(400);
    expect(after.body.error.message).toBe("GET /api/stream: after: must be a whole number ≥ 0 (got 'abc')");
    expect(after.body.error.details.issues).toEqual([
      { path: "after", message: "must be a whole number ≥ 0" },
    ]);
    const header = await request(`${server.base}/api/stream`, { headers: { "last-event-id": "abc" } });
    expect(header.status).toBe(400);
    expect(header.body.error.message).toContain("Last-Event-ID");
  });

  it("query errors say what is wrong in words, with details.issues and the route (dashboard review)", async () => {
    server = await startTestServer();
    const id = (await enqueue(server, [{ payload: 1 }]))[0]!;
    const show = (path: string) => errorOf(server!, path);
    const limit = await show("/api/jobs?limit=-1");
    expect(limit.status).toBe(400);
    expect(limit.message).toContain("GET /api/jobs: limit: must be a whole number ≥ 1");
    expect(limit.message).not.toContain("received string");
    const offset = await show(`/api/jobs/${id}/log?offset=-5`);
    expect(offset.status).toBe(400);
    expect(offset.message).toContain("offset: must be a whole number ≥ 0");
    // live,finished is a list like any other: every job.
    const both = await request(`${server.base}/api/jobs?state=live,finished`);
    expect(both.status, both.text).toBe(200);
    expect(both.body.data.total).toBe(1);
    for (const route of ["/api/stats", "/api/throughput"]) {
      const extra = await show(`${route}?x=1`);
      expect(extra.status).toBe(400);
      expect(extra.message).toBe(`GET ${route}: takes no query parameters (got 'x')`);
      expect(extra.issues).toEqual([{ path: "x", message: "unknown query parameter" }]);
    }
    for (const key of ["since", "until"]) {
      const when = await show(`/api/jobs?${key}=garbage`);
      expect(when.status).toBe(400);
      expect(when.code).toBe("INVALID_INPUT");
      expect(when.message.startsWith(`GET /api/jobs: ${key}`)).toBe(true);
      expect(when.issues?.[0]?.path).toBe(key);
    }
    const cursor = await show("/api/jobs?cursor=zzz");
    expect(cursor.status).toBe(400);
    expect(cursor.code).toBe("INVALID_INPUT");
    expect(cursor.message.startsWith("GET /api/jobs: cursor")).toBe(true);
    expect(cursor.issues?.[0]?.path).toBe("cursor");
  });

  it("a list of states is taken the same way everywhere: commas, arrays, live/finished among them", async () => {
    server = await startTestServer();
    const ids = await enqueue(server, [{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
    await callOp(server.base, "complete_task", { id: ids[0] });
    await callOp(server.base, "fail_task", { id: ids[1], error: "no" });
    const total = async (input: unknown) => {
      const answer = await callOp(server!.base, "list_tasks", { all: true, ...(input as object) });
      expect(answer.status, answer.text).toBe(200);
      return answer.body.data.total as number;
    };
    expect(await total({ state: "queued,succeeded" })).toBe(2);
    expect(await total({ state: ["queued", "succeeded"] })).toBe(2);
    expect(await total({ state: ["live", "failed"] })).toBe(2);
    expect(await total({ state: "finished" })).toBe(2);
    const bad = await callOp(server.base, "list_tasks", { state: "queued,exploded" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.issues[0].path).toBe("state");
    expect(bad.body.error.message).toContain("'exploded' is not a state");
    expect((await request(`${server.base}/api/jobs?state=live,failed`)).body.data.total).toBe(2);
    // The CLI: -s with commas, as repeated -s.
    const cli = baton(["list", "--all", "--json", "-s", "queued,succeeded"], {
      home: server.home,
      env: { BATON_DIRECT: "1" },
    });
    expect(cli.code, cli.stderr).toBe(0);
    expect(envelope(cli).data.total).toBe(2);
    const mixed = baton(["list", "--all", "--json", "-s", "live", "-s", "failed"], {
      home: server.home,
      env: { BATON_DIRECT: "1" },
    });
    expect(mixed.code, mixed.stderr).toBe(0);
    expect(envelope(mixed).data.total).toBe(2);
  });
});

describe("HTTP event stream", () => {
  it("delivers a change made by another process (the CLI) without a reload", async () => {
    server = await startTestServer();
    const stream = readStream(`${server.base}/api/stream`, {}, (frames) =>
      frames.some((f) => f.data.kind === "enqueued" && f.data.actor === "cli"),
    );
    // Let the stream attach before the other process writes.
    await new Promise((r) => setTimeout(r, 300));
    const cli = baton(["enqueue", "--json", "--workflow", "sse", '{"from":"cli"}'], {
      home: server.home,
      env: { BATON_DIRECT: "1" },
    });
    expect(cli.code, cli.stderr).toBe(0);
    const id = envelope(cli).data.jobs[0].id as string;
    const frames = await stream;
    expect(frames.find((f) => f.data.actor === "cli")!.data.jobId).toBe(id);
  });

  it("resumes after Last-Event-ID with exactly the events missed", async () => {
    server = await startTestServer();
    const ids = await enqueue(server, [{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
    await callOp(server.base, "complete_task", { ids });
    const frames = await readStream(
      `${server.base}/api/stream`,
      { "last-event-id": "2" },
      (f) => f.length >= 4,
    );
    expect(frames.map((f) => f.id)).toEqual([3, 4, 5, 6]);
    const fromQuery = await readStream(`${server.base}/api/stream?after=5`, {}, (f) => f.length >= 1);
    expect(fromQuery.map((f) => f.id)).toEqual([6]);
  });

  it("every query parameter is one value: empty or repeated is 400 naming it; booleans say their spellings (issue 20)", async () => {
    server = await startTestServer();
    const id = (await enqueue(server, [{ payload: 1 }]))[0]!;
    const show = (path: string) => errorOf(server!, path);
    for (const key of ["limit", "state", "type", "archived", "q"]) {
      const empty = await show(`/api/jobs?${key}=`);
      expect(empty, key).toMatchObject({
        status: 400,
        code: "INVALID_INPUT",
        message: `GET /api/jobs: ${key}: is empty: give a value, or leave the parameter out`,
        issues: [{ path: key }],
      });
    }
    const twice = await show("/api/jobs?limit=5&limit=7");
    expect(twice).toMatchObject({
      status: 400,
      message: "GET /api/jobs: limit: given 2 times: give it once",
      issues: [{ path: "limit", message: "given 2 times: give it once" }],
    });
    expect((await show("/api/events?after=1&after=2")).issues).toEqual([
      { path: "after", message: "given 2 times: give it once" },
    ]);
    for (const value of ["1", "yes", "TRUE"]) {
      const archived = await show(`/api/jobs?archived=${value}`);
      expect(archived).toMatchObject({
        status: 400,
        message: `GET /api/jobs: archived: must be true or false (got '${value}')`,
        issues: [{ path: "archived", message: "must be true or false" }],
      });
    }
    expect((await request(`${server.base}/api/jobs?archived=true`)).status).toBe(200);
    expect((await request(`${server.base}/api/jobs?archived=false`)).status).toBe(200);
    // The log routes are named by their address, not an internal name.
    const log = await show(`/api/jobs/${id}/log?max=0`);
    expect(log.status).toBe(400);
    expect(log.message).toBe("GET /api/jobs/<id>/log: max: must be a whole number ≥ 1 (got '0')");
    const big = await show(`/api/jobs/${id}/log?max=999999`);
    expect(big.status).toBe(400);
    expect(big.message.startsWith("GET /api/jobs/<id>/log: max: ")).toBe(true);
    expect(big.issues?.[0]?.path).toBe("max");
    const download = await show(`/api/jobs/${id}/log/download?stream=`);
    expect(download.message).toBe(
      "GET /api/jobs/<id>/log/download: stream: is empty: give a value, or leave the parameter out",
    );
    for (const path of [`/api/jobs/${id}/log?stream=x`, `/api/jobs/${id}/log/download?stream=x`])
      expect((await show(path)).message).not.toMatch(/GET log/);
    // Text stays text, even when it looks like a number: `q=007` is not `q=7`.
    await enqueue(server, [
      { payload: 2, name: "build-007" },
      { payload: 3, name: "build-7" },
    ]);
    const found = await request(`${server.base}/api/jobs?q=007`);
    expect(found.status, found.text).toBe(200);
    expect((found.body.data.jobs as { name?: string }[]).map((j) => j.name)).toEqual(["build-007"]);
  });

  it("every route of the OpenAPI document, and the pages, go through one query check: unknown, empty, repeated are 400 (issue 20)", async () => {
    server = await startTestServer();
    const id = (await enqueue(server, [{ payload: 1 }]))[0]!;
    const doc = (await request(`${server.base}/api/openapi.json`)).body;
    const routes: { method: string; path: string; params: string[] }[] = [];
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, spec] of Object.entries(item)) {
        const params = ((spec.parameters ?? []) as { in: string; name: string }[])
          .filter((p) => p.in === "query")
          .map((p) => p.name);
        routes.push({ method: method.toUpperCase(), path: path.replace("{id}", id), params });
      }
    }
    // The pages take ?token= alone (once), like the routes their parameters.
    routes.push({ method: "GET", path: "/", params: ["token"] });
    expect(routes.find((r) => r.path === "/api/stream")?.params).toEqual(["after"]);
    const ask = (r: { method: string; path: string }, query: string) =>
      request(`${server!.base}${r.path}?${query}`, {
        method: r.method,
        headers: { "content-type": "application/json" },
        ...(r.method === "POST" ? { body: "{}" } : {}),
      });
    const wrong: string[] = [];
    const check = async (r: { method: string; path: string }, query: string, path: string, rule: RegExp) => {
      const answer = await ask(r, query);
      const error = answer.body?.error;
      if (
        answer.status !== 400 ||
        error?.code !== "INVALID_INPUT" ||
        error.details?.issues?.[0]?.path !== path ||
        !rule.test(error.message)
      )
        wrong.push(`${r.method} ${r.path}?${query}: ${answer.status} ${answer.text.slice(0, 200)}`);
    };
    for (const r of routes) {
      await check(r, "x=1", "x", /unknown query parameter|takes no query parameters/);
      for (const p of r.params) {
        await check(r, `${p}=`, p, /is empty/);
        await check(r, `${p}=1&${p}=2`, p, /given 2 times/);
      }
    }
    expect(wrong).toEqual([]);
    // Whole numbers only: 1e3 is not 1000.
    await check({ method: "GET", path: "/api/stream" }, "after=1e3", "after", /whole number/);
    expect(wrong).toEqual([]);
    // Two tokens on a page: refused before either is looked at, not a redirect with the first.
    const page = await request(`${server.base}/?token=A&token=B`);
    expect(page.status).toBe(400);
    expect(page.headers.location).toBeUndefined();
  });
});
