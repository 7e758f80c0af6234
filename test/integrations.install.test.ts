/**
 * `baton install-mcp`, `skills install`, `instructions install` and `hooks install` run as the built
 * binary against a temporary HOME and project: golden files per host (config files with comments
 * and unrelated keys), run twice (the second run changes nothing and backs nothing up), and
 * `--dry-run` writes nothing.
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { validateSkill } from "../src/integrations/skills.js";
import { upsertTomlTable } from "../src/integrations/toml.js";
import type { CliResult } from "./helpers/cli.js";
import { baton, envelope } from "./helpers/cli.js";
import { tempDir } from "./helpers/tmp.js";

interface Sandbox {
  home: string;
  project: string;
  batonHome: string;
  run(args: string[]): CliResult;
  read(relativeToHome: string): string;
  write(relativeToHome: string, text: string): void;
  backups(): string[];
}

function sandbox(): Sandbox {
  const home = tempDir("baton-home-");
  const project = join(home, "work", "app");
  mkdirSync(join(project, ".git"), { recursive: true });
  const batonHome = join(home, ".baton");
  return {
    home,
    project,
    batonHome,
    run: (args) =>
      baton(args, {
        home: batonHome,
        cwd: project,
        env: { HOME: home, XDG_CONFIG_HOME: "", APPDATA: "", CODEX_HOME: "", PATH: process.env.PATH ?? "" },
      }),
    read: (path) => readFileSync(join(home, path), "utf8"),
    write: (path, text) => {
      mkdirSync(dirname(join(home, path)), { recursive: true });
      writeFileSync(join(home, path), text);
    },
    backups: () =>
      existsSync(join(batonHome, "backups")) ? readdirSync(join(batonHome, "backups")).sort() : [],
  };
}

/** A host's config before and after, relative to HOME. */
interface Golden {
  host: string;
  path: string;
  before?: string;
  after: string;
  scope?: "project" | "user";
}

