/**
 * R-32 over HTTP: `Idempotency-Key: <id>` on POST /api/ops/<name> is the call's request id. The same
 * key twice makes one job and answers the same; a key that is not a valid request id is refused.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { TestServer } from "./helpers/http.js";
import { callOp, request, startTestServer } from "./helpers/http.js";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("R-32 HTTP Idempotency-Key", () => {
  it("R-32 the same Idempotency-Key twice: one job, the same answer; a bad key is INVALID_INPUT", async () => {
    server = await startTestServer();
    const input = { name: "deploy", payload: { n: 1 } };
    const key = { "idempotency-key": "deploy-2026-12-06-1" };
    const first = await callOp(server.base, "enqueue_task", input, key);
    expect(first.status, first.text).toBe(200);
    const again = await callOp(server.base, "enqueue_task", input, key);
    expect(again.status, again.text).toBe(200);
    expect(again.body).toEqual(first.body);

    // Without a key, the same input is a new call.
    await callOp(server.base, "enqueue_task", input);
    const bad = await callOp(server.base, "enqueue_task", input, { "idempotency-key": "bad key!" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("INVALID_INPUT");

    const jobs = await request(`${server.base}/api/jobs`);
    expect(jobs.body.data.total).toBe(2);
  });
});
