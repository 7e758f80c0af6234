// @ts-check
/**
 * ESLint flat config. Type-aware rules for src/ and test/ (through tsconfig.test.json, which covers
 * both), the import-cycle check over src/, and the layering of src/ as import bans per folder:
 *
 *   core        imports no other layer
 *   store       core only
 *   engine      core, store interfaces (store/types); never a store implementation
 *   ops         core, engine, store/types, supervisor/tasks/agents; never a store implementation
 *   supervisor, tasks, agents
 *               core, engine, store/types; never a store implementation, ops or an adapter
 *   worker      core, engine, store/types only
 *   cli, mcp, http (adapters)
 *               anything but a store implementation (they open a store through src/open.ts);
 *               mcp and http never import daemon/ or cli/ (D88)
 *   index.ts, baton.ts, open.ts, daemon/
 *               composition: may import store implementations
 *
 * The bans are on import specifiers (relative paths), so a pattern like `**\/store/sqlite/**`
 * matches "../store/sqlite/sqlite-store.js" and "../../store/sqlite/rows.js" alike. A config object
 * that sets `no-restricted-imports` replaces (does not merge with) an earlier one, so each folder
 * gets exactly one block below.
 */
import { defineConfig, globalIgnores } from "eslint/config";
import { createNodeResolver, importX } from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";

const STORE_IMPLEMENTATIONS = [
  "**/store/sqlite",
  "**/store/sqlite/**",
  "**/store/postgres",
  "**/store/postgres/**",
];

/**
 * A folder of src/ (and everything in it) as specifier patterns.
 * @param {string} name
 */
const layer = (name) => [`**/${name}`, `**/${name}/**`];

/** The root composition modules (src/index.ts, src/baton.ts, src/open.ts), reached by `../` or `../../`. */
const ROOT_MODULES = { regex: "^(\\.\\./)+(index|baton|open)(\\.js)?$" };

/**
 * One `no-restricted-imports` setting: `bans` is a list of [patterns, why] pairs.
 * @param {Array<[string[] | { regex: string }, string]>} bans
 */
function restrict(bans) {
  return [
    "error",
    {
      patterns: bans.map(([what, why]) =>
        Array.isArray(what) ? { group: what, message: why } : { regex: what.regex, message: why },
      ),
    },
  ];
}

const noStoreImpl = /** @type {[string[], string]} */ ([
  STORE_IMPLEMENTATIONS,
  "Store implementations are reached only through src/open.ts (or src/index.ts, src/daemon/): depend on the Store interface in store/types.",
]);
const noRoot = /** @type {[{ regex: string }, string]} */ ([
  ROOT_MODULES,
  "The root modules (index, baton, open) compose the layers; an inner layer must not import them.",
]);
const noAdapters = /** @type {[string[], string]} */ ([
  [...layer("cli"), ...layer("mcp"), ...layer("http"), ...layer("daemon")],
  "Adapters and the daemon sit on top of the layers; inner code must not import them.",
]);

