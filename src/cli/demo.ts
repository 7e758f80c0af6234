/**
 * `baton demo`: the checkpoint story, with real processes and a real SIGKILL.
 *
 * An "agent" process enqueues one task per file of a 20-file refactor, edits and completes 12 of
 * them with evidence, and is killed with SIGKILL. A second agent process runs `resume`, finishes
 * exactly the 8 that are left, and the audit trail shows every task done once.
 */
import { spawn } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openEngine } from "../open.js";
import { getOperation } from "../ops/catalogue.js";
import { invoke } from "../ops/invoke.js";
import type { ResumeOutput } from "../ops/resume.js";
import { every, sleep } from "../core/timer.js";

const FILES = 20;
const DONE_BEFORE_CRASH = 12;
const WORKFLOW = "add-docstrings";

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function call(name: string, input: unknown, project: string): Promise<unknown> {
  const { engine, store } = await openEngine({ actor: "demo-agent" });
  try {
    return await invoke(getOperation(name)!, input, {
      engine,
      cwd: project,
      actor: "demo-agent",
      location: store.location,
    });
  } finally {
    await store.close();
  }
}

function editFile(project: string, path: string): string {
  appendFileSync(join(project, path), `/** documented by the demo agent (pid ${process.pid}) */\n`);
  return `appended a docstring to ${path}`;
}

/** The agent's side of the demo, run as a child process. */
export async function demoAgent(phase: string, dir: string): Promise<number> {
  const project = join(dir, "project");
  if (phase === "first") {
    const tasks = Array.from({ length: FILES }, (_, i) => ({
      payload: { path: `src/file${String(i + 1).padStart(2, "0")}.ts` },
      name: `file${String(i + 1).padStart(2, "0")}`,
    }));
    const enq = (await call("enqueue_task", { cwd: project, workflow: WORKFLOW, tasks }, project)) as {
      jobs: { id: string }[];
    };
    for (const [i, job] of enq.jobs.entries()) {
      if (i === DONE_BEFORE_CRASH) break;
      const evidence = editFile(project, tasks[i]!.payload.path);
      await call("complete_task", { id: job.id, evidence }, project);
    }
    writeFileSync(join(dir, "ready"), "");
    // Work on the 13th file "forever" (a live timer keeps the process up): the demo kills it here.
    await new Promise(() => every(60_000, () => undefined));
    return 0;
  }
  const resumed = (await call(
    "resume_session",
    { cwd: project, workflow: WORKFLOW, budget: 4000 },
    project,
  )) as ResumeOutput;
  for (const w of resumed.workflows) {
    for (const line of w.tasks) {
      const [id] = line.split(" ");
      const path = / path=(\S+)/.exec(line)?.[1];
      if (id === undefined || path === undefined) continue;
      const evidence = editFile(project, path);
      await call("complete_task", { id, evidence }, project);
    }
  }
  return 0;
}

function runChild(args: string[], env: NodeJS.ProcessEnv): ReturnType<typeof spawn> {
  const script = process.argv[1]!;
  return spawn(process.execPath, [...process.execArgv, script, ...args], {
    env,
    stdio: ["ignore", "inherit", "inherit"],
  });
}

export async function runDemo(options: { keep: boolean; json: boolean }): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "baton-demo-"));
  const project = join(dir, "project");
  mkdirSync(join(project, "src"), { recursive: true });
  mkdirSync(join(project, ".git"));
  for (let i = 1; i <= FILES; i++)
    writeFileSync(join(project, `src/file${String(i).padStart(2, "0")}.ts`), `export const n = ${i};\n`);
  const home = join(dir, "home");
  const env = { ...process.env, BATON_HOME: home };
  const log = options.json ? () => undefined : say;

  log(`baton demo — BATON_HOME=${home}`);
  log(
    `1. An agent enqueues ${FILES} file tasks (workflow '${WORKFLOW}') and completes ${DONE_BEFORE_CRASH} with evidence…`,
  );
  const first = runChild(["demo-agent", "first", dir], env);
  const started = Date.now();
  while (!existsSync(join(dir, "ready"))) {
    if (first.exitCode !== null || Date.now() - started > 60_000) {
      say("demo: the first agent did not reach its checkpoint");
      return 1;
    }
    await sleep(20);
  }
  const exited = new Promise((r) =>
    first.exitCode !== null || first.signalCode !== null ? r(undefined) : first.once("exit", r),
  );
  first.kill("SIGKILL");
  await exited;
  log(`2. The agent's process was killed with SIGKILL (pid ${first.pid}) while working on file 13.`);

  process.env.BATON_HOME = home;
  const before = (await call(
    "resume_session",
    { cwd: project, workflow: WORKFLOW, budget: 4000 },
    project,
  )) as ResumeOutput;
  log(`3. A new chat runs \`baton resume\`: ${before.remaining} task(s) left.`);
  for (const t of before.workflows[0]?.tasks.slice(0, 3) ?? []) log(`     ${t}`);
  if (before.remaining > 3) log(`     … and ${before.remaining - 3} more`);

  const second = runChild(["demo-agent", "second", dir], env);
  const code = await new Promise<number>((r) => second.once("exit", (c) => r(c ?? 1)));
  log(`4. A second agent process finished what was left (exit ${code}).`);

  const { engine, store } = await openEngine({});
  try {
    const jobs = await engine.list({ workflow: WORKFLOW }, { limit: 100, order: "asc" });
    const events = await engine.events({ workflow: WORKFLOW, limit: 10_000 });
    const completions = new Map<string, number>();
    for (const e of events)
      if (e.kind === "completed") completions.set(e.jobId!, (completions.get(e.jobId!) ?? 0) + 1);
    const edits = Array.from(
      { length: FILES },
      (_, i) =>
        readFileSync(join(project, `src/file${String(i + 1).padStart(2, "0")}.ts`), "utf8").split(
          "documented",
        ).length - 1,
    );
    const lost = jobs.filter((j) => j.state !== "succeeded").length + (FILES - jobs.length);
    const twice = [...completions.values()].filter((n) => n > 1).length + edits.filter((n) => n !== 1).length;
    const verdict = {
      tasks: jobs.length,
      succeeded: jobs.filter((j) => j.state === "succeeded").length,
      leftAfterCrash: before.remaining,
      lost,
      doneTwice: twice,
      events: events.length,
      home,
    };
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ ok: lost === 0 && twice === 0, data: verdict })}\n`);
    } else {
      log(`5. Audit of '${WORKFLOW}':`);
      const kinds = new Map<string, number>();
      for (const e of events) kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
      for (const [k, n] of kinds) log(`     ${k.padEnd(10)} ${n}`);
      const sample = events.find((e) => e.kind === "completed");
      if (sample !== undefined)
        log(`     e.g. ${sample.jobId} completed with evidence ${JSON.stringify(sample.details?.evidence)}`);
      log(`Result: ${verdict.succeeded}/${FILES} done, ${lost} lost, ${twice} done twice.`);
      log(
        options.keep
          ? `Explore it: BATON_HOME=${home} npx baton audit --all`
          : "Run `baton demo --keep` to keep the ledger and explore it with `baton audit --all`.",
      );
    }
    return lost === 0 && twice === 0 && code === 0 ? 0 : 1;
  } finally {
    await store.close();
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  }
}
