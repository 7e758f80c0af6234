/**
 * `baton install-mcp` against each host's own file format and, where the host program runs offline,
 * its own parser: Claude Code, Codex, Gemini CLI and opencode are installed from npm and asked
 * `mcp list` about the file baton wrote (pre-existing comments, inline tables and other servers
 * included). Also: opencode as a host, the ledger's variables for Codex (which drops the caller's
 * environment), detection by program on the PATH, a Gemini file that Gemini itself would refuse,
 * and what the user must still do.
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { parse as parseJsonc } from "jsonc-parser";
import { beforeAll, describe, expect, it } from "vitest";
import { BIN, baton, envelope } from "./helpers/cli.js";
import type { HostProgram } from "./helpers/host-clis.js";
import { installHostClis, runHost } from "./helpers/host-clis.js";
import { tempDir } from "./helpers/tmp.js";

interface Box {
  home: string;
  project: string;
  bin: string;
  env: NodeJS.ProcessEnv;
  install(args: string[], extraEnv?: NodeJS.ProcessEnv): { code: number; stdout: string; stderr: string };
  read(path: string): string;
  write(path: string, text: string): void;
}

/** A temporary HOME with a git project and a `baton` wrapper on the PATH (as a user's install has). */
function box(batonHome?: string): Box {
  const home = tempDir("baton-hosts-");
  const project = join(home, "work", "app");
  mkdirSync(join(project, ".git"), { recursive: true });
  const bin = join(home, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "baton"), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(join(bin, "baton"), 0o755);
  const env: NodeJS.ProcessEnv = {
    HOME: home,
    XDG_CONFIG_HOME: "",
    APPDATA: "",
    CODEX_HOME: "",
    PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`,
    BATON_DATABASE_URL: "",
  };
  return {
    home,
    project,
    bin,
    env,
    install: (args, extraEnv = {}) =>
      baton(["install-mcp", "--command", "baton", ...args], {
        home: batonHome ?? join(home, ".baton"),
        cwd: project,
        env: { ...env, ...extraEnv },
      }),
    read: (path) => readFileSync(join(home, path), "utf8"),
    write: (path, text) => {
      mkdirSync(dirname(join(home, path)), { recursive: true });
      writeFileSync(join(home, path), text);
    },
  };
}

describe.runIf(process.platform === "linux")("install-mcp: host formats", () => {
  it("opencode: an `mcp` entry of type local with the command as an array, beside the user's servers and comments", () => {
    const b = box();
    const before = `{
  // my opencode settings
  "$schema": "https://opencode.ai/config.json",
  "mcp": {
    "docs": { "type": "remote", "url": "https://example.com/mcp", "enabled": true },
  },
}
`;
    b.write(".config/opencode/opencode.json", before);
    const first = b.install(["--host", "opencode", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    expect(b.read(".config/opencode/opencode.json")).toBe(`{
  // my opencode settings
  "$schema": "https://opencode.ai/config.json",
  "mcp": {
    "docs": { "type": "remote", "url": "https://example.com/mcp", "enabled": true },
    "baton": {
      "type": "local",
      "command": ["baton", "mcp"],
      "enabled": true
    },
  },
}
`);
    expect(b.install(["--host", "opencode"]).stdout).toContain("opencode: unchanged");
    // Project scope: opencode.json at the project root.
    expect(b.install(["--host", "opencode", "--scope", "project"]).code).toBe(0);
    expect(JSON.parse(b.read("work/app/opencode.json")).mcp.baton.command).toEqual(["baton", "mcp"]);
  });

  it("codex: the ledger's variables go into the entry (BATON_HOME as a path, a password URL only by name)", () => {
    const ledger = tempDir("baton-ledger-");
    const b = box(ledger);
    const plain = b.install(["--host", "codex", "--json"], {
      BATON_DATABASE_URL: "postgres://baton@db.internal:5432/work",
    });
    expect(plain.code, plain.stderr).toBe(0);
    expect(b.read(".codex/config.toml")).toBe(
      `[mcp_servers.baton]\ncommand = "baton"\nargs = ["mcp"]\nenv = { BATON_HOME = "${ledger}", BATON_DATABASE_URL = "postgres://baton@db.internal:5432/work" }\n`,
    );
    const secret = b.install(["--host", "codex"], {
      BATON_DATABASE_URL: "postgres://baton:hunter2@db.internal:5432/work",
    });
    expect(secret.code, secret.stderr).toBe(0);
    const text = b.read(".codex/config.toml");
    expect(text).not.toContain("hunter2");
    expect(text).toContain('env_vars = ["BATON_DATABASE_URL"]');
    expect(secret.stdout).toContain("BATON_DATABASE_URL holds a password, so only its name is written");
  });

  it("codex (issue 21b F2, D150): baton's ledger variables follow the installer's environment, each change said; the user's own keys stay", () => {
    const ledger = tempDir("baton-ledger-");
    const b = box(ledger);
    const file = ".codex/config.toml";
    b.write(
      file,
      `[mcp_servers.baton]\ncommand = "baton"\nargs = ["mcp"]\nenv = { A = "1" }\nenv_vars = ["MY_TOKEN"]\n`,
    );
    expect(b.install(["--host", "codex"], { BATON_DATABASE_URL: "postgres://db.internal/a" }).code).toBe(0);
    expect(b.read(file)).toBe(
      `[mcp_servers.baton]\ncommand = "baton"\nargs = ["mcp"]\nenv = { A = "1", BATON_HOME = "${ledger}", BATON_DATABASE_URL = "postgres://db.internal/a" }\nenv_vars = ["MY_TOKEN"]\n`,
    );
    // A URL with a password: its name only, and the old value leaves env (Codex would list it twice).
    const secret = b.install(["--host", "codex"], {
      BATON_DATABASE_URL: "postgres://u:hunter2@db.internal/a",
    });
    expect(secret.code, secret.stderr).toBe(0);
    expect(b.read(file)).toBe(
      `[mcp_servers.baton]\ncommand = "baton"\nargs = ["mcp"]\nenv = { A = "1", BATON_HOME = "${ledger}" }\nenv_vars = ["MY_TOKEN", "BATON_DATABASE_URL"]\n`,
    );
    expect(secret.stdout).toContain(
      `note: codex: baton's entry: env.BATON_DATABASE_URL was "postgres://db.internal/a", removed (it follows the installer's environment, D150)`,
    );
    expect(secret.stdout).toContain(
      `note: codex: baton's entry: env_vars was ["MY_TOKEN"], now ["MY_TOKEN", "BATON_DATABASE_URL"]`,
    );
    expect(secret.stdout + secret.stderr).not.toContain("hunter2");
    // No URL, and the default BATON_HOME: both leave the entry; the user's A and MY_TOKEN stay.
    const plain = baton(["install-mcp", "--command", "baton", "--host", "codex"], {
      home: join(b.home, ".baton"),
      cwd: b.project,
      env: b.env,
    });
    expect(plain.code, plain.stderr).toBe(0);
    expect(b.read(file)).toBe(
      `[mcp_servers.baton]\ncommand = "baton"\nargs = ["mcp"]\nenv = { A = "1" }\nenv_vars = ["MY_TOKEN"]\n`,
    );
    expect(plain.stdout).toContain(`note: codex: baton's entry: env.BATON_HOME was "${ledger}", removed`);
    expect(plain.stdout).toContain(
      `note: codex: baton's entry: env_vars was ["MY_TOKEN", "BATON_DATABASE_URL"], now ["MY_TOKEN"]`,
    );
    // The same in a [mcp_servers.baton.env] table, and env_vars removed when only baton's name was in it.
    b.write(
      file,
      `[mcp_servers.baton]\ncommand = "baton"\nargs = ["mcp"]\nenv_vars = ["BATON_DATABASE_URL"]\n\n[mcp_servers.baton.env]\nBATON_DATABASE_URL = "postgres://db.internal/a"\nA = "1"\n`,
    );
    const again = baton(["install-mcp", "--command", "baton", "--host", "codex"], {
      home: join(b.home, ".baton"),
      cwd: b.project,
      env: b.env,
    });
    expect(again.code, again.stderr).toBe(0);
    expect(b.read(file)).toBe(
      `[mcp_servers.baton]\ncommand = "baton"\nargs = ["mcp"]\n\n[mcp_servers.baton.env]\nA = "1"\n`,
    );
    expect(again.stdout).toContain(
      `note: codex: baton's entry: env_vars was ["BATON_DATABASE_URL"], removed`,
    );
    expect(again.stdout).toContain(
      `note: codex: baton's entry: env.BATON_DATABASE_URL was "postgres://db.internal/a", removed`,
    );
  });

  it("codex: an inline entry keeps every key (its env too) — the finding", () => {
    const b = box();
    b.write(
      ".codex/config.toml",
      `[mcp_servers]\nbaton = { command = "old", args = ["mcp"], env = { A = "1" } }\n`,
    );
    expect(b.install(["--host", "codex"]).code).toBe(0);
    expect(b.read(".codex/config.toml")).toBe(
      `[mcp_servers]\nbaton = { command = "baton", args = ["mcp"], env = { A = "1" } }\n`,
    );
  });

  it("--all finds a host by its program on the PATH even without its config folder", () => {
    const b = box();
    writeFileSync(join(b.bin, "codex"), "#!/bin/sh\nexit 0\n");
    chmodSync(join(b.bin, "codex"), 0o755);
    // Only the box's bin on the PATH: a host CLI installed on the machine (/usr/bin/gemini) is
    // found too, rightly, and would make this test depend on the machine.
    const result = b.install(["--all", "--json"], { PATH: b.bin });
    expect(result.code, result.stderr).toBe(0);
    expect(envelope(result).data.changes.map((c: { label: string }) => c.label)).toEqual(["codex"]);
  });

  it("warns when the host would refuse the file as it stands (Gemini and a trailing comma), and says what is left to do", () => {
    const b = box();
    b.write(".gemini/settings.json", `{\n  // mine\n  "theme": "dark",\n  "mcpServers": {},\n}\n`);
    const result = b.install(["--host", "gemini"]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /warning: gemini: Gemini CLI will refuse this file: a trailing comma near line \d+/,
    );
    expect(result.stdout).toContain("still to do:");
    expect(result.stdout).toContain("trusted folder");
    // Comments alone are fine for Gemini: no warning.
    const clean = box();
    clean.write(".gemini/settings.json", `{\n  // mine\n  "theme": "dark"\n}\n`);
    expect(clean.install(["--host", "gemini"]).stderr).toBe("");
    // Claude Code's project server needs approval, unless --trust writes Claude Code's own switch.
    const claude = b.install(["--host", "claude-code", "--scope", "project", "--json"]);
    expect(envelope(claude).data.nextSteps[0].message).toMatch(/Pending approval/);
    const trusted = b.install(["--host", "claude-code", "--scope", "project", "--trust", "--json"]);
    expect(envelope(trusted).data.nextSteps).toEqual([]);
    expect(JSON.parse(b.read("work/app/.claude/settings.local.json"))).toEqual({
      enabledMcpjsonServers: ["baton"],
    });
    // --trust is off by default: no "trust" key unless asked for.
    expect(parseJsonc(clean.read(".gemini/settings.json")).mcpServers.baton.trust).toBeUndefined();
    clean.install(["--host", "gemini", "--trust"]);
    expect(parseJsonc(clean.read(".gemini/settings.json")).mcpServers.baton.trust).toBe(true);
  });

  it("security (D108, red team finding 3): rewriting an entry grants exactly this call's approval: an earlier --trust does not carry over to --tools full", () => {
    const b = box();
    expect(b.install(["--host", "gemini", "--trust"]).code).toBe(0);
    expect(parseJsonc(b.read(".gemini/settings.json")).mcpServers.baton.trust).toBe(true);
    expect(b.install(["--host", "gemini", "--tools", "full"]).code).toBe(0);
    const gemini = parseJsonc(b.read(".gemini/settings.json")).mcpServers.baton;
    expect(gemini.args).toContain("full");
    expect(gemini.trust).toBeUndefined();
    b.install(["--host", "gemini", "--trust"]);
    b.install(["--host", "gemini"]); // no --trust: no trust, even for the default tools
    expect(parseJsonc(b.read(".gemini/settings.json")).mcpServers.baton.trust).toBeUndefined();

    // Claude Code: the project approval --trust wrote is withdrawn by a call without it.
    b.install(["--host", "claude-code", "--scope", "project", "--trust"]);
    b.write("work/app/.claude/settings.local.json", '{ "enabledMcpjsonServers": ["other", "baton"] }\n');
    expect(b.install(["--host", "claude-code", "--scope", "project", "--tools", "full"]).code).toBe(0);
    expect(JSON.parse(b.read("work/app/.claude/settings.local.json"))).toEqual({
      enabledMcpjsonServers: ["other"],
    });

    // opencode (and any JSON host): approve keys on baton's entry are not kept either.
    b.write(
      "work/app/opencode.json",
      JSON.stringify({
        mcp: {
          baton: {
            type: "local",
            command: ["baton", "mcp"],
            enabled: true,
            trust: true,
            autoApprove: ["run_command"],
            alwaysAllow: ["run_command"],
          },
        },
      }),
    );
    expect(b.install(["--host", "opencode", "--scope", "project", "--tools", "full"]).code).toBe(0);
    const opencode = JSON.parse(b.read("work/app/opencode.json")).mcp.baton;
    expect(opencode.command).toContain("full");
    expect(opencode).not.toHaveProperty("trust");
    expect(opencode).not.toHaveProperty("autoApprove");
    expect(opencode).not.toHaveProperty("alwaysAllow");

    // Codex: baton writes no approve key (Codex asks by its global approval policy); the entry stays free of one.
    b.install(["--host", "codex", "--tools", "full"]);
    expect(b.read(".codex/config.toml")).not.toMatch(/trust|approve/i);
  });
});

