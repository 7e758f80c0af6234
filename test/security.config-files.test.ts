/**
 * baton.yaml is read only when it is the project's own. A baton.yaml symlinked to a file
 * outside the project (/etc/shadow, say) is not read, so validate_config cannot echo its lines; a
 * baton.yaml owned by another user (not the caller, not root) is refused, so neither
 * `config validate` nor `schedule list` run by root in a folder another user wrote registers its
 * schedules; and problems quote at most a short, printable piece of a key, never a file's text.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { BatonError } from "../src/core/errors.js";
import { openBaton } from "../src/index.js";
import { project } from "./helpers/tasks.js";
import { cli, newHome, withDb } from "./helpers/supervisor.js";

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!().catch(() => undefined);
});

async function validate(dir: string) {
  const home = newHome();
  const baton = await openBaton({ home: home.dir, durability: "normal" });
  closers.push(() => baton.close());
  return (await baton.call("validate_config", { cwd: dir }, { cwd: dir })) as {
    ok: boolean;
    problems: { key: string; message: string }[];
    messages: string[];
  };
}

describe("R-36 validate_config reads only the project's own baton.yaml and echoes no content", () => {
  it("stranger finding 10: validate_config (and the other config operations) read the named project, not the caller's cwd", async () => {
    const named = project("tasks:\n  build:\n    command: make\n    unknown_key: 1\n");
    const elsewhere = project("tasks:\n  ok:\n    command: echo ok\n");
    const home = newHome();
    const baton = await openBaton({ home: home.dir, durability: "normal" });
    closers.push(() => baton.close());
    const r = (await baton.call("validate_config", { project: named }, { cwd: elsewhere })) as {
      ok: boolean;
      messages: string[];
    };
    expect(r.ok).toBe(false);
    expect(r.messages.join("\n")).toContain("unknown_key");
    const good = (await baton.call("validate_config", { project: elsewhere }, { cwd: named })) as {
      ok: boolean;
      tasks: string[];
    };
    expect(good).toMatchObject({ ok: true, tasks: ["ok"] });
    // list_schedules read the caller's cwd too (its broken file was CONFIG_INVALID).
    await expect(baton.call("list_schedules", { project: elsewhere }, { cwd: named })).resolves.toBeDefined();
  });

  it("R-36 a baton.yaml symlinked out of the project is not read", async () => {
    const outside = realpathSync(mkdtempSync(join(tmpdir(), "bts-secret-")));
    const secret = join(outside, "shadow");
    writeFileSync(secret, "root:*:19000:0:99999:7:::\nsecretuser:$6$hashhashhash:19000:0:99999:7:::\n");
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "bts-proj-")));
    symlinkSync(secret, join(dir, "baton.yaml"));
    const r = await validate(dir);
    expect(r.ok).toBe(false);
    const text = JSON.stringify(r);
    expect(text).not.toContain("19000");
    expect(text).not.toContain("secretuser");
    expect(text).toContain("symlink");
  });

  it("R-36 a file that is not a YAML map is named without its content; keys are short and printable", async () => {
    const plain = await validate(project("hunter2-very-secret-line\nsecond-secret-line\n"));
    expect(plain.ok).toBe(false);
    expect(JSON.stringify(plain)).not.toContain("hunter2");
    expect(plain.messages[0]).toContain("not a YAML map");

    const long = `k${"s".repeat(200)}\u0007`;
    const keyed = await validate(project(`tasks: {}\n${JSON.stringify(long)}: 1\n`));
    expect(keyed.ok).toBe(false);
    for (const p of keyed.problems) {
      expect(p.key.length).toBeLessThanOrEqual(41);
      expect(p.message).not.toContain("s".repeat(60));
      expect(p.message).not.toContain("\u0007");
    }
  });

  it.skipIf(!isRoot)(
    "R-36 a baton.yaml owned by another user is refused: validate and schedule list register nothing (needs root to chown; skipped otherwise)",
    async () => {
      const home = newHome();
      const canary = join(home.dir, "canary");
      const dir = project(
        `tasks:\n  hi:\n    command: [touch, ${JSON.stringify(canary)}]\n    schedule: "* * * * *"\n`,
      );
      chownSync(join(dir, "baton.yaml"), NOBODY, NOBODY);
      const validated = cli(home, ["config", "validate", "--json"], { cwd: dir });
      expect(validated.code).not.toBe(0);
      expect(validated.stdout + validated.stderr).toContain("owned by");
      expect(cli(home, ["schedule", "list", "--json"], { cwd: dir }).code).not.toBe(0);
      expect(withDb(home, (db) => db.prepare("SELECT * FROM schedules").all())).toEqual([]);
      expect(existsSync(canary)).toBe(false);
    },
  );
});

describe("D108 config and plugin files others may write are refused, whoever owns them", () => {
  const hasRunuser = isRoot && spawnSync("runuser", ["--help"]).status === 0;

  /** A project others can reach (0755) with `.baton/tasks/w.mjs` whose import writes `canary`. */
  function pluginProject(): { dir: string; module: string } {
    const dir = project("tasks: {}\n");
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, ".baton", "tasks"), { recursive: true, mode: 0o755 });
    const module = join(dir, ".baton", "tasks", "w.mjs");
    writeFileSync(module, "export default { description: 'harmless', run() { return { ok: true }; } };\n");
    chmodSync(module, 0o644);
    return { dir, module };
  }

  async function describeTask(dir: string) {
    const home = newHome();
    const baton = await openBaton({ home: home.dir, durability: "normal" });
    closers.push(() => baton.close());
    return baton.call("describe_task", { task: "w" }, { cwd: dir });
  }

  it("red team finding 2: a world-writable plugin module is not imported (describe_task, the read-only token's tool, ran it)", async () => {
    const canary = join(realpathSync(mkdtempSync(join(tmpdir(), "bts-canary-"))), "pwned");
    const { dir, module } = pluginProject();
    chmodSync(module, 0o666);
    if (hasRunuser) {
      chmodSync(dirname(canary), 0o777);
      // nobody rewrites root's module: its top level would run in root's daemon.
      const evil = `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(canary)}, 'x');\nexport default { run() { return { ok: true }; } };\n`;
      const wrote = spawnSync("runuser", ["-u", "nobody", "--", "sh", "-c", `cat > '${module}'`], {
        input: evil,
      });
      expect(wrote.status).toBe(0);
    }
    const refused = await describeTask(dir).then(
      () => undefined,
      (e: unknown) => e as BatonError,
    );
    expect(refused?.code).toBe("CONFIG_INVALID");
    expect(refused?.message).toContain(module);
    expect(refused?.message).toContain(`chmod go-w ${module}`);
    expect(existsSync(canary)).toBe(false);
    // Fixed as the message says, the plugin loads again.
    chmodSync(module, 0o644);
    writeFileSync(module, "export default { description: 'harmless', run() { return { ok: true }; } };\n");
    await expect(describeTask(dir)).resolves.toBeDefined();
  });

  it("red team finding 2: a plugin in a folder others may write, and a baton.yaml others may write, are refused", async () => {
    const { dir, module } = pluginProject();
    const tasks = dirname(module);
    chmodSync(tasks, 0o777);
    const refused = await describeTask(dir).then(
      () => undefined,
      (e: unknown) => e as BatonError,
    );
    expect(refused?.code).toBe("CONFIG_INVALID");
    expect(refused?.message).toContain(`chmod go-w ${tasks}`);
    chmodSync(tasks, 0o755);

    const yaml = project("tasks:\n  ok:\n    command: echo ok\n");
    chmodSync(join(yaml, "baton.yaml"), 0o666);
    const r = await validate(yaml);
    expect(r.ok).toBe(false);
    expect(r.messages.join("\n")).toContain(`chmod go-w ${join(yaml, "baton.yaml")}`);
    chmodSync(join(yaml, "baton.yaml"), 0o644);
    expect((await validate(yaml)).ok).toBe(true);
  });
});
