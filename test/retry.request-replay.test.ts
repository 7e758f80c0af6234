/**
 * A repeated `retry` under the same request id answers what the first call answered: the
 * attempt number it queued, not a count of the attempts run since. Real binary and daemon on a temp
 * SQLite home (CLI `--request-id`), and the HTTP server (`Idempotency-Key` on retry_job).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { baton, envelope } from "./helpers/cli.js";
import type { TestServer } from "./helpers/http.js";
import { callOp, startTestServer } from "./helpers/http.js";
import { tempDir } from "./helpers/tmp.js";

const homes: string[] = [];
afterAll(() => {
  for (const home of homes) baton(["daemon", "stop"], { home });
});
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("R-32 retry replays its answer", () => {
  it("CLI: the same --request-id after the retried attempt ran answers the same attempt; the job ran once more", () => {
    const home = tempDir("baton-retry-replay-");
    homes.push(home);
    const project = join(tempDir("baton-retry-replay-proj-"), "p");
    mkdirSync(join(project, ".git"), { recursive: true });
    const json = (args: string[]) => {
      const r = baton([args[0]!, "--json", ...args.slice(1)], { home, cwd: project });
      return { code: r.code, env: envelope(r), stderr: r.stderr };
    };
    const started = json(["run", "--", "true"]);
    expect(started.code, started.stderr).toBe(0);
    const id = started.env.data.id as string;
    expect(json(["wait", id]).code).toBe(0);

    const first = json(["retry", id, "--force", "--request-id", "rt2"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.env.data.attempt).toBe(2);
    expect(json(["wait", id]).code).toBe(0);

    for (let i = 0; i < 2; i++) {
      const again = json(["retry", id, "--force", "--request-id", "rt2"]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.env.data).toEqual(first.env.data);
    }
    const shown = json(["show", id]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.env.data.attempts).toHaveLength(2);
  }, 60_000);

  it("HTTP: the same Idempotency-Key on retry_job after the attempt was claimed answers the same attempt", async () => {
    server = await startTestServer();
    const queued = await callOp(server.base, "enqueue_task", { name: "unit", type: "review" });
    expect(queued.status, queued.text).toBe(200);
    const id = queued.body.data.jobs[0].id as string;
    const claim = async () => {
      const claimed = await callOp(server!.base, "claim_task", { types: ["review"], owner: "a" });
      expect(claimed.status, claimed.text).toBe(200);
      const c = claimed.body.data.claimed[0];
      const done = await callOp(server!.base, "complete_task", { id, token: c.token, evidence: "ok" });
      expect(done.status, done.text).toBe(200);
      return c.attempt as number;
    };
    expect(await claim()).toBe(1);
    const key = { "idempotency-key": "retry-1" };
    const first = await callOp(server.base, "retry_job", { id, force: true }, key);
    expect(first.status, first.text).toBe(200);
    expect(first.body.data.attempt).toBe(2);
    expect(await claim()).toBe(2);
    const again = await callOp(server.base, "retry_job", { id, force: true }, key);
    expect(again.status, again.text).toBe(200);
    expect(again.body.data).toEqual(first.body.data);
  });
});
