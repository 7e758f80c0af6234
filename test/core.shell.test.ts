/**
 * The command lines baton prints for a person to paste (a DAEMON_UNRESPONSIVE retry, a command
 * job's line) give the same argv back when a real POSIX shell reads them: `sh -c 'echo "a b" > f'`
 * was printed unquoted, and pasting it ran `sh -c echo …` and spent the request id (stranger s17f).
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { shellLine } from "../src/core/shell.js";
import { daemonUnresponsive } from "../src/ops/daemon-client.js";

/** The argv a real `sh` reads from `line`. */
function shWords(line: string): string[] {
  const r = spawnSync("sh", ["-c", `set -- ${line}; printf '%s\\0' "$@"`], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split("\0").slice(0, -1);
}

const ARGVS: string[][] = [
  ["run", "--", "sh", "-c", `echo "a b" > /tmp/out1; exit 3`],
  ["enqueue", `{"x":2}`],
  ["run", "--", "printf", "it's %s\\n", "$HOME", "`id`", "a\nb", "*", ""],
];

describe("pasteable command lines", () => {
  it("a real sh reads shellLine's output back as the same argv", () => {
    for (const argv of ARGVS) expect(shWords(shellLine(argv))).toEqual(argv);
  });

  it("DAEMON_UNRESPONSIVE prints its retry so that pasting it repeats the call exactly", () => {
    for (const argv of ARGVS) {
      const e = daemonUnresponsive("/tmp/no-such-baton-home", "cli-1234", argv);
      const line = /baton --request-id cli-1234 (.*)\. To recover/s.exec(e.message)?.[1];
      expect(line, e.message).toBeDefined();
      expect(shWords(line!)).toEqual(argv);
    }
  });
});