const GOLDEN: Golden[] = [
  {
    host: "vscode",
    path: ".config/Code/User/mcp.json",
    before: `{
\t// VS Code user MCP servers
\t"servers": {
\t\t"memory": {
\t\t\t"type": "stdio",
\t\t\t"command": "npx",
\t\t\t"args": ["-y", "@modelcontextprotocol/server-memory"]
\t\t}
\t},
\t"inputs": []
}
`,
    after: `{
\t// VS Code user MCP servers
\t"servers": {
\t\t"memory": {
\t\t\t"type": "stdio",
\t\t\t"command": "npx",
\t\t\t"args": ["-y", "@modelcontextprotocol/server-memory"]
\t\t},
\t\t"baton": {
\t\t\t"type": "stdio",
\t\t\t"command": "baton",
\t\t\t"args": ["mcp"]
\t\t}
\t},
\t"inputs": []
}
`,
  },
  {
    host: "vscode",
    scope: "project",
    path: "work/app/.vscode/mcp.json",
    after: `{
  "servers": {
    "baton": {
      "type": "stdio",
      "command": "baton",
      "args": ["mcp"]
    }
  }
}
`,
  },
  {
    host: "claude-code",
    path: ".claude.json",
    before: `{
  "numStartups": 12,
  "projects": {
    "/home/me/app": {
      "allowedTools": []
    }
  },
  "mcpServers": {
    "sentry": {
      "type": "http",
      "url": "https://mcp.sentry.dev/mcp"
    }
  }
}
`,
    after: `{
  "numStartups": 12,
  "projects": {
    "/home/me/app": {
      "allowedTools": []
    }
  },
  "mcpServers": {
    "sentry": {
      "type": "http",
      "url": "https://mcp.sentry.dev/mcp"
    },
    "baton": {
      "type": "stdio",
      "command": "baton",
      "args": ["mcp"]
    }
  }
}
`,
  },
  {
    host: "claude-code",
    scope: "project",
    path: "work/app/.mcp.json",
    before: `{
  "mcpServers": {}
}
`,
    after: `{
  "mcpServers": {
    "baton": {
      "type": "stdio",
      "command": "baton",
      "args": ["mcp"]
    }
  }
}
`,
  },
  {
    host: "claude-desktop",
    path: ".config/Claude/claude_desktop_config.json",
    before: `{
  "globalShortcut": "Ctrl+Space"
}
`,
    after: `{
  "globalShortcut": "Ctrl+Space",
  "mcpServers": {
    "baton": {
      "command": "baton",
      "args": ["mcp"]
    }
  }
}
`,
  },
  {
    host: "cursor",
    path: ".cursor/mcp.json",
    before: `// Cursor MCP servers (comments are allowed)
{
  "mcpServers": {
    // the GitHub server
    "github": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"] }, // keep me
  },
  "unrelated": true
}
`,
    after: `// Cursor MCP servers (comments are allowed)
{
  "mcpServers": {
    // the GitHub server
    "github": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"] }, // keep me
    "baton": {
      "command": "baton",
      "args": ["mcp"]
    },
  },
  "unrelated": true
}
`,
  },
  {
    host: "windsurf",
    path: ".codeium/windsurf/mcp_config.json",
    before: `{
    "mcpServers": {
        "baton": {
            "command": "/old/path/baton",
            "args": ["mcp"],
            "env": { "BATON_HOME": "/data/baton" }
        }
    }
}
`,
    after: `{
    "mcpServers": {
        "baton": {
            "command": "baton",
            "args": ["mcp"],
            "env": { "BATON_HOME": "/data/baton" }
        }
    }
}
`,
  },
  {
    host: "codex",
    path: ".codex/config.toml",
    before: `# Codex configuration
model = "gpt-5-codex"

[mcp_servers.docs]
command = "npx"
args = ["-y", "docs-mcp"]  # documentation server

# A faster profile
[profiles.fast]
model = "gpt-5-mini"
`,
    after: `# Codex configuration
model = "gpt-5-codex"

[mcp_servers.docs]
command = "npx"
args = ["-y", "docs-mcp"]  # documentation server

[mcp_servers.baton]
command = "baton"
args = ["mcp"]

# A faster profile
[profiles.fast]
model = "gpt-5-mini"
`,
  },
  {
    host: "gemini",
    path: ".gemini/settings.json",
    before: `{
  "theme": "GitHub",
  "mcpServers": {
    "fs": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."], "trust": false }
  }
}
`,
    after: `{
  "theme": "GitHub",
  "mcpServers": {
    "fs": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."], "trust": false },
    "baton": {
      "command": "baton",
      "args": ["mcp"]
    }
  }
}
`,
  },
  {
    host: "cline",
    path: ".config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
    before: `{
  "mcpServers": {
    "baton": {
      "command": "baton",
      "args": ["mcp"],
      "disabled": false,
      "autoApprove": ["health", "check_task"]
    }
  }
}
`,
    // Without --trust, baton's entry keeps the user's other keys but not a host approve key (D108).
    after: `{
  "mcpServers": {
    "baton": {
      "command": "baton",
      "args": ["mcp"],
      "disabled": false
    }
  }
}
`,
  },
  {
    host: "zed",
    path: ".config/zed/settings.json",
    before: `// Zed settings
//
// For information on how to configure Zed, see the Zed documentation.
{
  "theme": "One Dark",
  /* fonts */
  "buffer_font_size": 15,
  "context_servers": {}
}
`,
    after: `// Zed settings
//
// For information on how to configure Zed, see the Zed documentation.
{
  "theme": "One Dark",
  /* fonts */
  "buffer_font_size": 15,
  "context_servers": {
    "baton": {
      "source": "custom",
      "command": "baton",
      "args": ["mcp"],
      "env": {}
    }
  }
}
`,
  },
];

