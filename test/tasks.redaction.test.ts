/**
 * Plain-form secrets in baton.yaml (`url:`, `webhook_url:`, `bot_token:`, `chat_id:`, notify
 * headers, plain `env:` values) never appear in any output that prints config: `task list`,
 * `task describe`, `capabilities`, `schedule list`, `config validate` (also when the config is
 * invalid and the message is about that very value), a dry run's preview, over the real binary.
 */
import { describe, expect, it } from "vitest";
import { isSecretPath, notifyView } from "../src/tasks/redact.js";
import { project } from "./helpers/tasks.js";
import { cli, newHome } from "./helpers/supervisor.js";

const CANARY = "plainsecretcanary7781";

describe("plain-form secrets in baton.yaml are never printed", () => {
  it("task list/describe, capabilities, schedule list, config validate and a dry run never show them", () => {
    const home = newHome();
    const dir = project(
      [
        "tasks:",
        "  ship:",
        "    description: Ship it",
        "    command: [echo, shipped]",
        "    schedule: '0 3 * * *'",
        `    env: { API_KEY: ${CANARY}-env, TOKEN_env: SHIP_TOKEN }`,
        "    notify:",
        "      on: [failure, success]",
        "      webhook:",
        `        url: https://hooks.example.com/${CANARY}-url?key=${CANARY}`,
        `        headers: { Authorization: Bearer ${CANARY}-header }`,
        "        headers_env: { X-Extra: EXTRA_HEADER }",
        `      slack: { webhook_url: 'https://hooks.slack.com/services/${CANARY}-slack' }`,
        "      discord: { webhook_url_env: DISCORD_URL }",
        `      telegram: { bot_token: '123:${CANARY}-bot', chat_id: '${CANARY}-chat' }`,
        "      desktop: true",
      ].join("\n"),
    );
    const outputs = [
      ["task", "list", "--json"],
      ["task", "list"],
      ["task", "describe", "ship", "--json"],
      ["task", "describe", "ship"],
      ["capabilities", "--json"],
      ["capabilities"],
      ["schedule", "list", "--json"],
      ["config", "validate", "--json"],
      ["task", "run", "ship", "--dry-run", "--json"],
    ].map((args) => {
      const r = cli(home, args, { cwd: dir, env: { SHIP_TOKEN: "t" } });
      expect(r.code, `${args.join(" ")}: ${r.stdout}${r.stderr}`).toBeLessThanOrEqual(2);
      return { args, text: r.stdout + r.stderr };
    });
    for (const { args, text } of outputs) expect(text, args.join(" ")).not.toContain(CANARY);
    // What the task notifies through is still described: channels and variable names only.
    const described = JSON.parse(outputs[2]!.text).data;
    expect(described.notify).toEqual({
      on: ["failure", "success"],
      channels: ["webhook", "slack", "discord", "telegram", "desktop"],
      env: ["DISCORD_URL", "EXTRA_HEADER"],
    });
  });

  it("a config problem about a secret-bearing value does not quote it", () => {
    const home = newHome();
    const dir = project(
      [
        "tasks:",
        "  ship:",
        "    command: [echo]",
        "    env: { API_KEY: 5550123499 }",
        "    notify:",
        "      telegram: { bot_token: 9876543210, chat_id_env: CHAT }",
      ].join("\n"),
    );
    for (const args of [
      ["config", "validate", "--json"],
      ["config", "validate"],
      ["task", "describe", "ship", "--json"],
      ["capabilities", "--json"],
    ]) {
      const r = cli(home, args, { cwd: dir });
      const text = r.stdout + r.stderr;
      expect(text, args.join(" ")).toMatch(/bot_token|API_KEY/);
      expect(text, args.join(" ")).not.toContain("9876543210");
      expect(text, args.join(" ")).not.toContain("5550123499");
    }
  });

  it("isSecretPath and notifyView", () => {
    expect(isSecretPath(["tasks", "a", "notify", "telegram", "bot_token"])).toBe(true);
    expect(isSecretPath(["tasks", "a", "notify", "webhook", "headers", "Authorization"])).toBe(true);
    expect(isSecretPath(["tasks", "a", "env", "API_KEY"])).toBe(true);
    expect(isSecretPath(["tasks", "a", "env", "TOKEN_env"])).toBe(false);
    expect(isSecretPath(["tasks", "a", "timeout"])).toBe(false);
    expect(notifyView({ desktop: false, slack: { webhook_url: "x" } })).toEqual({
      on: ["failure"],
      channels: ["slack"],
      env: [],
    });
  });
});
