/**
 * Notifications when a task run ends: the `notify:` section of a task in baton.yaml.
 *
 * The runner calls {@link deliverNotifications} once per finished run. It picks the channels the
 * section configures (generic webhook, Slack, Discord, Telegram, desktop), sends them in parallel,
 * and returns one delivery record per channel. It never throws: a missing variable, a dead
 * endpoint or an absent `notify-send` is a record with `ok: false`.
 *
 * Secrets (webhook URLs, the Telegram token, `headers_env` values) are read from the environment
 * given at call time and are redacted from records and from the outgoing text itself.
 */
import { spawn as nodeSpawn } from "node:child_process";
import { hostname } from "node:os";
import { notifyDesktop } from "./notify/desktop.js";
import { postJson, type JsonPost, type PostContext } from "./notify/http.js";
import { Redactor, defaultMessage, renderTemplate, templateVars, truncate } from "./notify/message.js";
import type {
  DeliverOptions,
  NotificationChannel,
  NotificationDelivery,
  RunOutcome,
  RunStatus,
} from "./notify/types.js";
import type { NotifySpec } from "./schema.js";

export type { DeliverOptions, NotificationChannel, NotificationDelivery, RunOutcome, RunStatus, NotifySpec };
export { RUN_STATUSES } from "./notify/types.js";
export { formatDuration, renderTemplate } from "./notify/message.js";

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_RETRY_DELAY_MS = 1_000;
export const DEFAULT_TELEGRAM_API = "https://api.telegram.org";

/** Message size limits of the services (Discord 2000, Telegram 4096; Slack's is far larger). */
const LIMITS = { slack: 10_000, discord: 2_000, telegram: 4_096, desktop: 1_000 } as const;

type NotifyWhen = NonNullable<NotifySpec["on"]>[number];

/**
 * Whether a run with this status notifies under `on` (default `[failure]`). `failure` covers
 * failed and timed_out; a cancelled run notifies only under `complete` (someone chose to stop
 * it); a dry run never notifies, because a dry run has no side effects.
 *
 * @example shouldNotify(["failure"], "timed_out") // true
 */
export function shouldNotify(on: readonly NotifyWhen[] | undefined, status: RunStatus): boolean {
  const when = on ?? ["failure"];
  switch (status) {
    case "dry_run":
      return false;
    case "succeeded":
      return when.includes("success") || when.includes("complete");
    case "failed":
    case "timed_out":
      return when.includes("failure") || when.includes("complete");
    case "cancelled":
      return when.includes("complete");
    default: {
      const never: never = status;
      return never;
    }
  }
}

/** The text a run's notification carries: the `message:` template, or the default line. */
export function notificationMessage(spec: NotifySpec, outcome: RunOutcome, host = hostname()): string {
  return spec.message === undefined
    ? defaultMessage(outcome)
    : renderTemplate(spec.message, templateVars(outcome, host));
}

/** A value given directly (`url:`) or through an environment variable (`url_env:`). */
type Resolved = { ok: true; value: string; source: string } | { ok: false; error: string };

function resolve(
  config: Record<string, unknown>,
  key: string,
  where: string,
  env: NodeJS.ProcessEnv,
): Resolved {
  const direct = config[key];
  if (typeof direct === "string" && direct !== "")
    return { ok: true, value: direct, source: `${where}.${key}` };
  const name = config[`${key}_env`];
  if (typeof name !== "string") return { ok: false, error: `${where}: expected ${key} or ${key}_env` };
  const value = env[name];
  if (value === undefined || value === "") {
    return { ok: false, error: `environment variable ${name} (${where}.${key}_env) is not set` };
  }
  return { ok: true, value, source: `the value of ${name}` };
}

/**
 * A channel ready to send (its request built once the message is known), or why it cannot. All
 * secrets are resolved, and known to the redactor, before any message text is rendered.
 */
type Plan =
  | { channel: NotificationChannel; post: (message: string) => JsonPost }
  | { channel: "desktop"; title: string }
  | { channel: NotificationChannel; failed: string };

