/**
 * Task-run notifications end to end: real HTTP servers on 127.0.0.1 stand in for the generic
 * webhook, Slack, Discord and the Telegram Bot API (the exact bodies and headers they receive are
 * checked), and fake `notify-send` / `osascript` executables first on PATH record the argv of the
 * real child process baton starts for desktop notifications.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  deliverNotifications,
  renderTemplate,
  shouldNotify,
  type NotificationDelivery,
  type NotifySpec,
  type RunOutcome,
  type RunStatus,
} from "../src/tasks/notify.js";
import { templateVars } from "../src/tasks/notify/message.js";
import { parseConfig } from "../src/tasks/config.js";
import { TEMPLATE_VARS, taskSchema } from "../src/tasks/schema.js";
import { tempDir } from "./helpers/tmp.js";

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

type Responder = (req: Received, res: ServerResponse, index: number) => void;

interface TestServer {
  url: string;
  requests: Received[];
}

const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A real HTTP server on 127.0.0.1 that records every request; answers 200 "ok" unless told. */
async function serve(respond: Responder = (_req, res) => res.end("ok")): Promise<TestServer> {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const received: Received = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(received);
      respond(received, res, requests.length);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests };
}

function outcome(over: Partial<RunOutcome> = {}): RunOutcome {
  return {
    runId: "01JTESTRUN0000000000000000",
    task: "backup",
    status: "failed",
    exitCode: 3,
    summary: "disk full",
    durationMs: 125_000,
    logPath: "/tmp/runs/backup.log",
    result: { copied: 12, errors: ["E1"] },
    ...over,
  };
}

const FIXED = { now: () => Date.UTC(2026, 0, 2, 3, 4, 5), hostname: "testhost", retryDelayMs: 20 };

function expectRecord(record: NotificationDelivery | undefined, fields: Partial<NotificationDelivery>) {
  expect(record).toEqual({ at: "2026-01-02T03:04:05.000Z", ...fields });
}

/** A fake notifier first on PATH: a real executable that writes its argv, NUL-separated, to a file. */
function fakeNotifier(
  name: string,
  exitCode = 0,
): { env: NodeJS.ProcessEnv; argv: () => string[]; dir: string } {
  const dir = tempDir("baton-notify-");
  const argvFile = join(dir, "argv");
  writeFileSync(
    join(dir, name),
    `#!/bin/sh\nprintf '%s\\0' "$@" > "$ARGV_FILE"\n${exitCode === 0 ? "" : `echo "notifier broke" >&2\n`}exit ${exitCode}\n`,
  );
  chmodSync(join(dir, name), 0o755);
  return {
    dir,
    env: { PATH: `${dir}:${process.env.PATH ?? "/usr/bin:/bin"}`, ARGV_FILE: argvFile },
    argv: () => readFileSync(argvFile, "utf8").split("\0").slice(0, -1),
  };
}

describe("notify: when (`on:`)", () => {
  it("failure covers failed and timed_out; success succeeded; complete all but dry runs; default [failure]", () => {
    const table: [NotifySpec["on"], RunStatus, boolean][] = [
      [undefined, "failed", true],
      [undefined, "timed_out", true],
      [undefined, "succeeded", false],
      [undefined, "cancelled", false],
      [["failure"], "succeeded", false],
      [["success"], "succeeded", true],
      [["success"], "failed", false],
      [["complete"], "succeeded", true],
      [["complete"], "failed", true],
      [["complete"], "cancelled", true],
      [["failure"], "cancelled", false],
      [["complete"], "dry_run", false],
      [["success", "failure"], "dry_run", false],
    ];
    for (const [on, status, expected] of table) {
      expect([on, status, shouldNotify(on, status)]).toEqual([on, status, expected]);
    }
  });

  it("sends nothing when the status does not match, and to the channel when it does", async () => {
    const server = await serve();
    const spec: NotifySpec = { on: ["success"], slack: { webhook_url_env: "SLACK_WEBHOOK" } };
    const env = { SLACK_WEBHOOK: `${server.url}/slack` };
    expect(await deliverNotifications(spec, outcome({ status: "failed" }), env, FIXED)).toEqual([]);
    expect(await deliverNotifications(spec, outcome({ status: "dry_run" }), env, FIXED)).toEqual([]);
    expect(server.requests).toHaveLength(0);
    const records = await deliverNotifications(spec, outcome({ status: "succeeded" }), env, FIXED);
    expect(records.map((r) => [r.channel, r.ok])).toEqual([["slack", true]]);
    expect(server.requests).toHaveLength(1);
  });
});

