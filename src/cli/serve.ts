/**
 * The daemon side of the thin CLI client (bin/baton.js): run one CLI invocation in the daemon's
 * process, with the client's cwd and environment and the daemon's open ledger, capturing output.
 * Start-up cost is then a socket round trip instead of loading the CLI (agents call it hundreds of
 * times). Anything interactive or long (follow, wait, help, stdin) never comes here.
 */
import type { Opened } from "../open.js";
import { withIo } from "./io.js";

/** The CLI's entry point (passed in, so this module does not import the whole CLI). */
export type CliMain = (argv: string[]) => Promise<number>;

export interface CliCall {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  isTTY: boolean;
}

export interface CliAnswer {
  code: number;
  stdout: string;
  stderr: string;
}

export async function serveCliCall(call: CliCall, opened: Opened, main: CliMain): Promise<CliAnswer> {
  const out: Buffer[] = [];
  const err: string[] = [];
  const code = await withIo(
    {
      cwd: call.cwd,
      env: call.env,
      stdoutIsTTY: call.isTTY,
      out: (text) => void out.push(typeof text === "string" ? Buffer.from(text) : Buffer.from(text)),
      err: (text) => void err.push(text),
      opened,
    },
    () => main(call.argv),
  );
  return { code, stdout: Buffer.concat(out).toString("utf8"), stderr: err.join("") };
}
