/**
 * `GET /api/openapi.json`: an OpenAPI 3.1 document generated from the operation catalogue, checked
 * by a real validator (@seriousme/openapi-schema-validator, which knows 3.1), with every operation
 * in it; and the API's error bodies: field paths for invalid input, `?state=bogus` named as the
 * route and the query parameter (not an internal operation).
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../src/core/errors.js";
import { operations } from "../src/ops/catalogue.js";
import { MAX_LOG_CHUNK } from "../src/http/api.js";
import type { TestServer } from "./helpers/http.js";
import { callOp, request, startTestServer } from "./helpers/http.js";

const TOKEN = "openapi-test-token-8f3a2c91";
const AUTH = { authorization: `Bearer ${TOKEN}` };

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ token: TOKEN });
});
afterAll(async () => {
  await server?.close();
});

async function documentOf(): Promise<any> {
  const answer = await request(`${server.base}/api/openapi.json`, { headers: AUTH });
  expect(answer.status, answer.text).toBe(200);
  expect(answer.headers["content-type"]).toMatch(/^application\/json/);
  return answer.body;
}

describe("OpenAPI document", () => {
  it("validates as OpenAPI 3.1", async () => {
    const doc = await documentOf();
    expect(doc.openapi).toBe("3.1.0");
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    // The validator does refuse a broken document (a response without its description).
    const broken = structuredClone(doc);
    delete broken.paths["/api/stats"].get.responses["200"].description;
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it("has every operation of the catalogue, with its input and output schemas", async () => {
    const doc = await documentOf();
    const missing = operations.filter(
      (op) => doc.paths[`/api/ops/${op.name}`]?.post?.operationId !== op.name,
    );
    expect(missing.map((op) => op.name)).toEqual([]);
    const described = Object.keys(doc.paths).filter((p) => p.startsWith("/api/ops/"));
    expect(described.length).toBe(operations.length);
    for (const op of operations) {
      const post = doc.paths[`/api/ops/${op.name}`].post;
      expect(post.requestBody.content["application/json"].schema.type, op.name).toBe("object");
      expect(post.responses["200"].content["application/json"].schema.properties.data, op.name).toBeDefined();
      expect(post["x-baton-read-only"]).toBe(op.readOnly);
      for (const status of ["400", "401", "403", "405", "413", "415"])
        expect(post.responses[status], `${op.name} ${status}`).toBeDefined();
    }
    // 401 names WWW-Authenticate and 405 names Allow, as the server sends them.
    expect(doc.components.responses.Unauthorized.headers["WWW-Authenticate"]).toBeDefined();
    expect(doc.components.responses.MethodNotAllowed.headers.Allow).toBeDefined();
    expect(doc.components.schemas.Error.properties.error.properties.code.enum).toEqual(
      Object.keys(ERROR_CODES),
    );
  });

  it("describes the read routes the server answers, each answer valid against its typed schema", async () => {
    const doc = await documentOf();
    const enqueued = await callOp(
      server.base,
      "enqueue_task",
      { name: "described", payload: { a: 1 } },
      AUTH,
    );
    const id = enqueued.body.data.jobs[0].id as string;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const routes: [string, string][] = [
      ["/api/jobs", "/api/jobs?limit=5"],
      ["/api/jobs/{id}", `/api/jobs/${id}`],
      ["/api/jobs/{id}/log", `/api/jobs/${id}/log`],
      ["/api/stats", "/api/stats"],
      ["/api/throughput", "/api/throughput"],
      ["/api/events", "/api/events"],
      ["/api/ops", "/api/ops"],
    ];
    for (const [path, url] of routes) {
      expect(doc.paths[path]?.get, path).toBeDefined();
      const answer = await request(`${server.base}${url}`, { headers: AUTH });
      expect(answer.status, `${path}: ${answer.text}`).toBe(200);
      const schema = doc.paths[path].get.responses["200"].content["application/json"].schema;
      // Typed: the data's fields are named, not "any object".
      expect(Object.keys(schema.properties.data.properties ?? {}).length, path).toBeGreaterThan(0);
      const validate = ajv.compile(schema);
      expect(validate(answer.body) ? [] : validate.errors, path).toEqual([]);
    }
    // The download is text, not JSON; the document itself is served bare.
    const download = doc.paths["/api/jobs/{id}/log/download"].get.responses["200"].content;
    expect(Object.keys(download)).toEqual(["text/plain"]);
    expect(
      doc.paths["/api/openapi.json"].get.responses["200"].content["application/json"].schema.required,
    ).toEqual(["openapi", "paths"]);
  });
});

describe("API error bodies", () => {
  it("401, 405 and 415 come as the document describes them: status, header and a listed code", async () => {
    const doc = await documentOf();
    const codes: string[] = doc.components.schemas.Error.properties.error.properties.code.enum;
    const post = doc.paths["/api/ops/health"].post;
    const cases = [
      { answer: await callOp(server.base, "health", {}), status: 401, header: "www-authenticate" },
      {
        answer: await request(`${server.base}/api/ops/health`, { method: "GET", headers: AUTH }),
        status: 405,
        header: "allow",
      },
      {
        answer: await request(`${server.base}/api/ops/health`, {
          method: "POST",
          headers: { ...AUTH, "content-type": "text/plain" },
          body: "{}",
        }),
        status: 415,
        header: undefined,
      },
    ];
    for (const { answer, status, header } of cases) {
      expect(answer.status, answer.text).toBe(status);
      expect(post.responses[String(status)], String(status)).toBeDefined();
      expect(codes).toContain(answer.body.error.code);
      if (header !== undefined) expect(answer.headers[header], `${status} ${header}`).toBeTruthy();
    }
  });

  it("a foreign Host is 403 on every route, and every route lists 403 (issue 20, tester L4)", async () => {
    const doc = await documentOf();
    const unlisted: string[] = [];
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, spec] of Object.entries(item)) {
        const answer = await request(`${server.base}${path.replace("{id}", "x")}`, {
          method: method.toUpperCase(),
          headers: { ...AUTH, host: "evil.example" },
        });
        expect(answer.status, `${method} ${path}`).toBe(403);
        if (spec.responses["403"] === undefined) unlisted.push(`${method} ${path}`);
      }
    }
    expect(unlisted).toEqual([]);
  });

  it("invalid input names the field path in the message and in details.issues", async () => {
    const answer = await callOp(
      server.base,
      "enqueue_task",
      { tasks: [{ payload: 1, priority: "high" }] },
      AUTH,
    );
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("INVALID_INPUT");
    expect(answer.body.error.message).toMatch(/^enqueue_task: tasks\.0\.priority: /);
    expect(answer.body.error.details.issues[0].path).toBe("tasks.0.priority");
  });

  it("?state=bogus is refused naming the route and the query parameter, not an operation", async () => {
    const answer = await request(`${server.base}/api/jobs?state=queued,bogus`, { headers: AUTH });
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toMatch(/^GET \/api\/jobs: state: 'bogus' is not a state/);
    expect(answer.body.error.message).not.toContain("list_tasks");
    expect(answer.body.error.details.issues).toEqual([{ path: "state", message: "'bogus' is not a state" }]);
    // A query parameter the operation calls otherwise keeps the caller's name.
    const long = await request(`${server.base}/api/jobs?q=${"x".repeat(600)}`, { headers: AUTH });
    expect(long.status).toBe(400);
    expect(long.body.error.message).toMatch(/^GET \/api\/jobs: q: /);
    expect(long.body.error.details.issues[0].path).toBe("q");
  });

  it("the log route's bounds in the document are the server's own: at a bound accepted, one past it refused (issue 20)", async () => {
    const doc = await documentOf();
    const params: { name: string; schema: { type?: string; minimum?: number; maximum?: number } }[] =
      doc.paths["/api/jobs/{id}/log"].get.parameters.filter((p: { in: string }) => p.in === "query");
    const max = params.find((p) => p.name === "max");
    expect(max?.schema).toMatchObject({ type: "integer", minimum: 1, maximum: MAX_LOG_CHUNK });
    const enqueued = await callOp(server.base, "enqueue_task", { payload: 1 }, AUTH);
    const id = enqueued.body.data.id as string;
    const ask = async (name: string, value: number) => {
      const answer = await request(`${server.base}/api/jobs/${id}/log?${name}=${value}`, { headers: AUTH });
      return {
        name,
        value,
        status: answer.status,
        path: answer.body?.error?.details?.issues?.[0]?.path,
        text: answer.text,
      };
    };
    let bounds = 0;
    for (const { name, schema } of params) {
      if (schema.type !== "integer") continue;
      if (schema.maximum !== undefined) {
        bounds += 1;
        // At the bound: not a query error (the job has no attempt yet, so an attempt number is 404).
        const at = await ask(name, schema.maximum);
        expect(at.status, at.text).not.toBe(400);
        expect(await ask(name, schema.maximum + 1)).toMatchObject({ status: 400, path: name });
      }
      if (schema.minimum !== undefined && schema.minimum > 0) {
        expect(await ask(name, schema.minimum - 1)).toMatchObject({ status: 400, path: name });
      }
    }
    expect(bounds).toBeGreaterThanOrEqual(2); // attempt and max
  });
});
