import { defineConfig } from "vitest/config";

/**
 * Load tests measure the machine as well as baton: the R-05 soak and the R-06 burst time their
 * work and sample resident memory, and R-12 fills a disk and waits for work to resume. Run beside
 * other test files they measure the neighbours, so they form their own project that starts after
 * the rest of the suite and runs one file at a time.
 */
const LOAD = [
  "test/reliability.http-burst.test.ts",
  "test/reliability.sqlite-soak.test.ts",
  "test/reliability.sqlite-disk-full.test.ts",
];

const shared = {
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: "forks" as const,
  globalSetup: ["test/helpers/global-setup.ts"],
};

export default defineConfig({
  test: {
    reporters: ["default"],
    projects: [
      {
        test: {
          ...shared,
          name: "suite",
          include: ["test/**/*.test.ts"],
          exclude: LOAD,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: "load",
          include: LOAD,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
