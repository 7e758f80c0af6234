/**
 * D136: a `.git` another local user made above a project does not make the shared folder the
 * project (git's own safe.directory rule); the caller's own `.git` (or root's) still does. Runs as
 * root with `nobody` as the second user; elsewhere skipped, saying why.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findProject } from "../src/core/project.js";
import { cliJson, newHome } from "./helpers/supervisor.js";
import { tempDir } from "./helpers/tmp.js";

const isRoot = process.getuid?.() === 0;
const hasRunuser = isRoot && spawnSync("runuser", ["--help"]).status === 0;
if (!hasRunuser) console.warn("security.project-root: skipped: needs root and runuser (a second local user)");

function asNobody(script: string): void {
  const r = spawnSync("runuser", ["-u", "nobody", "--", "sh", "-c", script], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
}

describe.skipIf(!hasRunuser)("D136 the project root is found only through your own (or root's) .git", () => {
  it("nobody's empty .git and baton.yaml in a shared folder above do not capture root's project", () => {
    const top = tempDir("baton-shared-");
    chmodSync(top, 0o755);
    const shared = join(top, "x");
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const proj = join(shared, "proj");
    mkdirSync(proj);
    writeFileSync(join(proj, "baton.yaml"), "tasks:\n  hello:\n    command: [echo, hi]\n");
    asNobody(`mkdir ${shared}/.git && printf 'tasks: {}\\n' > ${shared}/baton.yaml`);
    expect(findProject(proj)).toBe(proj);
    const home = newHome();
    const tasks = cliJson(home, ["task", "list"], { cwd: proj });
    expect(JSON.stringify(tasks)).toContain("hello");
    const queued = cliJson(home, ["enqueue", "{}"], { cwd: proj });
    expect(queued.project).toBe(proj);
    // Root's own .git above still makes the project, as before.
    mkdirSync(join(shared, "mine"));
    mkdirSync(join(shared, "mine", ".git"));
    mkdirSync(join(shared, "mine", "sub"));
    expect(findProject(join(shared, "mine", "sub"))).toBe(join(shared, "mine"));
  });
});
