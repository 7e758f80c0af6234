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
  out(text: string | Uint8Array): void;
  err(text: string): void;
  /** A ledger already open (the daemon's), used instead of opening one per call. */
  opened?: Opened;
  /** The request id of this call: the thin client's, or `--request-id`. */
  requestId?: string;
}

const processIo: CliIo = {
  get cwd() {
    return process.cwd();
  },
  env: process.env,
  get stdoutIsTTY() {
    return process.stdout.isTTY === true;
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
