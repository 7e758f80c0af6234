/**
 * `on_success`, `on_failure`, `on_complete`: commands run after a task's run ends. The run's data
 * reaches them only through environment variables (BATON_RUN_ID, BATON_TASK, BATON_STATUS,
 * BATON_EXIT_CODE, BATON_SUMMARY, BATON_RESULT_JSON, BATON_LOG_PATH): the hook's command text is
 * the config's, byte for byte, so a hostile summary such as `$(touch pwned)` is only ever a value
 * . A result too large for one environment variable (the kernel refuses a variable over
 * 128 KiB with E2BIG) is left out of BATON_RESULT_JSON; BATON_RESULT_FILE always names a 0600 file
 * holding it.
 *
 * Each hook command leads its own process group, recorded in the attempt folder (`hook.json`) as
 * the command's is (process.json): a daemon killed while a hook runs leaves it running, and the
 * task's lock stays held until it ends (tasks/locks). A hook that times out loses its whole group.
 */
import { spawn } from "node:child_process";
import { appendFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { HookSpec } from "./schema.js";
import { after } from "../core/timer.js";
import { processStartTime, signalGroup } from "../supervisor/process.js";
import { saveHookProcess } from "../supervisor/run-dir.js";

export type HookWhen = "on_success" | "on_failure" | "on_complete";

/** What a hook learns about the run, as environment variables. */
export interface HookData {
  runId: string;
  task: string;
  /** The run's final state: succeeded, failed, timed_out, cancelled… */
  status: string;
  exitCode: number | undefined;
  summary: string | undefined;
  result: unknown;
  logPath: string;
}

/** Largest BATON_RESULT_JSON (bytes); a larger result is only in BATON_RESULT_FILE. */
export const MAX_RESULT_ENV_BYTES = 64 * 1024;
/** Longest BATON_SUMMARY (characters; a run's summary is at most 500). */
export const MAX_SUMMARY_ENV = 16 * 1024;

/** The BATON_* variables of a hook (and of notifications' templates). */
export function hookEnv(data: HookData, resultFile?: string): Record<string, string> {
  const json = JSON.stringify(data.result ?? null);
  return {
    BATON_RUN_ID: data.runId,
    BATON_TASK: data.task,
    BATON_STATUS: data.status,
    BATON_EXIT_CODE: data.exitCode === undefined ? "" : String(data.exitCode),
    BATON_SUMMARY: (data.summary ?? "").slice(0, MAX_SUMMARY_ENV),
    BATON_RESULT_JSON: Buffer.byteLength(json) <= MAX_RESULT_ENV_BYTES ? json : "",
    ...(resultFile === undefined ? {} : { BATON_RESULT_FILE: resultFile }),
    BATON_LOG_PATH: data.logPath,
  };
}

/** docket's names of the same variables, so a docket user's hooks run unchanged. */
export function docketHookEnv(env: Record<string, string>): Record<string, string> {
  return {
    DOCKET_RUN_ID: env.BATON_RUN_ID ?? "",
    DOCKET_TASK_NAME: env.BATON_TASK ?? "",
    DOCKET_STATUS: env.BATON_STATUS ?? "",
    DOCKET_EXIT_CODE: env.BATON_EXIT_CODE ?? "",
    DOCKET_SUMMARY: env.BATON_SUMMARY ?? "",
    DOCKET_DETAILS_JSON: env.BATON_RESULT_JSON ?? "",
    DOCKET_LOG_PATH: env.BATON_LOG_PATH ?? "",
  };
}

/** The hooks that apply to a final state, in order: the specific one, then on_complete. */
export function hooksFor(succeeded: boolean): HookWhen[] {
  return [succeeded ? "on_success" : "on_failure", "on_complete"];
}

/** Each command of a hook spec as argv: a shell string runs as `/bin/sh -c <string>` unchanged. */
export function hookArgvs(spec: HookSpec): string[][] {
  const items = typeof spec === "string" ? [spec] : spec;
  return items.map((item) => (typeof item === "string" ? ["/bin/sh", "-c", item] : item));
}

export interface HookOutcome {
  when: HookWhen;
  index: number;
  exitCode: number | null;
  error?: string;
}

/**
 * Run one hook's commands in order (each to its end, at most `timeoutMs`), their output appended to
 * `logFile`. A failing hook does not change the run's outcome; it is reported.
 */
export async function runHook(
  when: HookWhen,
  spec: HookSpec,
  options: { cwd: string; env: NodeJS.ProcessEnv; data: HookData; logFile: string; timeoutMs?: number },
): Promise<HookOutcome[]> {
  // The whole result, whatever its size, next to the hooks' log (the run's attempt folder).
  const resultFile = join(dirname(options.logFile), "result.json");
  let written: string | undefined;
  try {
    writeFileSync(resultFile, JSON.stringify(options.data.result ?? null), { mode: 0o600 });
    written = resultFile;
  } catch {
    written = undefined;
  }
  const own = hookEnv(options.data, written);
  const env = { ...options.env, ...own, ...docketHookEnv(own) };
  const out: HookOutcome[] = [];
  const argvs = hookArgvs(spec);
  for (let index = 0; index < argvs.length; index++) {
    const [file, ...args] = argvs[index]!;
    out.push(
      await new Promise<HookOutcome>((resolve) => {
        let child: ReturnType<typeof spawn>;
        try {
          child = spawn(file!, args, {
            cwd: options.cwd,
            env,
            stdio: ["ignore", "pipe", "pipe"],
            detached: true,
          });
        } catch (error) {
          // E2BIG and friends: reported like any failing hook; the next hooks still run.
          resolve({ when, index, exitCode: null, error: (error as Error).message });
          return;
        }
        const pid = child.pid;
        if (pid !== undefined) {
          try {
            saveHookProcess(dirname(options.logFile), { pid, startTime: processStartTime(pid) ?? "unknown" });
          } catch {
            // a full disk: the hook runs all the same; only a daemon killed meanwhile would not see it
          }
        }
        const write = (chunk: Buffer) => {
          try {
            appendFileSync(options.logFile, chunk, { mode: 0o600 });
          } catch {
            // the log is best effort; the outcome is recorded either way
          }
        };
        child.stdout?.on("data", write);
        child.stderr?.on("data", write);
        const timer = after(options.timeoutMs ?? 60_000, () => {
          if (pid === undefined || !signalGroup(pid, "SIGKILL")) child.kill("SIGKILL");
        });
        child.once("error", (error) => {
          timer.cancel();
          resolve({ when, index, exitCode: null, error: error.message });
        });
        child.once("close", (code, signal) => {
          timer.cancel();
          resolve({
            when,
            index,
            exitCode: code,
            ...(signal === null ? {} : { error: `killed by ${signal}` }),
          });
        });
      }),
    );
  }
  return out;
}