describe("notify: message templates", () => {
  it("substitutes {{var}} in one pass; unknown names become empty; nothing is evaluated", () => {
    expect(renderTemplate("{{task}} {{ status }} {{nope}}|", { task: "t", status: "failed" })).toBe(
      "t failed |",
    );
    const sneaky = "{{task}} ${process.exit(1)} `id` $(id)";
    expect(renderTemplate("[{{summary}}]", { task: "t", summary: sneaky })).toBe(`[${sneaky}]`);
    expect(renderTemplate("{{constructor}}{{__proto__}}{{toString}}", {})).toBe("");
  });

  it("offers exactly the variables the schema allows", () => {
    expect(Object.keys(templateVars(outcome(), "h")).sort()).toEqual([...TEMPLATE_VARS].sort());
  });
});

describe("notify: HTTP channels against a local server", () => {
  it("Slack: POSTs {text} with the rendered template, escaping Slack's control characters", async () => {
    const server = await serve();
    const spec = taskSchema.parse({
      command: "true",
      notify: {
        message: "{{task}} {{status}} in {{duration}}: {{summary}} <!channel> & {{run_id}} on {{host}}",
        slack: { webhook_url_env: "SLACK_WEBHOOK" },
      },
    }).notify!;
    const records = await deliverNotifications(
      spec,
      outcome(),
      { SLACK_WEBHOOK: `${server.url}/services/T0/B0/xyz` },
      FIXED,
    );
    expectRecord(records[0], { channel: "slack", ok: true, status: 200, attempts: 1 });
    const [req] = server.requests;
    expect(req!.method).toBe("POST");
    expect(req!.path).toBe("/services/T0/B0/xyz");
    expect(req!.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(req!.body)).toEqual({
      text: "backup failed in 2m 5s: disk full &lt;!channel&gt; &amp; 01JTESTRUN0000000000000000 on testhost",
    });
  });

  it("Discord: POSTs {content} with the default message and no mentions allowed", async () => {
    const server = await serve((_req, res) => {
      res.statusCode = 204;
      res.end();
    });
    const records = await deliverNotifications(
      { discord: { webhook_url_env: "DISCORD_WEBHOOK" } },
      outcome({ status: "timed_out", exitCode: null, summary: "" }),
      { DISCORD_WEBHOOK: `${server.url}/api/webhooks/1/abc` },
      FIXED,
    );
    expectRecord(records[0], { channel: "discord", ok: true, status: 204, attempts: 1 });
    expect(server.requests[0]!.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(server.requests[0]!.body)).toEqual({
      content: "backup timed_out in 2m 5s [run 01JTESTRUN0000000000000000]",
      allowed_mentions: { parse: [] },
    });
  });

  it("Telegram: sendMessage at BATON_TELEGRAM_API_URL with the token in the path; {ok:false} is a failure", async () => {
    const server = await serve((req, res) => {
      res.setHeader("content-type", "application/json");
      const chat = (JSON.parse(req.body) as { chat_id: string }).chat_id;
      res.end(
        chat === "42"
          ? '{"ok":true,"result":{}}'
          : '{"ok":false,"description":"Bad Request: chat not found"}',
      );
    });
    const env = { TG_TOKEN: "123456:ABC-secret", BATON_TELEGRAM_API_URL: `${server.url}/tg/` };
    const message = "{{task}}: {{summary}}";
    const ok = await deliverNotifications(
      { message, telegram: { bot_token_env: "TG_TOKEN", chat_id: "42" } },
      outcome(),
      env,
      FIXED,
    );
    expectRecord(ok[0], { channel: "telegram", ok: true, status: 200, attempts: 1 });
    expect(server.requests[0]!.path).toBe("/tg/bot123456:ABC-secret/sendMessage");
    expect(server.requests[0]!.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(server.requests[0]!.body)).toEqual({
      chat_id: "42",
      text: "backup: disk full",
      disable_web_page_preview: true,
    });

    const refused = await deliverNotifications(
      { message, telegram: { bot_token_env: "TG_TOKEN", chat_id_env: "TG_CHAT" } },
      outcome(),
      { ...env, TG_CHAT: "-100" },
      FIXED,
    );
    expectRecord(refused[0], {
      channel: "telegram",
      ok: false,
      status: 200,
      error: "Telegram refused the message: Bad Request: chat not found",
      attempts: 1,
    });
  });

  it("Telegram: the telegramApiUrl option wins over base_url and the environment", async () => {
    const server = await serve((_req, res) => res.end('{"ok":true}'));
    const records = await deliverNotifications(
      { telegram: { bot_token: "T0K3N", chat_id: "7", base_url: "http://127.0.0.1:9/never" } },
      outcome(),
      { BATON_TELEGRAM_API_URL: "http://127.0.0.1:9/never-either" },
      { ...FIXED, telegramApiUrl: server.url },
    );
    expect(records.map((r) => r.ok)).toEqual([true]);
    expect(server.requests[0]!.path).toBe("/botT0K3N/sendMessage");
  });

  it("generic webhook: POSTs the outcome as camelCase JSON with plain headers and headers from env", async () => {
    const server = await serve();
    const records = await deliverNotifications(
      {
        on: ["complete"],
        message: "{{task}} {{status}}",
        webhook: {
          url_env: "HOOK_URL",
          headers: { "x-source": "baton-test" },
          headers_env: { authorization: "HOOK_AUTH" },
        },
      },
      outcome({ status: "succeeded", exitCode: 0, project: "demo" }),
      { HOOK_URL: `${server.url}/hook?x=1`, HOOK_AUTH: "Bearer s3cr3t-token" },
      FIXED,
    );
    expectRecord(records[0], { channel: "webhook", ok: true, status: 200, attempts: 1 });
    const [req] = server.requests;
    expect(req!.path).toBe("/hook?x=1");
    expect(req!.headers["content-type"]).toBe("application/json");
    expect(req!.headers["x-source"]).toBe("baton-test");
    expect(req!.headers.authorization).toBe("Bearer s3cr3t-token");
    expect(JSON.parse(req!.body)).toEqual({
      event: "run.finished",
      runId: "01JTESTRUN0000000000000000",
      task: "backup",
      status: "succeeded",
      exitCode: 0,
      summary: "disk full",
      durationMs: 125_000,
      logPath: "/tmp/runs/backup.log",
      result: { copied: 12, errors: ["E1"] },
      project: "demo",
      host: "testhost",
      message: "backup succeeded",
    });
  });

  it("sends every configured channel and reports them in a fixed order", async () => {
    const server = await serve((req, res) => res.end(req.path.includes("/bot") ? '{"ok":true}' : "ok"));
    const records = await deliverNotifications(
      {
        telegram: { bot_token: "tok", chat_id: "1", base_url: server.url },
        discord: { webhook_url: `${server.url}/d` },
        slack: { webhook_url: `${server.url}/s` },
        webhook: { url: `${server.url}/w` },
      },
      outcome(),
      {},
      FIXED,
    );
    expect(records.map((r) => [r.channel, r.ok])).toEqual([
      ["webhook", true],
      ["slack", true],
      ["discord", true],
      ["telegram", true],
    ]);
    expect(server.requests.map((r) => r.path).sort()).toEqual(["/bottok/sendMessage", "/d", "/s", "/w"]);
  });
});

