/**
 * A throwaway PostgreSQL cluster a test starts, restarts and removes itself, made with the
 * PostgreSQL binaries on the machine: never the shared server. When running as root, the cluster
 * runs as the `postgres` OS user (initdb refuses root).
 *
 * @example
 * const cluster = await startCluster();
 * … cluster.url …
 * await cluster.restart(2000);
 * await cluster.remove();
 */
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

function binDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => join(root, v, "bin")).find((dir) => existsSync(join(dir, "initdb")));
}

const BIN = binDir();
const IS_ROOT = process.getuid?.() === 0;

function postgresUid(): { uid: number; gid: number } | undefined {
  try {
    const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    return undefined;
  }
}

/** Why a throwaway cluster cannot be made here, or undefined when it can. */
export function clusterUnavailable(): string | undefined {
  if (BIN === undefined) return "no PostgreSQL binaries under /usr/lib/postgresql/*/bin";
  if (IS_ROOT && postgresUid() === undefined) return "running as root and there is no postgres OS user";
  return undefined;
}

function run(tool: string, args: string[]): string {
  const bin = join(BIN!, tool);
  return IS_ROOT
    ? execFileSync("runuser", ["-u", "postgres", "--", bin, ...args], { encoding: "utf8", stdio: "pipe" })
    : execFileSync(bin, args, { encoding: "utf8", stdio: "pipe" });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no free port");
  return address.port;
}

export interface Cluster {
  url: string;
  /** Stop the server at once (as a crash would), stay down `downMs`, start it again. */
  restart(downMs: number): Promise<void>;
  remove(): Promise<void>;
}

export async function startCluster(): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), "baton-pg-cluster-"));
  if (IS_ROOT) {
    const owner = postgresUid()!;
    chownSync(dir, owner.uid, owner.gid);
  }
  const data = join(dir, "data");
  const port = await freePort();
  run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`;
  const start = () =>
    run("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "server.log"), "-w", "-t", "60", "start"]);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async restart(downMs) {
      run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      await new Promise((resolve) => setTimeout(resolve, downMs));
      start();
    },
    async remove() {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