export default defineConfig([
  globalIgnores([
    "dist/",
    "node_modules/",
    "coverage/",
    "bench/results/",
    ".ci/",
    "**/*.config.*",
    "**/*.d.ts",
  ]),

  // --- TypeScript: src and test, type-aware -------------------------------------------------
  {
    files: ["src/**/*.ts", "test/**/*.ts"],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        project: "./tsconfig.test.json",
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { "import-x": importX },
    settings: {
      // import-x reads (and follows imports of) TypeScript modules only when told these extensions.
      "import-x/extensions": [".ts", ".mts", ".js", ".mjs", ".cjs"],
      "import-x/external-module-folders": ["node_modules", "node_modules/@types"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts", ".mts"] },
      // Resolve "./x.js" specifiers to the "./x.ts" sources (NodeNext style), for import-x rules.
      "import-x/resolver-next": [
        createNodeResolver({
          extensions: [".ts", ".mts", ".js", ".mjs", ".cjs", ".json", ".node"],
          extensionAlias: { ".js": [".ts", ".js"], ".mjs": [".mts", ".mjs"] },
        }),
      ],
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        {
          argsIgnorePattern: "^_",
          varsIgnorePattern: "^_",
          destructuredArrayIgnorePattern: "^_",
          caughtErrors: "none",
        },
      ],
      // Too noisy for code that handles JSON, driver rows and zod output.
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-enum-comparison": "off",
      "@typescript-eslint/no-unsafe-unary-minus": "off",
      "@typescript-eslint/no-unsafe-declaration-merging": "off",
      "@typescript-eslint/no-unsafe-function-type": "off",
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/restrict-template-expressions": "off",
    },
  },

  // --- src: no import cycles -----------------------------------------------------------------
  {
    files: ["src/**/*.ts"],
    rules: {
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
    },
  },

  // --- Layers --------------------------------------------------------------------------------
  {
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([
        [
          [
            ...layer("store"),
            ...layer("engine"),
            ...layer("ops"),
            ...layer("supervisor"),
            ...layer("tasks"),
            ...layer("agents"),
          ],
          "src/core is the bottom layer: it imports no other layer of baton.",
        ],
        noAdapters,
        noRoot,
      ]),
    },
  },
  {
    files: ["src/store/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([
        [
          [
            ...layer("engine"),
            ...layer("ops"),
            ...layer("supervisor"),
            ...layer("tasks"),
            ...layer("agents"),
          ],
          "src/store may import src/core only.",
        ],
        noAdapters,
        noRoot,
      ]),
    },
  },
  {
    files: ["src/engine/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([
        noStoreImpl,
        [
          [...layer("ops"), ...layer("supervisor"), ...layer("tasks"), ...layer("agents")],
          "src/engine may import src/core and the store interfaces (store/types) only.",
        ],
        noAdapters,
        noRoot,
      ]),
    },
  },
  {
    files: ["src/ops/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([noStoreImpl, noAdapters, noRoot]),
    },
  },
  {
    files: ["src/supervisor/**/*.ts", "src/tasks/**/*.ts", "src/agents/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([
        noStoreImpl,
        [
          layer("ops"),
          "supervisor, tasks and agents sit below src/ops: import core, engine and store/types only.",
        ],
        noAdapters,
        noRoot,
      ]),
    },
  },
  {
    // baton.yaml's loader sits below the agent runner (src/agents/config.ts reads agents: from it).
    files: ["src/tasks/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([
        noStoreImpl,
        [
          layer("ops"),
          "supervisor, tasks and agents sit below src/ops: import core, engine and store/types only.",
        ],
        [layer("agents"), "src/agents reads baton.yaml through src/tasks: tasks must not import agents."],
        noAdapters,
        noRoot,
      ]),
    },
  },
  {
    // The library's worker (handlers, cron, rate limits) runs on the engine alone.
    files: ["src/worker/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([
        noStoreImpl,
        [
          [...layer("ops"), ...layer("supervisor"), ...layer("tasks"), ...layer("agents")],
          "src/worker may import core, engine and store/types only.",
        ],
        noAdapters,
        noRoot,
      ]),
    },
  },
  {
    files: ["src/cli/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([noStoreImpl]),
    },
  },
  {
    // MCP and HTTP are adapters side by side under the daemon, which composes them: neither
    // reaches up into daemon/ (the daemon client and the local command host live in ops/, D88)
    // nor into the CLI; HTTP does not borrow from MCP (shared argument checks are in ops/wire).
    files: ["src/mcp/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([
        noStoreImpl,
        [
          [...layer("daemon"), ...layer("cli")],
          "src/mcp is an adapter below the daemon: import ops (daemon-client, local-host) instead of daemon/ or cli/.",
        ],
      ]),
    },
  },
  {
    files: ["src/http/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([
        noStoreImpl,
        [
          [...layer("daemon"), ...layer("cli"), ...layer("mcp")],
          "src/http is an adapter below the daemon: import ops (daemon-client, local-host, wire) instead of daemon/, cli/ or mcp/.",
        ],
      ]),
    },
  },
  {
    // The MCP server speaks JSON-RPC on stdout: a stray console.log corrupts the protocol.
    files: ["src/mcp/**/*.ts"],
    rules: { "no-console": "error" },
  },

  // --- Tests ---------------------------------------------------------------------------------
  {
    files: ["test/**/*.ts"],
    rules: {
      "no-console": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/unbound-method": "off",
      // Tests read JSON envelopes from child processes; an `any` there is checked by the assertions.
      "@typescript-eslint/no-explicit-any": "off",
    },
  },
]);