describe("notify: failures become records", () => {
  it("retries a 500 once and succeeds on the 200", async () => {
    const server = await serve((_req, res, index) => {
      res.statusCode = index === 1 ? 500 : 200;
      res.end(index === 1 ? "upstream down" : "ok");
    });
    const records = await deliverNotifications(
      { slack: { webhook_url: `${server.url}/s` } },
      outcome(),
      {},
      FIXED,
    );
    expectRecord(records[0], { channel: "slack", ok: true, status: 200, attempts: 2 });
    expect(server.requests).toHaveLength(2);
    expect(server.requests[0]!.body).toBe(server.requests[1]!.body);
  });

  it("gives up after two 5xx answers, and does not retry a 4xx", async () => {
    const server = await serve((req, res) => {
      res.statusCode = req.path === "/bad" ? 400 : 503;
      res.end(req.path === "/bad" ? "invalid_payload" : "");
    });
    const [down] = await deliverNotifications(
      { slack: { webhook_url: `${server.url}/down` } },
      outcome(),
      {},
      FIXED,
    );
    const [bad] = await deliverNotifications(
      { discord: { webhook_url: `${server.url}/bad` } },
      outcome(),
      {},
      FIXED,
    );
    expect(down).toMatchObject({ ok: false, status: 503, attempts: 2 });
    expect(down!.error).toMatch(/^HTTP 503/);
    expect(bad).toMatchObject({ ok: false, status: 400, attempts: 1 });
    expect(bad!.error).toBe("HTTP 400 Bad Request: invalid_payload");
    expect(server.requests.map((r) => r.path)).toEqual(["/down", "/down", "/bad"]);
  });

  it("times out on a server that never answers, without retrying", async () => {
    const server = await serve(() => undefined);
    const records = await deliverNotifications(
      { webhook: { url: `${server.url}/silent` } },
      outcome(),
      {},
      { ...FIXED, timeoutMs: 300 },
    );
    expectRecord(records[0], {
      channel: "webhook",
      ok: false,
      error: "timed out after 300 ms",
      attempts: 1,
    });
    expect(server.requests).toHaveLength(1);
  });

  it("retries a refused connection once, then reports a network error", async () => {
    const server = await serve();
    const dead = server.url;
    const s = servers.pop()!;
    await new Promise((resolve) => s.close(resolve));
    const [record] = await deliverNotifications(
      { slack: { webhook_url: `${dead}/x` } },
      outcome(),
      {},
      FIXED,
    );
    expect(record).toMatchObject({ channel: "slack", ok: false, attempts: 2 });
    expect(record!.error).toMatch(/^network error: .*ECONNREFUSED/);
    expect(record!.status).toBeUndefined();
  });

  it("names a missing variable and sends nothing for that channel only", async () => {
    const server = await serve();
    const records = await deliverNotifications(
      {
        slack: { webhook_url_env: "NOT_SET_SLACK" },
        webhook: { url: `${server.url}/w`, headers_env: { "x-token": "NOT_SET_TOKEN" } },
        discord: { webhook_url: `${server.url}/d` },
      },
      outcome(),
      { NOT_SET_SLACK: "" },
      FIXED,
    );
    expect(records).toEqual([
      {
        channel: "webhook",
        ok: false,
        error: "environment variable NOT_SET_TOKEN (webhook.headers_env.x-token) is not set",
        attempts: 0,
        at: "2026-01-02T03:04:05.000Z",
      },
      {
        channel: "slack",
        ok: false,
        error: "environment variable NOT_SET_SLACK (slack.webhook_url_env) is not set",
        attempts: 0,
        at: "2026-01-02T03:04:05.000Z",
      },
      { channel: "discord", ok: true, status: 200, attempts: 1, at: "2026-01-02T03:04:05.000Z" },
    ]);
    expect(server.requests.map((r) => r.path)).toEqual(["/d"]);
  });
});

