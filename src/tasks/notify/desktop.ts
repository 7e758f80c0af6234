/**
 * Desktop notifications through the platform's notifier, started with an argv (no shell): the
 * message is one argument, so quotes, `$(…)` and backticks in a run's summary reach the notifier
 * as text. On macOS the AppleScript reads title and message from `argv` instead of having them
 * spliced into its source.
 */
import { spawn as nodeSpawn } from "node:child_process";
import type { Redactor } from "./message.js";
import type { NotificationDelivery } from "./types.js";
import { after } from "../../core/timer.js";

export interface DesktopContext {
  spawn: typeof nodeSpawn;
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  redactor: Redactor;
  now: () => number;
}

const OSASCRIPT_LINES = [
  "on run argv",
  "display notification (item 2 of argv) with title (item 1 of argv)",
  "end run",
];

/** The notifier's program and argv for a platform; undefined where there is none. */
export function desktopCommand(
  platform: NodeJS.Platform,
  title: string,
  message: string,
  urgent: boolean,
): { program: string; args: string[] } | undefined {
  if (platform === "win32") return undefined;
  if (platform === "darwin") {
    return {
      program: "osascript",
      args: [...OSASCRIPT_LINES.flatMap((l) => ["-e", l]), "--", title, message],
    };
  }
  const urgency = urgent ? "critical" : "normal";
  return { program: "notify-send", args: ["--app-name=baton", `--urgency=${urgency}`, "--", title, message] };
}

const MAX_STDERR = 2000;

/** Show one desktop notification; never throws. */
export function notifyDesktop(
  ctx: DesktopContext,
  title: string,
  message: string,
  urgent: boolean,
): Promise<NotificationDelivery> {
  const record = (fields: Omit<NotificationDelivery, "channel" | "at">): NotificationDelivery => ({
    channel: "desktop",
    ...fields,
    ...(fields.error === undefined ? {} : { error: ctx.redactor.redact(fields.error) }),
    at: new Date(ctx.now()).toISOString(),
  });
  const command = desktopCommand(ctx.platform, title, message, urgent);
  if (command === undefined) {
    return Promise.resolve(
      record({
        ok: false,
        skipped: true,
        error: `desktop notifications are not supported on ${ctx.platform}`,
        attempts: 0,
      }),
    );
  }
  return new Promise((resolve) => {
    let stderr = "";
    let settled = false;
    const finish = (result: NotificationDelivery) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      resolve(result);
    };
    let child: ReturnType<typeof nodeSpawn>;
    try {
      child = ctx.spawn(command.program, command.args, {
        env: ctx.env,
        shell: false,
        stdio: ["ignore", "ignore", "pipe"],
      });
    } catch (error) {
      resolve(
        record({ ok: false, error: `could not start ${command.program}: ${String(error)}`, attempts: 1 }),
      );
      return;
    }
    const timer = after(ctx.timeoutMs, () => {
      child.kill("SIGKILL");
      finish(
        record({ ok: false, error: `${command.program} timed out after ${ctx.timeoutMs} ms`, attempts: 1 }),
      );
    });
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      if (stderr.length < MAX_STDERR) stderr += chunk;
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      finish(
        error.code === "ENOENT"
          ? record({
              ok: false,
              skipped: true,
              error: `${command.program} is not installed (not found on PATH)`,
              attempts: 1,
            })
          : record({ ok: false, error: `could not start ${command.program}: ${error.message}`, attempts: 1 }),
      );
    });
    child.on("close", (code, signal) => {
      if (code === 0) {
        finish(record({ ok: true, status: 0, attempts: 1 }));
        return;
      }
      const why = code === null ? `was killed by ${signal}` : `exited with code ${code}`;
      const detail = stderr.trim().slice(0, MAX_STDERR);
      finish(
        record({
          ok: false,
          ...(code === null ? {} : { status: code }),
          error: `${command.program} ${why}${detail ? `: ${detail}` : ""}`,
          attempts: 1,
        }),
      );
    });
  });
}
