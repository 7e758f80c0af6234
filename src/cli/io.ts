/**
 * Where a CLI invocation reads its context and writes its output. Normally the process itself;
 * when the daemon serves a CLI call for a thin client (see bin/baton.js), the client's cwd, env and
 * captured output streams, held per call in AsyncLocalStorage so concurrent calls do not mix.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Opened } from "../open.js";

export interface CliIo {
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdoutIsTTY: boolean;
  /** The terminal's width in columns, when stdout is a terminal. */
  columns?: number;
  out(text: string | Uint8Array): void;
  err(text: string): void;
  /** A ledger already open (the daemon's), used instead of opening one per call. */
  opened?: Opened;
  /** The request id of this call: the thin client's, or `--request-id`. */
  requestId?: string;
  /**
   * The thin client's daemon did not take this call in time (D135): its command line, so a change
   * is refused (`DAEMON_UNRESPONSIVE`) with the retry to learn its outcome; reads run here.
   */
  daemonUnresponsive?: { argv: readonly string[] };
  /** The `--database-url` this call named its ledger by: the hints it prints name it too. */
  databaseUrlFlag?: string;
}

const processIo: CliIo = {
  get cwd() {
    return process.cwd();
  },
  env: process.env,
  get stdoutIsTTY() {
    return process.stdout.isTTY === true;
  },
  get columns() {
    return process.stdout.isTTY === true ? process.stdout.columns : undefined;
  },
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

const storage = new AsyncLocalStorage<CliIo>();

/** The current invocation's I/O. */
export function io(): CliIo {
  return storage.getStore() ?? processIo;
}

/** Run `fn` with `custom` as the invocation's I/O. */
export function withIo<T>(custom: CliIo, fn: () => T): T {
  return storage.run(custom, fn);
}