describe("notify: secrets", () => {
  const SLACK_SECRET = "slackSECRETpath8f3a";
  const TOKEN = "999:telegramSECRETtoken";
  const HEADER = "Bearer headerSECRET42";

  it("keeps webhook URLs, tokens and secret headers out of records, errors and the message sent", async () => {
    // Every endpoint fails and echoes what it got, so the secrets would reach the error text.
    const server = await serve((req, res) => {
      res.statusCode = 502;
      res.end(`got ${req.path} ${JSON.stringify(req.headers)} ${req.body}`);
    });
    const env = {
      SLACK_URL: `${server.url}/hooks/${SLACK_SECRET}`,
      TG: TOKEN,
      AUTH: HEADER,
      BAD_URL: "not a url headerSECRET-other",
    };
    const records = await deliverNotifications(
      {
        message: "{{summary}}",
        webhook: { url: `${server.url}/w`, headers_env: { authorization: "AUTH" } },
        slack: { webhook_url_env: "SLACK_URL" },
        discord: { webhook_url_env: "BAD_URL" },
        telegram: { bot_token_env: "TG", chat_id: "5", base_url: server.url },
      },
      outcome({ summary: `leaked ${TOKEN} and ${HEADER}`, result: { token: TOKEN } }),
      env,
      { ...FIXED, secrets: ["extra-secret-value"] },
    );
    expect(records.map((r) => [r.channel, r.ok, r.attempts])).toEqual([
      ["webhook", false, 2],
      ["slack", false, 2],
      ["discord", false, 0],
      ["telegram", false, 2],
    ]);
    expect(records[2]!.error).toBe("the value of BAD_URL is not a valid URL");
    for (const record of records.filter((r) => r.channel !== "discord")) {
      expect(record.error).toMatch(/^HTTP 502 .*\[redacted\]/);
    }
    // The Slack endpoint echoed only the URL's path: that is redacted as well.
    expect(records[1]!.error).toMatch(/^HTTP 502 Bad Gateway: got \[redacted\] /);
    const text = JSON.stringify(records);
    for (const secret of [SLACK_SECRET, TOKEN, encodeURIComponent(TOKEN), HEADER, "headerSECRET"]) {
      expect(text).not.toContain(secret);
    }
    // What the services received: the secrets only where they belong (URL path, header).
    const bodies = server.requests.map((r) => r.body).join("\n");
    expect(bodies).not.toContain(TOKEN);
    expect(bodies).not.toContain(HEADER);
    expect(bodies).toContain("leaked [redacted] and [redacted]");
    const webhookBody = JSON.parse(server.requests.find((r) => r.path === "/w")!.body);
    expect(webhookBody.result).toEqual({ token: "[redacted]" });
    expect(webhookBody.summary).toBe("leaked [redacted] and [redacted]");
  });
});

