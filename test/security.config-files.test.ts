/**
 * baton.yaml is read only when it is the project's own. A baton.yaml symlinked to a file
 * outside the project (/etc/shadow, say) is not read, so validate_config cannot echo its lines; a
 * baton.yaml owned by another user (not the caller, not root) is refused, so neither
 * `config validate` nor `schedule list` run by root in a folder another user wrote registers its
 * schedules; and problems quote at most a short, printable piece of a key, never a file's text.
 */
import { chownSync, existsSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
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
