/**
 * baton as its users get it: the npm package (`baton-ledger`, since the npm name `baton` is someone
 * else's) packed with `npm pack`, installed into a fresh project from the tarball (its dependencies
 * from the npm registry), its CLI's demo run and its library imported; and the MCP Registry
 * metadata (`server.json`, `mcpName`) checked against the registry's documented rules.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.js";
import { tempDir } from "./helpers/tmp.js";

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  name: string;
  version: string;
  mcpName: string;
  bin: Record<string, string>;
};
const server = JSON.parse(readFileSync(join(ROOT, "server.json"), "utf8")) as {
  $schema: string;
  name: string;
  description: string;
  version: string;
  packages: {
    registryType: string;
    identifier: string;
    version: string;
    transport: { type: string };
    packageArguments?: { type: string; value: string }[];
    environmentVariables?: { name: string; isSecret?: boolean }[];
  }[];
};

describe("MCP Registry metadata", () => {
  it("server.json has the registry's required fields, and names this package and version", () => {
    // The registry's rules (server.schema.json): a reverse-DNS name with one slash, a description of
    // 1-100 characters, a concrete version, and per package its registry, identifier and transport.
    expect(server.$schema).toMatch(
      /^https:\/\/static\.modelcontextprotocol\.io\/schemas\/[\d-]+\/server\.schema\.json$/,
    );
    expect(server.name).toMatch(/^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._-]+$/);
    expect(server.name.length).toBeLessThanOrEqual(200);
    expect(server.description.length).toBeGreaterThan(0);
    expect(server.description.length).toBeLessThanOrEqual(100);
    expect(server.version).toBe(pkg.version);
    expect(server.version).not.toBe("latest");
    // npm packages are verified by the mcpName in package.json.
    expect(pkg.mcpName).toBe(server.name);
    expect(pkg.name).not.toBe("baton");
    expect(pkg.bin).toEqual({ baton: "bin/baton.js" });
    const [npm] = server.packages;
    expect(npm).toMatchObject({ registryType: "npm", identifier: pkg.name, version: pkg.version });
    expect(npm!.transport.type).toBe("stdio");
    // `npx baton-ledger mcp` is what a registry client runs.
    expect(npm!.packageArguments).toEqual([{ type: "positional", value: "mcp" }]);
    expect(npm!.environmentVariables?.find((v) => v.name === "BATON_DATABASE_URL")?.isSecret).toBe(true);
  });
});

describe.runIf(process.platform === "linux")("the npm package", () => {
  it("npm pack → installs into a fresh project → `baton demo` runs and the library imports", () => {
    const dir = tempDir("baton-pack-");
    const packed = spawnSync("npm", ["pack", "--pack-destination", dir, "--json"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 300_000,
    });
    expect(packed.status, packed.stderr).toBe(0);
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as {
      filename: string;
      files: { path: string }[];
    }[];
    const files = info!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(["bin/baton.js", "dist/index.js", "server.json"]));
    expect(files.some((f) => f.startsWith("src/") || f.startsWith("test/"))).toBe(false);

    const project = join(dir, "app");
    spawnSync("mkdir", ["-p", project]);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "app", private: true, type: "module" }),
    );
    const installed = spawnSync(
      "npm",
      ["install", "--no-audit", "--no-fund", "--loglevel=error", join(dir, info!.filename)],
      { cwd: project, encoding: "utf8", timeout: 600_000 },
    );
    expect(installed.status, installed.stderr).toBe(0);

    const env = { ...process.env, BATON_HOME: join(dir, "home"), NO_COLOR: "1" };
    const demo = spawnSync(join(project, "node_modules", ".bin", "baton"), ["demo"], {
      cwd: project,
      env,
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(demo.status, demo.stderr).toBe(0);
    expect(demo.stdout).toMatch(/Result: 20\/20 done, 0 lost, 0 done twice\./);

    writeFileSync(
      join(project, "use.mjs"),
      `import { openBaton } from "baton-ledger";
const baton = await openBaton({ home: process.argv[2] });
const [{ job }] = await baton.enqueue({ type: "note", payload: { hello: "world" } });
console.log(JSON.stringify({ state: job.state }));
await baton.close();
`,
    );
    const used = spawnSync(process.execPath, ["use.mjs", join(dir, "lib-home")], {
      cwd: project,
      env,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(used.status, used.stderr).toBe(0);
    expect(JSON.parse(used.stdout.trim())).toEqual({ state: "queued" });
  }, 900_000);
});
