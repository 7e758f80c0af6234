/**
 * BATON_HOME and its files answer only their owner (issue 16; D86).
 *
 * - Stranger finding 3: a home (or database) that another user owns or may write is refused with
 *   `UNSAFE_HOME` naming the path, the owner and what to do; before, root's daemon ran the command
 *   `nobody` had queued in it, as root.
 * - A daemon running as root: `nobody` cannot connect to its socket, read the database, the tokens,
 *   the daemon's log or a command's output, nor list the home; every file and folder of a home
 *   after a run is 0600/0700 (sockets 0600) and the caller's.
 *
 * The second-user tests need root (`runuser -u nobody`); elsewhere they are skipped and say why.
 * The mode checks that need no second user run everywhere.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { socketPath } from "../src/ops/ipc.js";
import { BIN } from "./helpers/cli.js";
import type { Home } from "./helpers/supervisor.js";
import { cli, cliJson, newHome, stopDaemon, survivors, until } from "./helpers/supervisor.js";

const isRoot = process.getuid?.() === 0;
const hasRunuser = spawnSync("runuser", ["--help"]).status === 0;
const reason = !isRoot
  ? "needs root to act as a second local user (runuser -u nobody); skipped as uid " +
    String(process.getuid?.())
  : "needs runuser (util-linux) to act as a second local user";
if (!isRoot || !hasRunuser) console.warn(`security.files: second-user tests skipped: ${reason}`);
const NOBODY = 65534;

const scratch: string[] = [];
function tempDir(prefix = "bsf-"): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  scratch.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** `baton <args> --json` with BATON_HOME=`home`, as this user: the envelope and exit code. */
function call(
  home: string,
  args: string[],
  extra: Record<string, string> = {},
): { code: number; ok: boolean; data?: any; error?: any } {
  const result = spawnSync(process.execPath, [BIN, ...args, "--json"], {
    cwd: tmpdir(),
    env: { ...process.env, BATON_HOME: home, BATON_DURABILITY: "normal", NO_COLOR: "1", ...extra },
    encoding: "utf8",
    timeout: 60_000,
  });
  try {
    return { code: result.status ?? -1, ...(JSON.parse(result.stdout) as { ok: boolean }) };
  } catch {
    throw new Error(
      `baton ${args.join(" ")}: not JSON (exit ${result.status}): ${result.stdout}${result.stderr}`,
    );
  }
}