describe.runIf(process.platform === "linux")(
  "install-mcp: what the user already had (issue 21, F4–F8)",
  () => {
    /** Each JSON host, its user file (HOME-relative) and where its servers sit. */
    const JSON_HOSTS = [
      ["vscode", ".config/Code/User/mcp.json", "servers"],
      ["claude-code", ".claude.json", "mcpServers"],
      ["claude-desktop", ".config/Claude/claude_desktop_config.json", "mcpServers"],
      ["cursor", ".cursor/mcp.json", "mcpServers"],
      ["windsurf", ".codeium/windsurf/mcp_config.json", "mcpServers"],
      ["gemini", ".gemini/settings.json", "mcpServers"],
      [
        "cline",
        ".config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
        "mcpServers",
      ],
      ["zed", ".config/zed/settings.json", "context_servers"],
      ["opencode", ".config/opencode/opencode.json", "mcp"],
    ].map(([host, path, servers]) => ({
      host: host!,
      path: path!,
      servers: servers!,
      env: host === "opencode" ? "environment" : "env",
    }));
    const userEnv = { BATON_DATABASE_URL: "postgres://db.internal/work", KEEP: "1" };

    it("F4: every JSON host keeps the variables and other keys of baton's entry (Zed replaced its env with {})", () => {
      for (const h of JSON_HOSTS) {
        const b = box();
        const before = {
          theme: "dark",
          [h.servers]: {
            other: { command: "other-mcp" },
            baton: { command: "old", [h.env]: userEnv, timeout: 30 },
          },
        };
        b.write(h.path, `${JSON.stringify(before, null, 2)}\n`);
        const result = b.install(["--host", h.host]);
        expect(result.code, `${h.host}: ${result.stderr}`).toBe(0);
        const after = JSON.parse(b.read(h.path)) as Record<string, Record<string, Record<string, unknown>>>;
        expect(after.theme, h.host).toBe("dark");
        expect(after[h.servers]!.other, h.host).toEqual({ command: "other-mcp" });
        expect(after[h.servers]!.baton![h.env], h.host).toEqual(userEnv);
        expect(after[h.servers]!.baton!.timeout, h.host).toBe(30);
        expect(b.install(["--host", h.host]).stdout, h.host).toContain(`${h.host}: unchanged`);
      }
    });

    it("F5: Codex dotted keys defining the entry are refused, naming the line, and the file is left as it was", () => {
      const cases = [
        { text: `model = "o3"\nmcp_servers.baton.command = "old"\n`, line: 2 },
        {
          text: `[mcp_servers]\ndocs = { command = "d" }\nbaton.command = "old"\nbaton.args = ["mcp"]\n`,
          line: 3,
        },
        { text: `mcp_servers = { baton = { command = "old" } }\n`, line: 1 },
        { text: `[mcp_servers.baton]\ncommand = "old"\nenv.A = "1"\n`, line: 3, env: true },
      ];
      for (const c of cases) {
        const ledger = tempDir("baton-ledger-");
        const b = box(ledger);
        b.write(".codex/config.toml", c.text);
        // With a ledger elsewhere, baton writes `env`: beside `env.A = …` that would be a second definition.
        const result = b.install(["--host", "codex", "--json"]);
        expect(result.code, c.text).toBe(2);
        expect(envelope(result).error?.code).toBe("INVALID_INPUT");
        expect(envelope(result).error?.message).toContain(`line ${c.line} (`);
        expect(b.read(".codex/config.toml")).toBe(c.text);
        expect(c.env === true || !envelope(result).error?.message.includes("beside")).toBe(true);
      }
    });

    it("issue 21b F6: a link loop, a link to a folder, an inline mcp_servers without baton and [[mcp_servers.baton]] are refused with the real reason", () => {
      const b = box();
      mkdirSync(join(b.home, ".cursor"));
      symlinkSync(join(b.home, ".cursor/mcp.json"), join(b.home, ".cursor/mcp.json"));
      const loop = b.install(["--host", "cursor", "--json"]);
      expect(loop.code, loop.stderr).toBe(2);
      expect(envelope(loop).error?.code).toBe("INVALID_INPUT");
      expect(envelope(loop).error?.message).toMatch(/mcp\.json is a symbolic link that leads back to itself/);
      mkdirSync(join(b.home, "somewhere"));
      mkdirSync(join(b.home, ".gemini"));
      symlinkSync(join(b.home, "somewhere"), join(b.home, ".gemini/settings.json"));
      const folder = b.install(["--host", "gemini", "--json"]);
      expect(folder.code, folder.stderr).toBe(2);
      expect(envelope(folder).error?.code).toBe("INVALID_INPUT");
      expect(envelope(folder).error?.message).toMatch(/settings\.json is a directory/);

      const cases = [
        {
          text: `model = "o3"\nmcp_servers = { docs = { command = "d" } }\n`,
          message: /line 2 \(.*\) defines mcp_servers as one value \(an inline table or a dotted key\)/,
        },
        {
          text: `[[mcp_servers.baton]]\ncommand = "old"\n`,
          message: /line 1 \(`\[\[mcp_servers\.baton\]\]`\) makes mcp_servers\.baton an array of tables/,
        },
      ];
      for (const c of cases) {
        b.write(".codex/config.toml", c.text);
        const result = b.install(["--host", "codex", "--json"]);
        expect(result.code, c.text).toBe(2);
        expect(envelope(result).error?.code).toBe("INVALID_INPUT");
        expect(envelope(result).error?.message).toMatch(c.message);
        expect(b.read(".codex/config.toml")).toBe(c.text);
      }
    });

    it("issue 21b F5: an old HTTP entry's address, headers and type are removed when baton writes its command, each said, no header value printed", () => {
      const http = { httpUrl: "http://127.0.0.1:7737/mcp", headers: { Authorization: "Bearer secret" } };
      const cases = [
        { host: "gemini", path: ".gemini/settings.json", servers: "mcpServers", old: http, keep: {} },
        {
          host: "claude-code",
          path: ".claude.json",
          servers: "mcpServers",
          old: { type: "sse", url: "http://127.0.0.1:7737/sse", headers: http.headers, timeout: 5 },
          keep: { type: "stdio", timeout: 5 },
        },
        {
          host: "opencode",
          path: ".config/opencode/opencode.json",
          servers: "mcp",
          old: { type: "remote", url: "http://127.0.0.1:7737/mcp", headers: http.headers },
          keep: { type: "local" },
        },
      ];
      for (const c of cases) {
        const b = box();
        b.write(c.path, JSON.stringify({ [c.servers]: { baton: c.old } }));
        const result = b.install(["--host", c.host]);
        expect(result.code, `${c.host}: ${result.stderr}`).toBe(0);
        const entry = (JSON.parse(b.read(c.path)) as Record<string, Record<string, Record<string, unknown>>>)[
          c.servers
        ]!.baton!;
        expect(
          Object.keys(entry).filter((k) => ["url", "httpUrl", "headers"].includes(k)),
          c.host,
        ).toEqual([]);
        expect(entry, c.host).toMatchObject(c.keep);
        expect(JSON.stringify(entry), c.host).toMatch(/"mcp"/);
        for (const key of Object.keys(c.old).filter((k) => !(k in c.keep)))
          expect(result.stdout, c.host).toContain(`note: ${c.host}: removed \`${key}\``);
        expect(result.stdout + result.stderr, c.host).not.toContain("secret");
        expect(b.install(["--host", c.host]).stdout, c.host).toContain(`${c.host}: unchanged`);
      }
    });

    it("issue 21b F5: Codex's HTTP keys (url, bearer_token_env_var, http_headers) leave baton's entry, each said by name", () => {
      const b = box();
      b.write(
        ".codex/config.toml",
        `[mcp_servers.baton]\nurl = "http://127.0.0.1:7737/mcp?t=secret"\nbearer_token_env_var = "TOKEN"\nhttp_headers = { X = "secret" }\nstartup_timeout_sec = 5\n`,
      );
      const result = b.install(["--host", "codex"]);
      expect(result.code, result.stderr).toBe(0);
      expect(b.read(".codex/config.toml")).toBe(
        `[mcp_servers.baton]\nstartup_timeout_sec = 5\ncommand = "baton"\nargs = ["mcp"]\n`,
      );
      for (const key of ["url", "bearer_token_env_var", "http_headers"])
        expect(result.stdout).toContain(`note: codex: removed \`${key}\` from baton's entry`);
      expect(result.stdout + result.stderr).not.toContain("secret");
    });

    it("Codex's HTTP keys as sub-tables, bearer_token and oauth_resource leave baton's entry too (stranger s21i: Codex refuses them on a stdio server)", () => {
      const b = box();
      b.write(
        ".codex/config.toml",
        `[mcp_servers.baton]\nurl = "http://127.0.0.1:7737/mcp"\nbearer_token = "secret1"\noauth_resource = "r"\n\n` +
          `[mcp_servers.baton.http_headers]\nAuthorization = "Bearer secret2"\n\n` +
          `[mcp_servers.baton.env_http_headers]\nX = "SECRET_VAR"\n\n[mcp_servers.docs]\ncommand = "docs"\n`,
      );
      const result = b.install(["--host", "codex"]);
      expect(result.code, result.stderr).toBe(0);
      expect(b.read(".codex/config.toml")).toBe(
        `[mcp_servers.baton]\ncommand = "baton"\nargs = ["mcp"]\n\n[mcp_servers.docs]\ncommand = "docs"\n`,
      );
      for (const key of ["url", "bearer_token", "oauth_resource", "http_headers", "env_http_headers"])
        expect(result.stdout).toContain(`note: codex: removed \`${key}\` from baton's entry`);
      expect(result.stdout + result.stderr).not.toMatch(/secret|SECRET/);
      expect(b.install(["--host", "codex"]).stdout).toContain("unchanged");
    });

    const root = process.getuid?.() === 0;
    it.skipIf(!root)(
      "issue 21b F3: as root with another user's HOME, a rewritten config keeps its owner and new folders and files get the folder's owner (skipped when not root: only root can chown)",
      () => {
        const nobody = 65534;
        const b = box();
        b.write(".codex/config.toml", `model = "o3"\n`);
        chmodSync(join(b.home, ".codex/config.toml"), 0o600);
        for (const path of ["", ".codex", ".codex/config.toml"])
          chownSync(join(b.home, path), nobody, nobody);
        const result = b.install(["--host", "codex", "--host", "gemini"]);
        expect(result.code, result.stderr).toBe(0);
        for (const path of [
          ".codex/config.toml",
          ".gemini",
          ".gemini/settings.json",
          ".baton",
          ".baton/backups",
        ]) {
          const stat = statSync(join(b.home, path));
          expect([path, stat.uid, stat.gid]).toEqual([path, nobody, nobody]);
        }
        expect(statSync(join(b.home, ".codex/config.toml")).mode & 0o777).toBe(0o600);
        const backups = readdirSync(join(b.home, ".baton/backups"));
        expect(backups.length).toBe(1);
        expect(statSync(join(b.home, ".baton/backups", backups[0]!)).uid).toBe(nobody);
      },
    );

    it("F6 (D147): a symlinked config is written through to the link's target, keeping its mode; the link stays; a dangling link is refused", () => {
      const b = box();
      b.write("dotfiles/gemini.json", `{\n  "theme": "dark"\n}\n`);
      chmodSync(join(b.home, "dotfiles/gemini.json"), 0o600);
      mkdirSync(join(b.home, ".gemini"));
      symlinkSync(join(b.home, "dotfiles/gemini.json"), join(b.home, ".gemini/settings.json"));
      const result = b.install(["--host", "gemini"]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(
        "gemini: updated ~/.gemini/settings.json (a link: wrote its target ~/dotfiles/gemini.json)",
      );
      expect(lstatSync(join(b.home, ".gemini/settings.json")).isSymbolicLink()).toBe(true);
      const target = JSON.parse(b.read("dotfiles/gemini.json"));
      expect(target).toMatchObject({ theme: "dark", mcpServers: { baton: { command: "baton" } } });
      expect(statSync(join(b.home, "dotfiles/gemini.json")).mode & 0o777).toBe(0o600);
      expect(readdirSync(join(b.home, "dotfiles"))).toEqual(["gemini.json"]);

      const dangling = box();
      mkdirSync(join(dangling.home, ".cursor"));
      symlinkSync(join(dangling.home, "dotfiles/missing.json"), join(dangling.home, ".cursor/mcp.json"));
      const refused = dangling.install(["--host", "cursor", "--json"]);
      expect(refused.code).toBe(2);
      expect(envelope(refused).error?.message).toMatch(
        /is a symbolic link to .*missing\.json, which does not exist/,
      );
      expect(existsSync(join(dangling.home, "dotfiles"))).toBe(false);
    });

    it("F7: an unreadable TOML value, a duplicate JSON key and a servers value that is not an object are refused; a BOM is kept", () => {
      for (const text of [
        `[mcp_servers]\nbaton = { command = "old", env = { A = 1 + 2 } }\n`,
        `[mcp_servers.baton]\ncommand = "old"\nenv = { A = 1 + 2 }\n`,
        `[mcp_servers.baton]\ncommand = "old"\nargs = ["mcp", oops]\n`,
      ]) {
        const b = box();
        b.write(".codex/config.toml", text);
        const result = b.install(["--host", "codex", "--json"]);
        expect(result.code, text).toBe(2);
        expect(envelope(result).error?.message).toMatch(/line \d+ .* is not a TOML value baton can read/);
        expect(b.read(".codex/config.toml")).toBe(text);
      }
      const refusals = [
        {
          text: `{\n  "mcpServers": {\n    "baton": { "command": "a" },\n    "baton": { "command": "b" }\n  }\n}\n`,
          message: /"mcpServers\.baton" is given twice \(lines 3 and 4; hosts read the last\)/,
        },
        {
          text: `{ "mcpServers": {}, "mcpServers": { "x": { "command": "x" } } }\n`,
          message: /"mcpServers" is given twice/,
        },
        { text: `{ "mcpServers": [] }\n`, message: /"mcpServers" is an array, not an object/ },
        { text: `{ "mcpServers": null }\n`, message: /"mcpServers" is null, not an object/ },
        {
          text: `{ "mcpServers": { "baton": "x" } }\n`,
          message: /"mcpServers\.baton" is a string, not an object/,
        },
      ];
      for (const r of refusals) {
        const b = box();
        b.write(".cursor/mcp.json", r.text);
        const result = b.install(["--host", "cursor", "--json"]);
        expect(result.code, r.text).toBe(2);
        expect(envelope(result).error?.message).toMatch(r.message);
        expect(b.read(".cursor/mcp.json")).toBe(r.text);
      }
      const bom = box();
      bom.write(".cursor/mcp.json", `\uFEFF{\n  "mcpServers": {}\n}\n`);
      const result = bom.install(["--host", "cursor"]);
      expect(result.code, result.stderr).toBe(0);
      const text = bom.read(".cursor/mcp.json");
      expect(text.startsWith("\uFEFF{")).toBe(true);
      expect(JSON.parse(text.slice(1)).mcpServers.baton.command).toBe("baton");
      expect(bom.install(["--host", "cursor"]).stdout).toContain("cursor: unchanged");
    });

    it("F8: what a re-run changes in baton's entry is said; an off switch the user set stays off", () => {
      const b = box();
      b.install(["--host", "gemini", "--trust"]);
      const gemini = b.install(["--host", "gemini"]);
      expect(gemini.stdout).toMatch(
        /note: gemini: removed `trust` from baton's entry: an install grants only the approval it is asked for \(D108\); --trust sets/,
      );

      b.install(["--host", "claude-code", "--scope", "project", "--trust"]);
      const claude = b.install(["--host", "claude-code", "--scope", "project", "--json"]);
      expect(envelope(claude).data.notices[0].message).toMatch(/removed baton from enabledMcpjsonServers/);

      b.write(
        ".config/opencode/opencode.json",
        JSON.stringify({ mcp: { baton: { type: "local", command: ["baton", "mcp"], enabled: false } } }),
      );
      const opencode = b.install(["--host", "opencode"]);
      expect(opencode.stdout).toContain("note: opencode: kept `enabled: false`");
      expect(JSON.parse(b.read(".config/opencode/opencode.json")).mcp.baton.enabled).toBe(false);
      expect(b.install(["--host", "opencode"]).stdout).toContain("opencode: unchanged");

      b.write(
        ".codex/config.toml",
        `[mcp_servers.baton]\ncommand = "baton"\nargs = ["mcp", "--tools", "full"]\n`,
      );
      const codex = b.install(["--host", "codex"]);
      expect(codex.stdout).toContain(
        `note: codex: baton's entry: args was ["mcp", "--tools", "full"], now ["mcp"] (the default tool set: pass --tools full to keep the full one)`,
      );
      b.write(
        ".cursor/mcp.json",
        JSON.stringify({ mcpServers: { baton: { command: "/old/baton", args: ["mcp"], disabled: true } } }),
      );
      const cursor = b.install(["--host", "cursor"]);
      expect(cursor.stdout).toContain(`note: cursor: baton's entry: command was "/old/baton", now "baton"`);
      expect(cursor.stdout).toContain("note: cursor: kept `disabled: true`");
    });
  },
);

describe.runIf(process.platform === "linux")("install-mcp: the hosts' own parsers accept the result", () => {
  let clis = "";
  beforeAll(() => {
    clis = installHostClis();
  }, 420_000);

  const host = (b: Box, program: HostProgram, args: string[]) =>
    runHost(clis, program, args, { cwd: b.project, env: b.env });

  it("Claude Code: `claude mcp list` reads ~/.claude.json and a project .mcp.json, other servers kept", () => {
    const b = box();
    b.write(
      ".claude.json",
      `{\n  "numStartups": 3,\n  "mcpServers": {\n    "other": { "type": "stdio", "command": "true", "args": [] }\n  }\n}\n`,
    );
    expect(b.install(["--host", "claude-code"]).code).toBe(0);
    const user = host(b, "claude", ["mcp", "list"]);
    expect(user.out).toMatch(/baton: baton mcp - . Connected/);
    expect(user.out).toMatch(/other: true/);
    expect(b.install(["--host", "claude-code", "--scope", "project"]).code).toBe(0);
    const project = host(b, "claude", ["mcp", "get", "baton"]);
    expect(project.out).not.toMatch(/Failed to parse|not a valid JSON/);
    expect(project.out).toMatch(/baton/);
  }, 120_000);

  it("Codex: `codex mcp list --json` sees baton's entry with the ledger's env, beside an inline server and comments", () => {
    const ledger = tempDir("baton-ledger-");
    const b = box(ledger);
    b.write(
      ".codex/config.toml",
      `# my codex\nmodel = "o3"\n\n[mcp_servers]\ndocs = { command = "docs-mcp", args = [] } # keep\nbaton = { command = "old", args = [], env = { A = "1" }, startup_timeout_sec = 20 }\n`,
    );
    expect(
      b.install(["--host", "codex"], { BATON_DATABASE_URL: "postgres://u:secret@127.0.0.1/db" }).code,
    ).toBe(0);
    expect(b.read(".codex/config.toml")).toContain("# keep");
    const listed = host(b, "codex", ["mcp", "list", "--json"]);
    const servers = JSON.parse(listed.stdout) as {
      name: string;
      transport: Record<string, unknown>;
      startup_timeout_sec: number | null;
    }[];
    const entry = servers.find((s) => s.name === "baton")!;
    expect(entry.transport).toMatchObject({
      command: "baton",
      args: ["mcp"],
      env: { A: "1", BATON_HOME: ledger },
      env_vars: ["BATON_DATABASE_URL"],
    });
    expect(entry.startup_timeout_sec).toBe(20);
    expect(servers.map((s) => s.name).sort()).toEqual(["baton", "docs"]);
  }, 120_000);

  it("Codex and Claude Code read what baton wrote beside dotted sibling keys, into a quoted table, and after a BOM (issue 21)", () => {
    const b = box();
    const before = `model = "o3"\nmcp_servers.docs.command = "docs-mcp"\n\n[mcp_servers."baton"]\ncommand = "old"\nargs = ["mcp"]\n`;
    b.write(".codex/config.toml", before);
    expect(b.install(["--host", "codex"]).code).toBe(0);
    expect(b.read(".codex/config.toml")).toBe(before.replace(`"old"`, `"baton"`));
    const servers = JSON.parse(host(b, "codex", ["mcp", "list", "--json"]).stdout) as { name: string }[];
    expect(servers.map((s) => s.name).sort()).toEqual(["baton", "docs"]);
    b.write(".claude.json", `\uFEFF{\n  "numStartups": 3\n}\n`);
    expect(b.install(["--host", "claude-code"]).code).toBe(0);
    expect(b.read(".claude.json").startsWith("\uFEFF")).toBe(true);
    expect(host(b, "claude", ["mcp", "list"]).out).toMatch(/baton: baton mcp - . Connected/);
    // Gemini refuses a BOM: baton keeps the user's bytes and says so.
    b.write(".gemini/settings.json", `\uFEFF{}\n`);
    const gemini = b.install(["--host", "gemini"]);
    expect(gemini.stderr).toMatch(
      /warning: gemini: Gemini CLI will refuse this file: it starts with a byte-order mark/,
    );
    expect(host(b, "gemini", ["mcp", "list"]).out).toMatch(/is not valid JSON/);
  }, 180_000);

  it("Codex: a table header inside a multi-line string is text: baton edits the real table, or adds one (issue 21b F1)", () => {
    for (const q of [`"""`, `'''`]) {
      const b = box();
      const withTable = `instructions = ${q}\n[mcp_servers.baton] # not a comment\ncommand = "fake"\n${q}\n[mcp_servers.baton]\ncommand = "real"\nargs = ["mcp"]\n`;
      b.write(".codex/config.toml", withTable);
      expect(b.install(["--host", "codex"]).code, q).toBe(0);
      expect(b.read(".codex/config.toml"), q).toBe(withTable.replace(`"real"`, `"baton"`));
      let servers = JSON.parse(host(b, "codex", ["mcp", "list", "--json"]).stdout) as {
        name: string;
        transport: { command: string };
      }[];
      expect(
        servers.map((s) => [s.name, s.transport.command]),
        q,
      ).toEqual([["baton", "baton"]]);
      const onlyString = `notes = ${q}\n[mcp_servers.baton]\ncommand = "fake"\n${q}\n`;
      b.write(".codex/config.toml", onlyString);
      expect(b.install(["--host", "codex"]).code, q).toBe(0);
      expect(b.read(".codex/config.toml"), q).toBe(
        `${onlyString}\n[mcp_servers.baton]\ncommand = "baton"\nargs = ["mcp"]\n`,
      );
      servers = JSON.parse(host(b, "codex", ["mcp", "list", "--json"]).stdout) as typeof servers;
      expect(
        servers.map((s) => [s.name, s.transport.command]),
        q,
      ).toEqual([["baton", "baton"]]);
    }
  }, 180_000);

  it("Gemini CLI: `gemini mcp list` connects in a trusted folder; the file it would refuse is the one baton warned about", () => {
    const b = box();
    b.write(
      ".gemini/settings.json",
      `{\n  // mine\n  "mcpServers": {\n    "other": { "command": "true" }\n  }\n}\n`,
    );
    b.write(".gemini/trustedFolders.json", JSON.stringify({ [b.project]: "TRUST_FOLDER" }));
    expect(b.install(["--host", "gemini"]).code).toBe(0);
    expect(host(b, "gemini", ["mcp", "list"]).out).toMatch(/baton: baton mcp \(stdio\) - Connected/);
    const bad = box();
    bad.write(".gemini/settings.json", `{\n  "mcpServers": {},\n}\n`);
    bad.write(".gemini/trustedFolders.json", JSON.stringify({ [bad.project]: "TRUST_FOLDER" }));
    expect(bad.install(["--host", "gemini"]).stderr).toMatch(/warning: gemini/);
    expect(host(bad, "gemini", ["mcp", "list"]).out).toMatch(/Please fix the configuration file/);
  }, 120_000);

  it("Gemini CLI: the steps install-mcp says are left are the ones Gemini needs, and --trust is not one of them once given", () => {
    const b = box();
    const steps = (args: string[]) =>
      (envelope(b.install([...args, "--json"])).data.nextSteps as { host: string; message: string }[])
        .filter((n) => n.host === "gemini")
        .map((n) => n.message);
    const trusted = steps(["--host", "gemini", "--trust"]);
    expect(trusted).toEqual([
      "Gemini CLI: MCP servers (user-level ones too) are disabled in an untrusted folder: trust the folder when Gemini asks (or `/permissions`); headless, run `gemini --skip-trust -p …` or set GEMINI_CLI_TRUST_WORKSPACE=true",
    ]);
    expect(steps(["--host", "gemini"])).toEqual([
      trusted[0],
      "Gemini CLI: headless `gemini -p` offers only a trusted server's tools: run `baton install-mcp --host gemini --trust` for that (default tool set only)",
    ]);
    // What the first step says is what Gemini does: disabled in this (untrusted) folder, connected
    // once the workspace is trusted by the variable.
    expect(host(b, "gemini", ["mcp", "list"]).out).toMatch(/baton: baton mcp \(stdio\) - Disabled/);
    const viaEnv = runHost(clis, "gemini", ["mcp", "list"], {
      cwd: b.project,
      env: { ...b.env, GEMINI_CLI_TRUST_WORKSPACE: "true" },
    });
    expect(viaEnv.out).toMatch(/baton: baton mcp \(stdio\) - Connected/);
  }, 120_000);

  it("opencode: `opencode mcp list` validates the entry against its schema and connects", () => {
    const b = box();
    b.write(
      ".config/opencode/opencode.json",
      `{\n  // mine\n  "mcp": {\n    "other": { "type": "local", "command": ["true"], "enabled": false },\n  },\n}\n`,
    );
    expect(b.install(["--host", "opencode"]).code).toBe(0);
    const listed = host(b, "opencode", ["mcp", "list"]);
    expect(listed.out).not.toMatch(/Configuration is invalid/);
    expect(listed.out).toMatch(/✓ baton\s+connected/);
  }, 120_000);
});
