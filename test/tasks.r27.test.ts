/**
 * R-27 at the scale RELIABILITY.md asks for: 1,000 hostile payloads (shell metacharacters, `$(…)`,
 * backticks, quotes, `;`, `&&`, `|`, newlines, NUL-free binary-ish bytes, leading dashes, very long
 * strings) as a run's summary and result, through the hook runner (real `/bin/sh` hooks reading
 * them from BATON_* variables) and the notifier (a generic webhook to a real local HTTP server, and
 * a fake `notify-send` first on PATH, a real child process). Nothing executes — every payload's
 * commands would create its own canary file — and every value arrives verbatim. A smaller slice
 * runs end to end through the CLI and a real daemon.
 */
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_SUMMARY_ENV, runHook, type HookData } from "../src/tasks/hooks.js";
import { deliverNotifications, type NotifySpec } from "../src/tasks/notify.js";
import { truncate } from "../src/tasks/notify/message.js";
import { fakeNotifySend, hostilePayloads } from "./helpers/payloads.js";
import { project } from "./helpers/tasks.js";
import { cli, newHome, until } from "./helpers/supervisor.js";
import { tempDir } from "./helpers/tmp.js";

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A local webhook receiver keeping each JSON body by its runId. */
async function receiver(): Promise<{ url: string; bodies: Map<string, any> }> {
  const bodies = new Map<string, any>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      bodies.set(body.runId, body);
      res.end("ok");
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies };
}

