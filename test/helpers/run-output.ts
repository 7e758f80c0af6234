/**
 * A command attempt's output written the way a running command's is: appended to its stream spool
 * (stdout.log / stderr.log) and copied into output.log by baton's own LogPump, which keeps
 * output.idx. Tests that wrote output.log directly made a folder no baton writes (an index with
 * nothing acknowledged beside bytes it never saw), which readers rightly show as empty.
 */
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { LogPump } from "../../src/supervisor/log-pump.js";
import { ensureAttemptDir } from "../../src/supervisor/run-dir.js";

/** No cut in tests that write less than this. */
const CAP = 1024 * 1024 * 1024;

export function writeRunOutput(
  home: string,
  jobId: string,
  attempt: number,
  text: string,
  stream: "stdout" | "stderr" = "stdout",
): void {
  const dir = ensureAttemptDir(home, jobId, attempt);
  appendFileSync(join(dir, `${stream}.log`), text);
  // A pump resumes where output.idx ends (as a restarted daemon's does) and copies what is new.
  new LogPump(dir, CAP).stop();
}
