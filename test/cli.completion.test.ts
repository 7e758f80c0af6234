/**
 * Shell completion (issue 19): the bash script is sourced in a real bash and asked for candidates
 * the way bash asks (COMP_WORDS, COMP_CWORD, the function); what comes back are the ledger's own
 * values — short ids and names of this project's jobs, workflows, configured tasks — beside
 * subcommands, flags and states. zsh and fish run their scripts too when installed (apt-get install
 * zsh fish), else those tests say why they are skipped. Real binary, real SQLite home.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, baton, envelope } from "./helpers/cli.js";
import { tempDir } from "./helpers/tmp.js";

const has = (shell: string) => spawnSync("sh", ["-c", `command -v ${shell}`]).status === 0;

function world() {
  const home = tempDir("baton-completion-home-");
  const root = tempDir("baton-completion-proj-");
  const project = join(root, "p");
  const other = join(root, "q");
  for (const dir of [project, other]) mkdirSync(join(dir, ".git"), { recursive: true });
  writeFileSync(
    join(project, "baton.yaml"),
    "tasks:\n  backup:\n    command: echo backed up\n  nightly:\n    command: echo n\n    schedule: '0 3 * * *'\n",
  );
  // `baton` on PATH, as a user has it.
  const bin = join(root, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "baton"), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(join(bin, "baton"), 0o755);
  const env = { ...process.env, BATON_HOME: home, NO_COLOR: "1", PATH: `${bin}:${process.env.PATH ?? ""}` };
  const run = (args: string[], cwd = project) => baton(args, { home, cwd });
  const add = (args: string[], cwd = project) =>
    envelope(run([...args, "--json"], cwd)).data.jobs[0].id as string;
  /** Run `script` in `shell` in the project; its stdout lines. */
  const shell = (name: string, args: string[], script: string) => {
    const r = spawnSync(name, [...args, script], { cwd: project, env, encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.split("\n").filter((l) => l !== "");
  };
  /** What bash's completion function offers for the words (the last is the one being completed). */
  const bash = (words: string[]) =>
    shell(
      "bash",
      ["-c"],
      `source <(baton completion bash)
COMP_WORDS=(baton ${words.map((w) => `'${w.replace(/'/g, "'\\''")}'`).join(" ")}); COMP_CWORD=${words.length}
_baton; printf '%s\\n' "\${COMPREPLY[@]}"`,
    );
  return { home, project, other, run, add, shell, bash };
}

const homes: string[] = [];
afterAll(() => {
  for (const home of homes) baton(["daemon", "stop"], { home });
});

describe("bash completion from the ledger", () => {
  it("offers job short ids and names, workflows, configured tasks, states, subcommands and flags", () => {
    const w = world();
    const build = w.add(["enqueue", "{}", "-n", "build", "-w", "docs"]);
    const spaced = w.add(["enqueue", "{}", "-n", "my task", "-w", "release notes"]);
    // Another project's job is not offered here.
    const elsewhere = w.add(["enqueue", "{}", "-n", "theirs", "-w", "other-wf"], w.other);

    const jobs = w.bash(["show", ""]);
    expect(jobs).toEqual(expect.arrayContaining([build.slice(-6), "build", spaced.slice(-6), "my\\ task"]));
    expect(jobs).not.toContain(elsewhere.slice(-6));
    expect(jobs).not.toContain("theirs");
    // A short id typed in lower case still completes.
    expect(w.bash(["explain", build.slice(-6, -3).toLowerCase()])).toContain(build.slice(-6));
    expect(w.bash(["complete", build.slice(-6), "bu"])).toEqual(["build"]);
    expect(w.bash(["enqueue", "--depends-on", "bui"])).toEqual(["build"]);

    expect(w.bash(["list", "-w", ""]).sort()).toEqual(["docs", "release\\ notes"]);
    expect(w.bash(["resume", "--workflow", "do"])).toEqual(["docs"]);
    expect(w.bash(["list", "-s", "q"])).toEqual(["queued"]);
    expect(w.bash(["workflows", "-s", ""]).sort()).toEqual(["finished", "live"]);
    expect(w.bash(["task", "run", ""]).sort()).toEqual(["backup", "nightly"]);
    // schedule enable/disable take only the tasks that have a schedule
    expect(w.bash(["schedule", "enable", ""])).toEqual(["nightly"]);
    expect(w.bash(["schedule", "disable", ""])).toEqual(["nightly"]);
    expect(w.bash(["task", ""])).toEqual(expect.arrayContaining(["list", "run", "describe"]));
    expect(w.bash(["sta"])).toEqual(["status"]);
    expect(w.bash(["list", "--st"])).toEqual(["--state"]);
    expect(w.bash(["completion", ""])).toEqual(["bash", "zsh", "fish"]);
    expect(w.bash(["daemon", "st"]).sort()).toEqual(["start", "status", "stop"]);
    // After `--`, a command's own argv: nothing from baton (bash falls back to files).
    expect(w.bash(["run", "--", "ma"])).toEqual([]);
  });

  it("the daemon answers __complete when it runs, with the same candidates", () => {
    const w = world();
    homes.push(w.home);
    const id = w.add(["enqueue", "{}", "-n", "served", "-w", "wf"]);
    const direct = w.bash(["show", ""]);
    expect(w.run(["daemon", "start"]).code).toBe(0);
    expect(w.bash(["show", ""])).toEqual(direct);
    expect(direct).toEqual(expect.arrayContaining([id.slice(-6), "served"]));
  });

  it("a misspelt shell is refused with the list", () => {
    const w = world();
    const r = w.run(["completion", "tcsh"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("choose bash, zsh or fish");
  });
});

describe.skipIf(!has("zsh"))(
  "zsh completion (skipped when zsh is not installed: apt-get install zsh)",
  () => {
    it("parses (zsh -n) and offers the ledger's values to compadd", () => {
      const w = world();
      const id = w.add(["enqueue", "{}", "-n", "build", "-w", "docs"]);
      const script = w.run(["completion", "zsh"]).stdout;
      const file = join(w.project, "_baton");
      writeFileSync(file, script);
      w.shell("zsh", ["-n"], file);
      // compadd exists only inside a completion widget: a stand-in prints what it is given.
      const offered = w.shell(
        "zsh",
        ["-f", "-c"],
        `source ${file}; compadd() { local name=\${@[-1]}; print -l -- \${(P)name}; }
words=(baton show ""); CURRENT=3; _baton`,
      );
      expect(offered).toEqual(expect.arrayContaining([id.slice(-6), "build"]));
    });
  },
);

describe.skipIf(!has("fish"))(
  "fish completion (skipped when fish is not installed: apt-get install fish)",
  () => {
    it("parses (fish -n) and `complete -C` offers the ledger's values", () => {
      const w = world();
      const id = w.add(["enqueue", "{}", "-n", "build", "-w", "docs"]);
      const file = join(w.project, "baton.fish");
      writeFileSync(file, w.run(["completion", "fish"]).stdout);
      w.shell("fish", ["-n"], file);
      expect(w.shell("fish", ["-c"], `source ${file}; complete -C "baton show "`)).toEqual(
        expect.arrayContaining([id.slice(-6), "build"]),
      );
      expect(w.shell("fish", ["-c"], `source ${file}; complete -C "baton list -w d"`)).toEqual(["docs"]);
    });
  },
);