/** Run `fn` over `items`, `width` at a time. */
async function pool<T>(items: readonly T[], width: number, fn: (item: T, index: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

/** Five copies: the long ones are over 64 KiB of JSON, so they reach hooks as BATON_RESULT_FILE only. */
const resultOf = (payload: string, n: number) => ({
  summary: payload,
  items: [payload, { nested: payload }, [payload, payload]],
  n,
});

const runIdOf = (i: number) => `r_payload${String(i).padStart(4, "0")}`;

describe("R-27 at scale", () => {
  it("R-27 1,000 hostile payloads reach hooks (env only) and notifications (webhook, notify-send) verbatim; no canary appears", async () => {
    const root = tempDir("r27-");
    const canaries = join(root, "canaries");
    mkdirSync(join(root, "runs"));
    const work = join(root, "work");
    const out = join(root, "out");
    for (const d of [canaries, work, out]) mkdirSync(d);
    // Up to 16 Ki characters: the longest BATON_SUMMARY a hook gets (a real run's is 500).
    const payloads = hostilePayloads(1000, canaries, MAX_SUMMARY_ENV);
    expect(payloads).toHaveLength(1000);
    expect(payloads.some((p) => p.length >= 10_000)).toBe(true);
    expect(payloads.every((p) => !p.includes("\0"))).toBe(true);

    const notifier = fakeNotifySend(root);
    const hook = await receiver();
    const env = {
      ...process.env,
      PATH: `${notifier.bin}:${process.env.PATH ?? ""}`,
      NOTIFY_OUT: notifier.out,
      OUT: out,
    };
    const spec: NotifySpec = {
      on: ["complete"],
      message: "{{run_id}} {{summary}}",
      webhook: { url: hook.url },
      desktop: true,
    };
    // Both hook forms: a shell string and an argv list; the command text never changes.
    // A result over 64 KiB is only in BATON_RESULT_FILE: record which way each one came.
    const shellHook = [
      'printf "%s" "$BATON_SUMMARY" > "$OUT/$BATON_RUN_ID.s"',
      'if [ -n "$BATON_RESULT_JSON" ]; then printf "%s" "$BATON_RESULT_JSON" > "$OUT/$BATON_RUN_ID.r"',
      'else cat "$BATON_RESULT_FILE" > "$OUT/$BATON_RUN_ID.r"; : > "$OUT/$BATON_RUN_ID.file"; fi',
    ].join("; ");
    const argvHook = [["/bin/sh", "-c", shellHook, "hook"]];

    await pool(payloads, 12, async (payload, i) => {
      const runId = runIdOf(i);
      const runDir = join(root, "runs", runId);
      mkdirSync(runDir, { recursive: true });
      const result = resultOf(payload, i);
      const data: HookData = {
        runId,
        task: "evil",
        status: "failed",
        exitCode: 1,
        summary: payload,
        result,
        logPath: join(work, "output.log"),
      };
      const outcomes = await runHook("on_failure", i % 2 === 0 ? shellHook : argvHook, {
        cwd: work,
        env,
        data,
        logFile: join(runDir, "hooks.log"),
      });
      expect(outcomes).toEqual([{ when: "on_failure", index: 0, exitCode: 0 }]);
      const deliveries = await deliverNotifications(
        spec,
        { runId, task: "evil", status: "failed", exitCode: 1, summary: payload, durationMs: 1, result },
        env,
        { retryDelayMs: 10, hostname: "h" },
      );
      expect(deliveries.map((d) => [d.channel, d.ok])).toEqual([
        ["webhook", true],
        ["desktop", true],
      ]);
    });

    // Both ways were taken: the long results through the file.
    const viaFile = readdirSync(out).filter((f) => f.endsWith(".file")).length;
    expect(viaFile).toBeGreaterThan(10);
    expect(viaFile).toBeLessThan(1000);
    // Nothing ran: no canary, nothing new where the hooks ran.
    expect(readdirSync(canaries)).toEqual([]);
    expect(readdirSync(work)).toEqual([]);
    // Everything arrived verbatim.
    for (let i = 0; i < payloads.length; i++) {
      const payload = payloads[i]!;
      const runId = runIdOf(i);
      const result = resultOf(payload, i);
      expect(readFileSync(join(out, `${runId}.s`), "utf8")).toBe(payload);
      expect(JSON.parse(readFileSync(join(out, `${runId}.r`), "utf8"))).toEqual(result);
      const body = hook.bodies.get(runId);
      expect(body.summary).toBe(payload);
      expect(body.result).toEqual(result);
      expect(body.message).toBe(`${runId} ${payload}`);
      expect(readFileSync(join(notifier.out, runId), "utf8")).toBe(truncate(`${runId} ${payload}`, 1000));
    }
  }, 180_000);

  it("R-27 end to end: hostile task output through the daemon's hooks, webhook and notify-send; no canary appears", async () => {
    const home = newHome();
    const root = tempDir("r27e2e-");
    const canaries = join(root, "canaries");
    mkdirSync(canaries);
    // The run's summary reaches hooks cut to 500 characters: keep the slice under that.
    const payloads = hostilePayloads(16, canaries, 400, 2727);
    const notifier = fakeNotifySend(root);
    const hook = await receiver();
    const code =
      "process.stdout.write(JSON.stringify({ summary: process.env.BATON_INPUT_P, p: process.env.BATON_INPUT_P }))";
    const dir = project(
      [
        "tasks:",
        "  evil:",
        `    command: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(code)}]`,
        "    output: json",
        "    inputs: { p: the payload }",
        `    on_complete: 'mkdir -p out; printf "%s" "$BATON_SUMMARY" > "out/$BATON_RUN_ID.s"; printf "%s" "$BATON_RESULT_JSON" > "out/$BATON_RUN_ID.r"'`,
        "    notify:",
        "      on: [complete]",
        '      message: "{{run_id}} {{summary}}"',
        "      webhook: { url_env: HOOK_URL }",
        "      desktop: true",
      ].join("\n"),
    );
    const env = {
      PATH: `${notifier.bin}:${process.env.PATH ?? ""}`,
      NOTIFY_OUT: notifier.out,
      HOOK_URL: hook.url,
    };
    const ids: string[] = [];
    for (const payload of payloads) {
      const r = cli(home, ["task", "run", "evil", "--async", "--json", "--input", `p=${payload}`], {
        cwd: dir,
        env,
      });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      ids.push(JSON.parse(r.stdout).data.id as string);
    }
    await until(
      "every run's webhook and desktop notification",
      () => ids.every((id) => hook.bodies.has(id) && readdirSync(notifier.out).includes(id)),
      120_000,
    );
    expect(readdirSync(canaries)).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(["baton.yaml", "out"]);
    payloads.forEach((payload, i) => {
      const id = ids[i]!;
      expect(readFileSync(join(dir, "out", `${id}.s`), "utf8")).toBe(payload);
      expect(JSON.parse(readFileSync(join(dir, "out", `${id}.r`), "utf8"))).toMatchObject({
        summary: payload,
        p: payload,
      });
      expect(hook.bodies.get(id)).toMatchObject({ summary: payload, result: { p: payload } });
      expect(readFileSync(join(notifier.out, id), "utf8")).toBe(`${id} ${payload}`);
    });
  }, 240_000);
});
