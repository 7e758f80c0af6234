/**
 * Job references on the command line (D59): a full id, its short id (the last 6 characters), a
 * unique id prefix, or a name looked up in the caller's project first. Anything matching two
 * jobs is AMBIGUOUS_ID naming both, and nothing is done to either. Real binary, real SQLite file.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { baton, envelope } from "./helpers/cli.js";
import { tempDir } from "./helpers/tmp.js";

function world() {
  const home = tempDir("baton-refs-home-");
  const root = tempDir("baton-refs-projects-");
  const projA = join(root, "alpha");
  const projB = join(root, "beta");
  const projC = join(root, "gamma");
  for (const p of [projA, projB, projC]) mkdirSync(join(p, ".git"), { recursive: true });
  const json = (args: string[], cwd = projA) => {
    const r = baton([...args, "--json"], { home, cwd });
    return { code: r.code, env: envelope(r), stderr: r.stderr };
  };
  const add = (name: string, cwd = projA, extra: string[] = []): string => {
    const r = json(["enqueue", "{}", "-n", name, ...extra], cwd);
    expect(r.code, r.stderr).toBe(0);
    return r.env.data.jobs[0].id as string;
  };
  const state = (id: string) => json(["show", id]).env.data.job.state as string;
  return { home, projA, projB, projC, json, add, state };
}

describe("job references (D59)", () => {
  it("finding 6: a job named with another job's id prefix makes `complete <prefix>` AMBIGUOUS_ID, completing neither", () => {
    const w = world();
    const target = w.add("target");
    const prefix = target.slice(0, 14);
    const impostor = w.add(prefix);
    const r = w.json(["complete", prefix, "-e", "done"]);
    expect(r.code).toBe(4);
    expect(r.env.error?.code).toBe("AMBIGUOUS_ID");
    expect(r.env.error?.message).toContain(target);
    expect(r.env.error?.message).toContain(impostor);
    expect(w.state(target)).toBe("queued");
    expect(w.state(impostor)).toBe("queued");
    // Text mode says the same on one line.
    const text = baton(["complete", prefix], { home: w.home, cwd: w.projA });
    expect(text.code).toBe(4);
    expect(text.stderr).toContain(impostor);
  });

  it("a short id (last 6 characters, any case) is printed by list and works wherever a job is taken", () => {
    const w = world();
    const ids = Array.from({ length: 5 }, (_, i) => w.add(`job${i}`));
    const table = baton(["list"], { home: w.home, cwd: w.projA }).stdout;
    for (const id of ids) {
      expect(table).toContain(id.slice(-6));
      expect(table).not.toContain(id);
    }
    const short = ids[2]!.slice(-6).toLowerCase();
    expect(w.json(["show", short]).env.data.job.id).toBe(ids[2]);
    expect(w.json(["complete", short, "-e", "ok"]).env.data.completed[0].id).toBe(ids[2]);
    expect(w.state(ids[2]!)).toBe("succeeded");
  });

  it("--depends-on takes a short id or a name, and a missing one is still DEPENDENCY_NOT_FOUND", () => {
    const w = world();
    const base = w.add("base");
    const other = w.add("other");
    const byName = w.add("after-name", w.projA, ["--depends-on", "base"]);
    const byShort = w.add("after-short", w.projA, ["--depends-on", other.slice(-6)]);
    expect(w.json(["show", byName]).env.data.job.dependsOn).toEqual([base]);
    expect(w.json(["show", byShort]).env.data.job.dependsOn).toEqual([other]);
    const missing = w.json(["enqueue", "{}", "--depends-on", "no-such-job"]);
    expect(missing.code).toBe(3);
    expect(missing.env.error?.code).toBe("DEPENDENCY_NOT_FOUND");
    expect(missing.env.error?.message).toContain("no-such-job");
  });

  it("names resolve in the current project first; a name only elsewhere is found; two elsewhere are AMBIGUOUS_ID", () => {
    const w = world();
    const a = w.add("build", w.projA);
    const b = w.add("build", w.projB);
    expect(w.json(["show", "build"], w.projA).env.data.job.id).toBe(a);
    expect(w.json(["show", "build"], w.projB).env.data.job.id).toBe(b);
    // From a third project, "build" could be either: refused, naming both projects.
    const r = w.json(["show", "build"], w.projC);
    expect(r.code).toBe(4);
    expect(r.env.error?.code).toBe("AMBIGUOUS_ID");
    expect(r.env.error?.message).toContain(w.projA);
    expect(r.env.error?.message).toContain(w.projB);
    expect(w.json(["complete", "build"], w.projB).env.data.completed[0].id).toBe(b);
    expect(w.state(a)).toBe("queued");
    const lone = w.add("lint", w.projB);
    expect(w.json(["show", "lint"], w.projC).env.data.job.id).toBe(lone);
  });
});