describe("notify: desktop", () => {
  it("R-27 notifications: shell metacharacters in a run's summary reach notify-send verbatim as one argument", async () => {
    const fake = fakeNotifier("notify-send");
    const canary = join(fake.dir, "canary");
    const summaries = [
      `$(touch ${canary})`,
      `\`touch ${canary}\``,
      `'; touch ${canary}; echo '`,
      `"; touch ${canary}; echo "`,
      `a && touch ${canary} | cat > ${canary} ; $HOME \${PATH} \\ \n second line\ttab`,
      `-e --help {{task}} %s %n`,
    ];
    for (const summary of summaries) {
      const records = await deliverNotifications(
        { message: "{{task}}: {{summary}}", desktop: true },
        outcome({ summary }),
        fake.env,
        { ...FIXED, platform: "linux" },
      );
      expectRecord(records[0], { channel: "desktop", ok: true, status: 0, attempts: 1 });
      expect(fake.argv()).toEqual([
        "--app-name=baton",
        "--urgency=critical",
        "--",
        "baton: backup failed",
        `backup: ${summary}`,
      ]);
    }
    expect(existsSync(canary)).toBe(false);
  });

  it("uses osascript on macOS with the text passed through argv, and a configured title", async () => {
    const fake = fakeNotifier("osascript");
    const records = await deliverNotifications(
      { on: ["success"], desktop: { title: `Title "with" quotes` } },
      outcome({ status: "succeeded", exitCode: 0, summary: `" & (do shell script "touch x") & "` }),
      fake.env,
      { ...FIXED, platform: "darwin" },
    );
    expect(records.map((r) => r.ok)).toEqual([true]);
    expect(fake.argv()).toEqual([
      "-e",
      "on run argv",
      "-e",
      "display notification (item 2 of argv) with title (item 1 of argv)",
      "-e",
      "end run",
      "--",
      `Title "with" quotes`,
      `backup succeeded (exit 0) in 2m 5s: " & (do shell script "touch x") & " [run 01JTESTRUN0000000000000000]`,
    ]);
  });

  it("reports a missing notifier as skipped, a failing one with its stderr, and an unsupported platform", async () => {
    const empty = tempDir("baton-notify-empty-");
    const [missing] = await deliverNotifications(
      { desktop: true },
      outcome(),
      { PATH: empty },
      {
        ...FIXED,
        platform: "linux",
      },
    );
    expect(missing).toMatchObject({
      channel: "desktop",
      ok: false,
      skipped: true,
      error: "notify-send is not installed (not found on PATH)",
    });

    const broken = fakeNotifier("notify-send", 3);
    const [failed] = await deliverNotifications({ desktop: true }, outcome(), broken.env, {
      ...FIXED,
      platform: "linux",
    });
    expect(failed).toMatchObject({
      ok: false,
      status: 3,
      error: "notify-send exited with code 3: notifier broke",
      attempts: 1,
    });

    const [windows] = await deliverNotifications(
      { desktop: true },
      outcome(),
      {},
      { ...FIXED, platform: "win32" },
    );
    expect(windows).toMatchObject({ ok: false, skipped: true, attempts: 0 });
    expect(await deliverNotifications({ desktop: false }, outcome(), {}, FIXED)).toEqual([]);
  });
});

