/**
 * The daemon side of the thin CLI client (bin/baton.js): run one CLI invocation in the daemon's
 * process, with the client's cwd and environment and the daemon's open ledger, capturing output.
 * Start-up cost is then a socket round trip instead of loading the CLI (agents call it hundreds of
 * times). Anything interactive or long (follow, wait, help, stdin) never comes here.
 */
import type { Opened } from "../open.js";
import { resolveDatabaseUrl, takeDatabaseUrlFlag } from "./database-url.js";
import { withIo } from "./io.js";
import { ledgerKey } from "../ops/ipc.js";

/** The CLI's entry point (passed in, so this module does not import the whole CLI). */
export type CliMain = (argv: string[]) => Promise<number>;

export interface CliCall {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  isTTY: boolean;
  /** The client terminal's width, when its stdout is one. */
  columns?: number;
  /** The thin client's request id for the call. */
  requestId?: string;
}

export interface CliAnswer {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * True when the call names the ledger this daemon serves: by `--database-url`,
 * `BATON_DATABASE_URL`, the project's or the personal config, or none of them (SQLite). A call for
 * another ledger is answered "run it yourself", never served from this daemon's ledger.
 */
export function sameLedger(call: CliCall, daemonEnv: NodeJS.ProcessEnv = process.env): boolean {
  let flag: string | undefined;
  try {
    flag = takeDatabaseUrlFlag(call.argv).url;
  } catch {
    return false; // a malformed flag: the caller's own CLI says so
  }
  const { url } = resolveDatabaseUrl(flag, call.env, call.cwd);
  return ledgerKey({ ...call.env, BATON_DATABASE_URL: url ?? "" }) === ledgerKey(daemonEnv);
}

export async function serveCliCall(
  call: CliCall,
  opened: Opened,
  main: CliMain,
): Promise<CliAnswer | { fallback: true }> {
  if (!sameLedger(call)) return { fallback: true };
  const out: Buffer[] = [];
  const err: string[] = [];
  const code = await withIo(
    {
      cwd: call.cwd,
      env: call.env,
      stdoutIsTTY: call.isTTY,
      ...(typeof call.columns === "number" ? { columns: call.columns } : {}),
      out: (text) => void out.push(typeof text === "string" ? Buffer.from(text) : Buffer.from(text)),
      err: (text) => void err.push(text),
      opened,
      ...(call.requestId === undefined ? {} : { requestId: call.requestId }),
    },
    () => main(call.argv),
  );
  return { code, stdout: Buffer.concat(out).toString("utf8"), stderr: err.join("") };
}
