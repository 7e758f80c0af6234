/**
 * Which parts of baton.yaml may hold a secret written in plain form (`url:`, `webhook_url:`,
 * `bot_token:`, `chat_id:`, notify headers, a task's plain `env:` values), and the views of a task's
 * config that outputs print instead of the values: `describe_task`, `capabilities` and config
 * problems never show them, whatever their form.
 */
import type { NotifySpec } from "./schema.js";

/** Keys under `notify:` whose plain value may be a secret. */
const NOTIFY_SECRET_KEYS = new Set(["url", "webhook_url", "bot_token", "chat_id"]);

/**
 * True when the config value at `path` (as zod reports it: `tasks.<name>.notify.slack.webhook_url`)
 * may be a secret, so a message about it must not quote it.
 *
 * @example isSecretPath(["tasks", "b", "notify", "telegram", "bot_token"]) // true
 */
export function isSecretPath(path: readonly PropertyKey[]): boolean {
  const keys = path.map(String);
  const notify = keys.indexOf("notify");
  if (notify >= 0) {
    const rest = keys.slice(notify + 1);
    return rest.includes("headers") || rest.some((k) => NOTIFY_SECRET_KEYS.has(k));
  }
  const env = keys.lastIndexOf("env");
  return env >= 0 && env === keys.length - 2 && !keys[env + 1]!.endsWith("_env");
}

export const NOTIFY_CHANNELS = ["webhook", "slack", "discord", "telegram", "desktop"] as const;

/** What a task's `notify:` does, without a single configured value: when, which channels, which variables. */
export interface NotifyView {
  on: string[];
  channels: string[];
  /** Variables the channels read (`*_env`, `headers_env`), when set at run time. */
  env: string[];
}

export function notifyView(spec: NotifySpec): NotifyView {
  const channels = NOTIFY_CHANNELS.filter((c) => spec[c] !== undefined && spec[c] !== false);
  const env = new Set<string>();
  for (const channel of ["webhook", "slack", "discord", "telegram"] as const) {
    const config = spec[channel] as Record<string, unknown> | undefined;
    for (const [key, value] of Object.entries(config ?? {})) {
      if (key.endsWith("_env") && typeof value === "string") env.add(value);
    }
  }
  for (const name of Object.values(spec.webhook?.headers_env ?? {})) env.add(name);
  return { on: [...(spec.on ?? ["failure"])], channels: [...channels], env: [...env].sort() };
}