function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function plan(
  spec: NotifySpec,
  outcome: RunOutcome,
  host: string,
  env: NodeJS.ProcessEnv,
  options: DeliverOptions,
  redactor: Redactor,
): Plan[] {
  const plans: Plan[] = [];
  const url = (channel: NotificationChannel, config: Record<string, unknown>, key: string) => {
    const found = resolve(config, key, channel, env);
    if (found.ok) redactor.add(found.value);
    return found;
  };

  if (spec.webhook !== undefined) {
    const target = url("webhook", spec.webhook, "url");
    const headers: Record<string, string> = { ...spec.webhook.headers };
    let missing: string | undefined;
    for (const [header, name] of Object.entries(spec.webhook.headers_env ?? {})) {
      const value = env[name];
      if (value === undefined || value === "") {
        missing ??= `environment variable ${name} (webhook.headers_env.${header}) is not set`;
      } else {
        redactor.add(value);
        headers[header] = value;
      }
    }
    if (!target.ok || missing !== undefined) {
      plans.push({ channel: "webhook", failed: target.ok ? missing! : target.error });
    } else {
      const body = (message: string) => ({
        event: "run.finished",
        runId: outcome.runId,
        task: outcome.task,
        status: outcome.status,
        exitCode: outcome.exitCode,
        summary: outcome.summary ?? null,
        durationMs: outcome.durationMs,
        logPath: outcome.logPath ?? null,
        result: outcome.result ?? null,
        project: outcome.project ?? null,
        host,
        message,
      });
      plans.push({
        channel: "webhook",
        post: (message) => ({
          channel: "webhook",
          url: target.value,
          urlSource: target.source,
          // Built after every secret is known, so the run's own fields are redacted too.
          body: redactor.redactDeep(body(message)),
          headers,
        }),
      });
    }
  }

  /** Slack and Discord: an incoming-webhook URL and a JSON body made from the message. */
  const chat = (
    channel: "slack" | "discord",
    config: Record<string, unknown>,
    body: (message: string) => unknown,
  ): Plan => {
    const target = url(channel, config, "webhook_url");
    if (!target.ok) return { channel, failed: target.error };
    return {
      channel,
      post: (message) => ({ channel, url: target.value, urlSource: target.source, body: body(message) }),
    };
  };
  if (spec.slack !== undefined) {
    plans.push(chat("slack", spec.slack, (m) => ({ text: slackEscape(truncate(m, LIMITS.slack)) })));
  }
  if (spec.discord !== undefined) {
    // No @everyone / role / user pings from text a task printed.
    plans.push(
      chat("discord", spec.discord, (m) => ({
        content: truncate(m, LIMITS.discord),
        allowed_mentions: { parse: [] },
      })),
    );
  }

  if (spec.telegram !== undefined) {
    const token = url("telegram", spec.telegram, "bot_token");
    const chat = resolve(spec.telegram, "chat_id", "telegram", env);
    if (!token.ok || !chat.ok) {
      plans.push({
        channel: "telegram",
        failed: !token.ok ? token.error : (chat as { error: string }).error,
      });
    } else {
      const base = (
        options.telegramApiUrl ??
        spec.telegram.base_url ??
        (env.BATON_TELEGRAM_API_URL || undefined) ??
        DEFAULT_TELEGRAM_API
      ).replace(/\/+$/, "");
      plans.push({
        channel: "telegram",
        post: (message) => ({
          channel: "telegram",
          url: `${base}/bot${token.value}/sendMessage`,
          urlSource: "the Telegram API URL",
          body: {
            chat_id: chat.value,
            text: truncate(message, LIMITS.telegram),
            disable_web_page_preview: true,
          },
          checkBody: telegramProblem,
        }),
      });
    }
  }

  if (spec.desktop !== undefined && spec.desktop !== false) {
    const title = spec.desktop === true ? undefined : spec.desktop.title;
    plans.push({ channel: "desktop", title: title ?? `baton: ${outcome.task} ${outcome.status}` });
  }
  return plans;
}

/** Telegram answers `{ok: false, description}` for some refusals; a 200 must say `ok: true`. */
function telegramProblem(text: string): string | undefined {
  try {
    const answer = JSON.parse(text) as { ok?: unknown; description?: unknown };
    if (answer.ok === true) return undefined;
    return `Telegram refused the message${typeof answer.description === "string" ? `: ${answer.description}` : ""}`;
  } catch {
    return "Telegram answered with something that is not JSON";
  }
}

/**
 * Send a finished run's notifications to every channel its `notify:` section configures, in
 * parallel; resolves to one record per channel (webhook, slack, discord, telegram, desktop order),
 * or `[]` when `on:` does not match the run's status. Never rejects.
 *
 * @example
 * const records = await deliverNotifications(
 *   { on: ["failure"], slack: { webhook_url_env: "SLACK_WEBHOOK" } },
 *   { runId, task: "backup", status: "failed", exitCode: 1, summary: "disk full", durationMs: 5400 },
 *   process.env,
 * );
 * // [{ channel: "slack", ok: true, status: 200, attempts: 1, at: "2026-…" }]
 */
export async function deliverNotifications(
  spec: NotifySpec,
  event: RunOutcome,
  env: NodeJS.ProcessEnv,
  options: DeliverOptions = {},
): Promise<NotificationDelivery[]> {
  if (!shouldNotify(spec.on, event.status)) return [];
  const now = options.now ?? Date.now;
  const host = options.hostname ?? hostname();
  const redactor = new Redactor();
  for (const secret of options.secrets ?? []) redactor.add(secret);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const plans = plan(spec, event, host, env, options, redactor);
  // Every secret is known now: keep them out of the text and the webhook's JSON as well.
  const outcome = redactor.redactDeep(event) as RunOutcome;
  const message = redactor.redact(notificationMessage(spec, outcome, host));
  const ctx: PostContext = {
    fetch: options.fetch ?? fetch,
    timeoutMs,
    retryDelayMs: options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS,
    redactor,
    now,
  };
  return Promise.all(
    plans.map(async (p): Promise<NotificationDelivery> => {
      try {
        if ("failed" in p) {
          return {
            channel: p.channel,
            ok: false,
            error: redactor.redact(p.failed),
            attempts: 0,
            at: new Date(now()).toISOString(),
          };
        }
        if ("post" in p) return await postJson(ctx, p.post(message));
        return await notifyDesktop(
          {
            spawn: options.spawn ?? nodeSpawn,
            platform: options.platform ?? process.platform,
            env,
            timeoutMs,
            redactor,
            now,
          },
          redactor.redact(p.title),
          truncate(message, LIMITS.desktop),
          event.status !== "succeeded",
        );
      } catch (error) {
        return {
          channel: p.channel,
          ok: false,
          error: redactor.redact(`unexpected error: ${String(error)}`),
          attempts: 0,
          at: new Date(now()).toISOString(),
        };
      }
    }),
  );
}