describe("notify: docs/notifications.md", () => {
  it("its example config is valid and delivers to every channel", async () => {
    const doc = readFileSync(join(import.meta.dirname, "..", "docs", "notifications.md"), "utf8");
    const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)![1]!;
    const parsed = parseConfig(yaml, "notifications.md");
    expect(parsed.ok).toBe(true);
    const spec = parsed.ok ? parsed.value.tasks!.backup!.notify! : undefined;
    const server = await serve((req, res) => res.end(req.path.includes("/bot") ? '{"ok":true}' : "ok"));
    const fake = fakeNotifier("notify-send");
    const env = {
      ...fake.env,
      SLACK_WEBHOOK: `${server.url}/slack`,
      DISCORD_WEBHOOK: `${server.url}/discord`,
      TELEGRAM_BOT_TOKEN: "1:tok",
      BATON_TELEGRAM_API_URL: server.url,
      OPS_WEBHOOK_URL: `${server.url}/ops`,
      OPS_WEBHOOK_AUTH: "Bearer x",
    };
    const records = await deliverNotifications(spec!, outcome(), env, { ...FIXED, platform: "linux" });
    expect(records.map((r) => [r.channel, r.ok])).toEqual([
      ["webhook", true],
      ["slack", true],
      ["discord", true],
      ["telegram", true],
      ["desktop", true],
    ]);
    expect(fake.argv().at(-1)).toBe("backup failed in 2m 5s on testhost: disk full");
  });
});