describe.runIf(process.platform === "linux")("baton install-mcp", () => {
  for (const golden of GOLDEN) {
    it(`${golden.host} (${golden.scope ?? "user"} scope): upserts by name, keeps comments and other keys, idempotent`, () => {
      const box = sandbox();
      if (golden.before !== undefined) box.write(golden.path, golden.before);
      const args = [
        "install-mcp",
        "--host",
        golden.host,
        "--scope",
        golden.scope ?? "user",
        "--command",
        "baton",
      ];

      const first = box.run([...args, "--json"]);
      expect(first.code, first.stderr + first.stdout).toBe(0);
      expect(box.read(golden.path)).toBe(golden.after);
      const [change] = envelope(first).data.changes;
      const expectedAction =
        golden.before === undefined ? "created" : golden.before === golden.after ? "unchanged" : "updated";
      expect(change.action).toBe(expectedAction);
      const backupsAfterFirst = box.backups();
      if (expectedAction === "updated") {
        expect(backupsAfterFirst).toHaveLength(1);
        expect(readFileSync(join(box.batonHome, "backups", backupsAfterFirst[0]!), "utf8")).toBe(
          golden.before,
        );
        expect(change.backup).toBe(join(box.batonHome, "backups", backupsAfterFirst[0]!));
      } else {
        expect(backupsAfterFirst).toEqual([]);
      }

      const second = box.run(args);
      expect(second.code).toBe(0);
      expect(second.stdout).toContain("unchanged");
      expect(box.read(golden.path)).toBe(golden.after);
      expect(box.backups()).toEqual(backupsAfterFirst);
    });
  }

  it("--dry-run prints a diff and writes nothing", () => {
    const box = sandbox();
    const cursor = GOLDEN.find((g) => g.host === "cursor")!;
    box.write(cursor.path, cursor.before!);
    const result = box.run([
      "install-mcp",
      "--host",
      "cursor",
      "--host",
      "codex",
      "--command",
      "baton",
      "--dry-run",
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("--- ~/.cursor/mcp.json");
    expect(result.stdout).toContain('+    "baton": {');
    expect(result.stdout).toContain("--- /dev/null");
    expect(result.stdout).toContain("+[mcp_servers.baton]");
    expect(box.read(cursor.path)).toBe(cursor.before);
    expect(existsSync(join(box.home, ".codex"))).toBe(false);
    expect(box.backups()).toEqual([]);

    // After installing, a dry run has nothing to show.
    box.run(["install-mcp", "--host", "cursor", "--command", "baton"]);
    expect(box.run(["install-mcp", "--host", "cursor", "--command", "baton", "--dry-run"]).stdout).toMatch(
      /nothing to change/,
    );
  });

  it("--all installs into the hosts found on the machine; --tools full reaches the entry", () => {
    const box = sandbox();
    mkdirSync(join(box.home, ".cursor"), { recursive: true });
    mkdirSync(join(box.home, ".gemini"), { recursive: true });
    const result = box.run(["install-mcp", "--all", "--tools", "full", "--command", "baton", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(envelope(result).data.changes.map((c: { label: string }) => c.label)).toEqual([
      "cursor",
      "gemini",
    ]);
    expect(JSON.parse(box.read(".cursor/mcp.json")).mcpServers.baton.args).toEqual([
      "mcp",
      "--tools",
      "full",
    ]);
  });

  it("refuses bad input without touching files: unknown host, no host off a TTY, a scope the host lacks, a broken file", () => {
    const box = sandbox();
    expect(box.run(["install-mcp", "--host", "notepad"]).code).toBe(2);
    const none = box.run(["install-mcp", "--json"]);
    expect(none.code).toBe(2);
    expect(envelope(none).error?.code).toBe("USAGE");
    expect(box.run(["install-mcp", "--host", "windsurf", "--scope", "project"]).code).toBe(2);
    box.write(".cursor/mcp.json", '{ "mcpServers": { "x": 1, } oops');
    const broken = box.run(["install-mcp", "--host", "cursor", "--command", "baton", "--json"]);
    expect(broken.code).toBe(2);
    expect(envelope(broken).error?.code).toBe("INVALID_INPUT");
    expect(box.read(".cursor/mcp.json")).toBe('{ "mcpServers": { "x": 1, } oops');
  });
});

describe("baton skills install", () => {
  it("writes a valid SKILL.md (name matches the folder, description ≤ 1024) to both skill folders, idempotently", () => {
    const box = sandbox();
    const dry = box.run(["skills", "install", "--dry-run"]);
    expect(dry.stdout).toContain("+name: baton");
    expect(existsSync(join(box.home, ".claude"))).toBe(false);

    expect(box.run(["skills", "install"]).code).toBe(0);
    for (const dir of [".claude/skills/baton", ".agents/skills/baton"]) {
      const text = box.read(`${dir}/SKILL.md`);
      expect(validateSkill(text, "baton")).toEqual([]);
      const front = /^---\n([\s\S]*?)\n---\n/.exec(text)![1]!;
      const description = /^description: (.*)$/m.exec(front)![1]!;
      expect(description.length).toBeLessThanOrEqual(1024);
      expect(description).toMatch(/Use it when/);
      expect(text).toContain("resume_session");
    }
    const again = box.run(["skills", "install"]);
    expect(again.stdout.match(/unchanged/g)).toHaveLength(2);
  });

  it("validateSkill catches a bad skill", () => {
    expect(validateSkill("---\nname: Baton Skill\ndescription: x\n---\n", "baton")).toHaveLength(2);
    expect(validateSkill(`---\nname: baton\ndescription: ${"x".repeat(1025)}\n---\n`, "baton")).toHaveLength(
      1,
    );
    expect(validateSkill("no front matter", "baton")).toEqual(["no YAML front matter"]);
  });
});

describe("baton instructions install", () => {
  it("adds a marked block to AGENTS.md (and the files present), replaces only that block later, idempotently", () => {
    const box = sandbox();
    const agents = "work/app/AGENTS.md";
    box.write(agents, "# Agents\n\nRun `npm test` before committing.\n");
    mkdirSync(join(box.project, ".github"), { recursive: true });

    const first = box.run(["instructions", "install", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    expect(envelope(first).data.changes.map((c: { path: string }) => c.path)).toEqual([
      join(box.project, "AGENTS.md"),
      join(box.project, ".github", "copilot-instructions.md"),
    ]);
    const installed = box.read(agents);
    expect(
      installed.startsWith("# Agents\n\nRun `npm test` before committing.\n\n<!-- baton:begin -->\n"),
    ).toBe(true);
    expect(installed.endsWith("<!-- baton:end -->\n")).toBe(true);
    expect(box.read("work/app/.github/copilot-instructions.md")).toMatch(
      /^<!-- baton:begin -->[\s\S]*<!-- baton:end -->\n$/,
    );

    // An older block, edited by hand, with text after it: only the block is replaced.
    const older = installed.replace(
      /<!-- baton:begin -->[\s\S]*<!-- baton:end -->/,
      "<!-- baton:begin -->\nold words\n<!-- baton:end -->",
    );
    box.write(agents, `${older}\n## More rules\nKeep this.\n`);
    expect(box.run(["instructions", "install", "--target", "agents"]).code).toBe(0);
    expect(box.read(agents)).toBe(`${installed}\n## More rules\nKeep this.\n`);

    const again = box.run(["instructions", "install"]);
    expect(again.stdout.match(/unchanged/g)).toHaveLength(2);
  });

  it("writes through CLAUDE.md -> AGENTS.md once: the link stays, one backup, the block once (D147)", () => {
    const box = sandbox();
    box.write("work/app/AGENTS.md", "# Agents\n");
    symlinkSync("AGENTS.md", join(box.project, "CLAUDE.md"));
    const first = box.run(["instructions", "install", "--target", "agents", "--target", "claude"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain("(a link: wrote its target ~/work/app/AGENTS.md)");
    expect(lstatSync(join(box.project, "CLAUDE.md")).isSymbolicLink()).toBe(true);
    expect(box.read("work/app/AGENTS.md").match(/baton:begin/g)).toHaveLength(1);
    expect(box.backups()).toHaveLength(1);
    const again = box.run(["instructions", "install", "--target", "agents", "--target", "claude"]);
    expect(again.stdout.match(/unchanged/g)).toHaveLength(2);
  });

  it("writes a Cursor rule file with front matter, and refuses a file with half a marker", () => {
    const box = sandbox();
    expect(box.run(["instructions", "install", "--target", "cursor"]).code).toBe(0);
    const rule = box.read("work/app/.cursor/rules/baton.mdc");
    expect(rule).toMatch(/^---\ndescription: .+\nalwaysApply: true\n---\n<!-- baton:begin -->/);
    box.write("work/app/CLAUDE.md", "intro\n<!-- baton:begin -->\nno end marker\n");
    const half = box.run(["instructions", "install", "--target", "claude", "--json"]);
    expect(envelope(half).error?.code).toBe("INVALID_INPUT");
    expect(box.read("work/app/CLAUDE.md")).toBe("intro\n<!-- baton:begin -->\nno end marker\n");
  });
});

describe("baton hooks install", () => {
  it("adds a Claude Code SessionStart hook beside the user's own hooks and comments, idempotently", () => {
    const box = sandbox();
    const before = `{
  // my settings
  "model": "opus",
  "hooks": {
    "PreToolUse": [
      { "matcher": "Bash", "hooks": [{ "type": "command", "command": "audit-bash" }] }
    ],
    "SessionStart": [
      { "matcher": "startup", "hooks": [{ "type": "command", "command": "echo hello" }] }
    ]
  }
}
`;
    box.write(".claude/settings.json", before);
    const first = box.run(["hooks", "install", "--command", "baton"]);
    expect(first.code, first.stderr).toBe(0);
    expect(box.read(".claude/settings.json")).toBe(`{
  // my settings
  "model": "opus",
  "hooks": {
    "PreToolUse": [
      { "matcher": "Bash", "hooks": [{ "type": "command", "command": "audit-bash" }] }
    ],
    "SessionStart": [
      { "matcher": "startup", "hooks": [{ "type": "command", "command": "echo hello" }] },
      {
        "hooks": [
          {
            "type": "command",
            "command": "baton resume --hook"
          }
        ]
      }
    ]
  }
}
`);
    expect(box.backups()).toHaveLength(1);
    expect(box.run(["hooks", "install", "--command", "baton"]).stdout).toContain("unchanged");
    expect(box.backups()).toHaveLength(1);
  });

  it("`baton resume --hook` prints nothing when nothing is left, and the unfinished work when some is", () => {
    const box = sandbox();
    const empty = box.run(["resume", "--hook"]);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toBe("");

    const ids = ["one", "two", "three"].map((name) => {
      const r = box.run([
        "enqueue",
        JSON.stringify({ file: `${name}.ts` }),
        "--name",
        name,
        "--workflow",
        "port",
        "--json",
      ]);
      return envelope(r).data.jobs[0].id as string;
    });
    box.run(["complete", ids[0]!, "--evidence", "ported"]);
    const hook = box.run(["resume", "--hook"]);
    expect(hook.code).toBe(0);
    expect(hook.stdout).toContain("Resume it before starting anything new");
    expect(hook.stdout).toContain("workflow port: 2 left, 1 done");
    expect(hook.stdout).toContain(ids[1]);
    expect(hook.stdout).toContain(ids[2]);
    expect(hook.stdout).not.toContain("cursor:");
  });
});

describe("the TOML upsert (Codex)", () => {
  const entry = { command: "baton", args: ["mcp"] };
  it("updates an existing table in place, keeping its other keys, its sub-tables and the rest of the file", () => {
    const before = `model = "x"\n\n[mcp_servers.baton]\ncommand = "/old/baton"  # old one\nargs = [\n  "mcp",\n]\nstartup_timeout_sec = 20\n\n[mcp_servers.baton.env]\nBATON_HOME = "/data"\n`;
    const after = upsertTomlTable(before, ["mcp_servers", "baton"], entry);
    expect(after).toBe(
      `model = "x"\n\n[mcp_servers.baton]\ncommand = "baton"\nargs = ["mcp"]\nstartup_timeout_sec = 20\n\n[mcp_servers.baton.env]\nBATON_HOME = "/data"\n`,
    );
    expect(upsertTomlTable(after, ["mcp_servers", "baton"], entry)).toBe(after);
  });

  it("handles a quoted table name, an inline entry under [mcp_servers], and an empty file", () => {
    const quoted = `[mcp_servers."baton"]\ncommand = "baton"\nargs = ["mcp"] # keep\n`;
    expect(upsertTomlTable(quoted, ["mcp_servers", "baton"], entry)).toBe(quoted);
    const inline = `[mcp_servers]\nbaton = { command = "old", args = [] } # mine\nother = { command = "x" }\n`;
    expect(upsertTomlTable(inline, ["mcp_servers", "baton"], entry)).toBe(
      `[mcp_servers]\nbaton = { command = "baton", args = ["mcp"] } # mine\nother = { command = "x" }\n`,
    );
    expect(upsertTomlTable(null, ["mcp_servers", "baton"], entry)).toBe(
      `[mcp_servers.baton]\ncommand = "baton"\nargs = ["mcp"]\n`,
    );
  });

  it("keeps every key of an inline table (an env, a timeout), and merges baton's env into the user's", () => {
    const inline = `[mcp_servers]\nbaton = { command = "old", args = ["mcp"], env = { A = "1" }, startup_timeout_sec = 20 }\n`;
    expect(upsertTomlTable(inline, ["mcp_servers", "baton"], entry)).toBe(
      `[mcp_servers]\nbaton = { command = "baton", args = ["mcp"], env = { A = "1" }, startup_timeout_sec = 20 }\n`,
    );
    const withEnv = { ...entry, env: { BATON_HOME: "/data/baton" } };
    const merged = upsertTomlTable(inline, ["mcp_servers", "baton"], withEnv);
    expect(merged).toBe(
      `[mcp_servers]\nbaton = { command = "baton", args = ["mcp"], env = { A = "1", BATON_HOME = "/data/baton" }, startup_timeout_sec = 20 }\n`,
    );
    expect(upsertTomlTable(merged, ["mcp_servers", "baton"], withEnv)).toBe(merged);
    // A comma or brace inside a string, a dotted key and a multi-line inline array stay as written.
    const tricky = `[mcp_servers]\nbaton = { command = "old", args = [\n  "mcp",\n], env = { "A B" = "x, }" }, tools.x = 1 } # mine\n`;
    expect(upsertTomlTable(tricky, ["mcp_servers", "baton"], withEnv)).toBe(
      `[mcp_servers]\nbaton = { command = "baton", args = ["mcp"], env = { "A B" = "x, }", BATON_HOME = "/data/baton" }, tools.x = 1 }\n`,
    );
  });

  it("writes an env into the table form: inline beside other keys, or into an existing [<table>.env]", () => {
    const withEnv = { ...entry, env: { BATON_HOME: "/h" } };
    expect(
      upsertTomlTable(
        `[mcp_servers.baton]\ncommand = "x"\nenv = { A = "1" } # c\n`,
        ["mcp_servers", "baton"],
        withEnv,
      ),
    ).toBe(`[mcp_servers.baton]\ncommand = "baton"\nenv = { A = "1", BATON_HOME = "/h" }\nargs = ["mcp"]\n`);
    const sub = `[mcp_servers.baton]\ncommand = "x"\n\n[mcp_servers.baton.env]\nA = "1"\n`;
    const out = upsertTomlTable(sub, ["mcp_servers", "baton"], withEnv);
    expect(out).toBe(
      `[mcp_servers.baton]\ncommand = "baton"\nargs = ["mcp"]\n\n[mcp_servers.baton.env]\nA = "1"\nBATON_HOME = "/h"\n`,
    );
    expect(upsertTomlTable(out, ["mcp_servers", "baton"], withEnv)).toBe(out);
    expect(upsertTomlTable(null, ["mcp_servers", "baton"], { ...withEnv, env_vars: ["X"] })).toBe(
      `[mcp_servers.baton]\ncommand = "baton"\nargs = ["mcp"]\nenv = { BATON_HOME = "/h" }\nenv_vars = ["X"]\n`,
    );
  });

  it("reports each key whose value it changes, not one it only reformats (issue 21)", () => {
    const seen: string[] = [];
    const note = (key: string, was: string, now: string | undefined) =>
      seen.push(`${key}: ${was} -> ${now ?? "removed"}`);
    upsertTomlTable(
      `[mcp_servers.baton]\ncommand = "baton"\nargs = [\n  "mcp",\n]\n`,
      ["mcp_servers", "baton"],
      entry,
      note,
    );
    expect(seen).toEqual([]);
    upsertTomlTable(
      `[mcp_servers]\nbaton = { command = "/old", args = ["mcp", "--tools", "full"] }\n`,
      ["mcp_servers", "baton"],
      entry,
      note,
    );
    expect(seen).toEqual([`command: "/old" -> "baton"`, `args: ["mcp", "--tools", "full"] -> ["mcp"]`]);
  });

  it("refuses an inline table it cannot read instead of dropping its keys", () => {
    const odd = `[mcp_servers]\nbaton = { command = "old", = 1 }\n`;
    expect(() => upsertTomlTable(odd, ["mcp_servers", "baton"], entry)).toThrow(/edit it by hand/);
  });
});

describe("--dry-run hides the secrets of the lines it shows", () => {
  it("a password in a URL, a token in env and a bearer header of the user's other servers are not printed", () => {
    const box = sandbox();
    box.write(
      ".cursor/mcp.json",
      `{
  "mcpServers": {
    "db": {
      "command": "db-mcp",
      "env": {
        "DATABASE_URL": "postgres://app:s3cret-pw@db.internal/prod",
        "API_TOKEN": "tok-1234567890"
      }
    },
    "remote": { "url": "https://mcp.example/x?password=qwerty", "headers": { "Authorization": "Bearer abc.def.ghi" } }
  }
}
`,
    );
    const text = box.run(["install-mcp", "--host", "cursor", "--command", "baton", "--dry-run"]);
    const json = box.run(["install-mcp", "--host", "cursor", "--command", "baton", "--dry-run", "--json"]);
    for (const result of [text, json]) {
      expect(result.code, result.stderr).toBe(0);
      // Was: the diff's context lines printed each of them as written.
      for (const secret of ["s3cret-pw", "tok-1234567890", "qwerty", "abc.def.ghi"])
        expect(result.stdout).not.toContain(secret);
    }
    expect(text.stdout).toContain('+    "baton": {');
    expect(text.stdout).toContain('"remote": { "url": "https://mcp.example/x?password=***"');
    expect(text.stdout).toContain('"API_TOKEN": "***"');
  });
});

describe("a config written on one line", () => {
  it("stays on one line, in its own spacing, when baton's entry joins it", () => {
    const box = sandbox();
    box.write(".cursor/mcp.json", '{"mcpServers": {"x": {"command": "x"}}}\n');
    expect(box.run(["install-mcp", "--host", "cursor", "--command", "baton"]).code).toBe(0);
    // Was: `{"command": "x"},` then baton's entry on five indented lines and `}}}`.
    expect(box.read(".cursor/mcp.json")).toBe(
      '{"mcpServers": {"x": {"command": "x"}, "baton": {"command": "baton", "args": ["mcp"]}}}\n',
    );
    box.write(".cursor/mcp.json", '{"mcpServers":{"x":{"command":"x"}}}\n');
    box.run(["install-mcp", "--host", "cursor", "--command", "baton"]);
    expect(box.read(".cursor/mcp.json")).toBe(
      '{"mcpServers":{"x":{"command":"x"},"baton":{"command":"baton","args":["mcp"]}}}\n',
    );
    expect(box.run(["install-mcp", "--host", "cursor", "--command", "baton"]).stdout).toContain("unchanged");
  });
});