/** `baton <args> --json` as nobody, with BATON_HOME=`home`. */
function asNobodyBaton(home: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(
    "runuser",
    [
      "-u",
      "nobody",
      "--",
      "env",
      `BATON_HOME=${home}`,
      "BATON_DURABILITY=normal",
      process.execPath,
      BIN,
      ...args,
    ],
    { cwd: "/", encoding: "utf8", timeout: 60_000 },
  );
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function expectUnsafe(
  answer: { code: number; ok: boolean; error?: { code: string; message: string; details?: any } },
  path: string,
): void {
  expect(answer.ok, JSON.stringify(answer)).toBe(false);
  expect(answer.error!.code).toBe("UNSAFE_HOME");
  expect(answer.code).toBe(1);
  expect(answer.error!.message).toContain(path);
}

describe("D86 a home or ledger others may write is refused (any user)", () => {
  it("a world-writable BATON_HOME, even sticky as /tmp, is refused, names the path and says what to do", () => {
    for (const mode of [0o777, 0o1777, 0o775]) {
      const home = join(tempDir(), "home");
      mkdirSync(home);
      chmodSync(home, mode);
      const answer = call(home, ["list"]);
      expectUnsafe(answer, home);
      expect(answer.error.message).toContain(`mode ${mode.toString(8).padStart(4, "0")}`);
      // A folder shared by design (sticky) is not to be chmodded: use another one.
      if (mode === 0o1777) expect(answer.error.message).toContain("BATON_HOME of your own");
      else expect(answer.error.message).toContain(`chmod 700 ${home}`);
      expect(existsSync(join(home, "baton.db"))).toBe(false); // refused before anything was made
    }
  });

  it("a database (or its -wal) others may write is refused; a merely readable one is tightened to 0600", () => {
    const home = tempDir();
    expect(call(home, ["enqueue", "{}"]).ok).toBe(true);
    const db = join(home, "baton.db");
    chmodSync(db, 0o666);
    const answer = call(home, ["list"]);
    expectUnsafe(answer, db);
    expect(answer.error.message).toContain(`chmod 600 ${db}`);
    chmodSync(db, 0o644);
    expect(call(home, ["list"]).ok).toBe(true);
    expect(lstatSync(db).mode & 0o777).toBe(0o600);
    writeFileSync(`${db}-wal`, "", { mode: 0o666 });
    chmodSync(`${db}-wal`, 0o666);
    expectUnsafe(call(home, ["list"]), `${db}-wal`);
  });

  it("a home below a folder others may write (not sticky) is refused: they could swap it after the check", () => {
    const open = join(tempDir(), "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    const home = join(open, "home");
    const answer = call(home, ["list"]);
    expectUnsafe(answer, open);
    expect(answer.error.message).toContain("the folder above baton's data directory");
  });

  it("a home the caller made is 0700 and its database 0600, whatever the umask", () => {
    const home = join(tempDir(), "new", "home");
    const previous = process.umask(0);
    try {
      expect(call(home, ["enqueue", "{}"]).ok).toBe(true);
    } finally {
      process.umask(previous);
    }
    expect(lstatSync(home).mode & 0o777).toBe(0o700);
    for (const name of readdirSync(home).filter((n) => n.startsWith("baton.db")))
      expect(`${name} ${(lstatSync(join(home, name)).mode & 0o777).toString(8)}`).toBe(`${name} 600`);
  });
});

describe.skipIf(!isRoot || !hasRunuser)("D86 another local user's home, database or socket (as root)", () => {
  it("finding 3: a home nobody planted with a queued command is refused; root's daemon never runs it", () => {
    const parent = tempDir("bsf-plant-");
    chmodSync(parent, 0o755);
    chownSync(parent, NOBODY, NOBODY);
    const home = join(parent, "home");
    const canary = join(parent, "pwned");
    // nobody makes a home of its own, pauses it, queues a command and stops its daemon: the
    // command waits in nobody's baton.db for whoever runs a daemon on this home next.
    try {
      expect(asNobodyBaton(home, ["pause"]).code).toBe(0);
      const queued = asNobodyBaton(home, ["run", "--json", "--", "sh", "-c", `id > ${canary}`]);
      expect(queued.code, queued.stderr).toBe(0);
    } finally {
      expect(asNobodyBaton(home, ["daemon", "stop"]).code).toBe(0);
    }
    expect(lstatSync(join(home, "baton.db")).uid).toBe(NOBODY);

    // Root is refused on every path in: starting the daemon, running, listing.
    for (const args of [["daemon", "start"], ["run", "--wait", "--", "true"], ["list"]]) {
      const answer = call(home, args);
      expectUnsafe(answer, home);
      expect(answer.error.message).toContain(`owned by uid ${NOBODY}, not by you (uid 0) or root`);
      // Another user's home is theirs: the advice is a home of your own, never to take theirs over.
      expect(answer.error.message).toContain("Use a BATON_HOME of your own");
      expect(answer.error.message).not.toContain("chown");
      expect(answer.error.details).toMatchObject({ path: home, owner: NOBODY, uid: 0 });
    }
    // No daemon of root's runs on it, so nothing can run the command; nothing wrote the canary.
    expect(survivors({ dir: home, env: {} }).filter((pid) => lstatSync(`/proc/${pid}`).uid === 0)).toEqual(
      [],
    );
    expect(existsSync(canary)).toBe(false);
  });

  it("a database nobody owns in root's own home is refused, naming the file", () => {
    const home = tempDir();
    expect(call(home, ["enqueue", "{}"]).ok).toBe(true);
    const db = join(home, "baton.db");
    chownSync(db, NOBODY, NOBODY);
    const answer = call(home, ["list"]);
    expectUnsafe(answer, db);
    expect(answer.error.details).toMatchObject({ path: db, owner: NOBODY });
  });

  it("a home below a folder nobody owns is refused (nobody could rename root's home away)", () => {
    const parent = tempDir("bsf-above-");
    chmodSync(parent, 0o755);
    chownSync(parent, NOBODY, NOBODY);
    const answer = call(join(parent, "home"), ["list"]);
    expectUnsafe(answer, parent);
  });

  it("red team M2: a long home's socket is in a private folder; nobody making it first is refused with fitting advice and nothing is queued", () => {
    // A temp dir of this test's own (TMPDIR), so a squatted baton-0 cannot disturb other root tests.
    const shared = tempDir("bsf-tmp-");
    chmodSync(shared, 0o1777);
    const env = { TMPDIR: shared, XDG_RUNTIME_DIR: "" };
    const deep = join(tempDir(), "x".repeat(60), "y".repeat(60));
    const folder = join(shared, "baton-0");
    // Before, the socket was the loose name ${shared}/baton-0-<hash>.sock, which nobody could touch first.
    const made = spawnSync("runuser", ["-u", "nobody", "--", "mkdir", "-m", "0777", folder]);
    expect(made.status).toBe(0);
    const canaryDir = tempDir("bsf-ran-");
    const canary = join(canaryDir, "ran");
    const refused = call(deep, ["run", "--json", "sh", "-c", `touch ${canary}`], env);
    expectUnsafe(refused, folder);
    expect(refused.error.message).toContain(`rm -r ${folder}`);
    expect(refused.error.message).toContain("XDG_RUNTIME_DIR");
    expect(refused.error.message).not.toContain("BATON_HOME of your own");
    // Nothing was queued: the refusal is the whole outcome, and a retry cannot run it twice.
    const listed = call(deep, ["list"], env);
    expect(listed.ok, JSON.stringify(listed)).toBe(true);
    expect(JSON.stringify(listed.data)).not.toContain(canary);
    // Removed as the advice says, the daemon starts, in a folder of root's own, 0700.
    rmSync(folder, { recursive: true });
    try {
      const ran = call(deep, ["run", "--wait", "--json", "sh", "-c", `touch ${canary}`], env);
      expect(ran.ok, JSON.stringify(ran)).toBe(true);
      expect(existsSync(canary)).toBe(true);
      const stat = lstatSync(folder);
      expect(stat.uid).toBe(0);
      expect(stat.mode & 0o777).toBe(0o700);
      expect(readdirSync(folder).filter((f) => f.endsWith(".sock"))).toHaveLength(1);
    } finally {
      call(deep, ["daemon", "stop"], env);
    }
  });
});

describe.skipIf(!isRoot || !hasRunuser)(
  "stranger finding: a permission error on baton's own files is PERMISSION_DENIED naming the path, never INTERNAL",
  () => {
    /** `baton <args> --json` as nobody: the envelope and the exit code. */
    function nobodyCall(home: string, args: string[]): { code: number; ok: boolean; error?: any } {
      const result = asNobodyBaton(home, [...args, "--json"]);
      return { code: result.code, ...(JSON.parse(result.stdout) as { ok: boolean }) };
    }

    it("nobody with root's BATON_HOME: every command is refused naming the home and saying to use one of its own; root's ledger is untouched", () => {
      const home = tempDir("bsf-roots-");
      expect(call(home, ["enqueue", "{}"]).ok).toBe(true);
      const before = call(home, ["list"]).data;
      for (const args of [
        ["list"],
        ["status"],
        ["enqueue", "{}"],
        ["run", "--", "true"],
        ["daemon", "start"],
        ["token", "show"],
      ]) {
        const answer = nobodyCall(home, args);
        expect(answer.ok, args.join(" ")).toBe(false);
        expect(answer.error.code, args.join(" ")).toBe("PERMISSION_DENIED");
        expect(answer.code, args.join(" ")).toBe(1);
        expect(answer.error.message, args.join(" ")).toContain(home);
        expect(answer.error.message, args.join(" ")).toContain(
          `${home} belongs to root (mode 0700), not to you (uid ${NOBODY})`,
        );
        expect(answer.error.message, args.join(" ")).toContain("Use a BATON_HOME of your own");
        expect(answer.error.message, args.join(" ")).not.toMatch(/chown|chmod/);
        expect(answer.error.details).toMatchObject({ refusedBy: home, owner: 0, uid: NOBODY });
      }
      expect(call(home, ["list"]).data).toEqual(before);
    });

    it("nobody with a home below a folder only root may enter (as /root/.baton): refused naming that folder", () => {
      const closed = tempDir("bsf-closed-");
      chmodSync(closed, 0o700);
      const home = join(closed, ".baton");
      const answer = nobodyCall(home, ["list"]);
      expect(answer.error.code).toBe("PERMISSION_DENIED");
      expect(answer.error.message).toContain(`baton's data directory ${home}: permission denied`);
      expect(answer.error.message).toContain(`${closed} belongs to root`);
      expect(answer.error.message).toContain("Use a BATON_HOME of your own");
      expect(existsSync(home)).toBe(false);
    });

    it("nobody's own file with a mode that shuts it out: PERMISSION_DENIED says to chmod it (its own), not to move", () => {
      const parent = tempDir("bsf-ownmode-");
      chmodSync(parent, 0o755);
      chownSync(parent, NOBODY, NOBODY);
      const home = join(parent, "home");
      expect(nobodyCall(home, ["token", "rotate"]).ok).toBe(true);
      const tokens = join(home, "http-tokens.json");
      chmodSync(tokens, 0o000);
      const answer = nobodyCall(home, ["token", "show"]);
      expect(answer.error.code).toBe("PERMISSION_DENIED");
      expect(answer.code).toBe(1);
      expect(answer.error.message).toContain(
        `${tokens} is yours but its mode 0000 shuts you out: \`chmod 600 ${tokens}\``,
      );
      expect(answer.error.message).not.toContain("BATON_HOME of your own");
    });
  },
);

/** The attacker: each probe (connect, read, list) as nobody, the error code or "ok". */
const PROBER = `
const fs = require("node:fs");
const net = require("node:net");
const probes = JSON.parse(fs.readFileSync(0, "utf8"));
(async () => {
  const out = {};
  for (const [label, kind, path] of probes) {
    out[label] = await new Promise((resolve) => {
      try {
        if (kind === "read") { fs.readFileSync(path); resolve("ok"); }
        else if (kind === "list") { fs.readdirSync(path); resolve("ok"); }
        else if (kind === "stat") { fs.statSync(path); resolve("ok"); }
        else {
          const s = net.connect(path);
          s.on("connect", () => { s.destroy(); resolve("ok"); });
          s.on("error", (e) => resolve(e.code));
        }
      } catch (e) { resolve(e.code); }
    });
  }
  process.stdout.write(JSON.stringify(out));
})();
`;

describe.skipIf(!isRoot || !hasRunuser)(
  "issue 16: the daemon's socket and files answer only their owner",
  () => {
    let proberDir: string;
    let home: Home;
    beforeAll(() => {
      proberDir = tempDir("bsf-prober-");
      chmodSync(proberDir, 0o755);
      writeFileSync(join(proberDir, "probe.cjs"), PROBER, { mode: 0o644 });
    });
    afterAll(() => {
      if (home !== undefined) stopDaemon(home);
    });

    function probe(probes: [string, "read" | "list" | "connect" | "stat", string][]): Record<string, string> {
      const result = spawnSync(
        "runuser",
        ["-u", "nobody", "--", process.execPath, join(proberDir, "probe.cjs")],
        {
          input: JSON.stringify(probes),
          encoding: "utf8",
          timeout: 60_000,
        },
      );
      if (result.status !== 0) throw new Error(`prober failed: ${result.stderr}`);
      return JSON.parse(result.stdout) as Record<string, string>;
    }

    it("nobody cannot connect to the socket, read baton.db, the tokens, daemon.log, a run's output, or list the home; every file is 0600 and every folder 0700", async () => {
      home = newHome();
      // A command still running, so its saved environment is there too.
      const run = cliJson(home, ["run", "--", "sh", "-c", "echo secret-output; exec sleep 60"]);
      const output = join(home.dir, "runs", run.id, "1", "output.log");
      await until(
        "the command's output",
        () => existsSync(output) && readFileSync(output, "utf8").includes("secret-output"),
      );
      cliJson(home, ["dashboard", "--no-open"]); // the token file and the daemon's HTTP server
      cliJson(home, ["enqueue", "{}"]);
      const dir = home.dir;
      const targets: [string, "read" | "list" | "connect", string][] = [
        ["socket", "connect", socketPath(dir, "")],
        ["baton.db", "read", join(dir, "baton.db")],
        ["baton.db-wal", "read", join(dir, "baton.db-wal")],
        ["http-tokens.json", "read", join(dir, "http-tokens.json")],
        ["dashboard.json", "read", join(dir, "dashboard.json")],
        ["daemon.log", "read", join(dir, "daemon.log")],
        ["daemon.json", "read", join(dir, "daemon.json")],
        ["output.log", "read", join(dir, "runs", run.id, "1", "output.log")],
        ["env", "read", join(dir, "runs", run.id, "env")],
        ["list home", "list", dir],
        ["list runs", "list", join(dir, "runs")],
      ];
      for (const [, , path] of targets) expect(existsSync(path), path).toBe(true);
      const refusedAll = Object.fromEntries(targets.map(([label]) => [label, "EACCES"]));
      expect(probe(targets)).toEqual(refusedAll);

      // Each file is closed on its own, not only by its folder: with the folders opened to be
      // passed through (0711), every probe is still refused.
      const folders = [dir, join(dir, "runs"), join(dir, "runs", run.id), join(dir, "runs", run.id, "1")];
      for (const folder of folders) chmodSync(folder, 0o711);
      try {
        expect(probe([["home", "stat", join(dir, "baton.db")]])).toEqual({ home: "ok" }); // it can reach them
        expect(probe(targets)).toEqual(refusedAll);
      } finally {
        for (const folder of folders) chmodSync(folder, 0o700);
      }

      // Every file and folder of the home: the caller's, 0600 (sockets too) and 0700.
      const wrong: string[] = [];
      const walk = (path: string): void => {
        const stat = lstatSync(path);
        const mode = stat.mode & 0o7777;
        const want = stat.isDirectory() ? 0o700 : 0o600;
        if (stat.uid !== 0 || mode !== want || stat.isSymbolicLink())
          wrong.push(`${path}: uid ${stat.uid} mode ${mode.toString(8)}`);
        if (stat.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
      };
      walk(dir);
      expect(wrong).toEqual([]);
      expect(readdirSync(dir).sort()).toEqual(
        expect.arrayContaining(["baton.db", "daemon.log", "daemon.sock", "http-tokens.json", "runs"]),
      );
      cliJson(home, ["stop", run.id]);
      expect(cli(home, ["daemon", "stop"]).code).toBe(0);
    });
  },
);
