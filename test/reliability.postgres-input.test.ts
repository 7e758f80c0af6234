/**
 * Hostile input against the PostgreSQL ledger through the built CLI (RELIABILITY.md R-30 for
 * PostgreSQL; R-22 runs in the conformance suite, test/store.postgres.test.ts).
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { baton, envelope } from "./helpers/cli.js";
import { PG_ENABLED, pgTestDatabase, warnIfPgSkipped } from "./helpers/pg.js";
import { enqueueArgsWith, METACHARACTERS, typeFor } from "./helpers/hostile.js";
import { tempDir } from "./helpers/tmp.js";

warnIfPgSkipped("PostgreSQL input");
const db = pgTestDatabase();

describe.skipIf(!PG_ENABLED)("R-30 SQL metacharacters on PostgreSQL", () => {
  beforeAll(() => db.setup());
  afterAll(() => db.teardown());

  it("R-30 (PostgreSQL, CLI) workflows, tags, types and searches with SQL metacharacters are parameterised: only intended rows change, tables intact", async () => {
    const home = tempDir("baton-pg-r30-");
    const schema = db.freshSchema();
    const env = { BATON_DATABASE_URL: db.url, BATON_DATABASE_SCHEMA: schema };
    const run = (args: string[]) => {
      const r = baton(args, { home, env });
      expect(r.code, `baton ${args.join(" ")}: ${r.stdout}${r.stderr}`).toBe(0);
      return envelope(r).data;
    };
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const q = async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []) =>
        (await client.query<R>(text.replaceAll("S.", `${schema}.`), values)).rows;
      const bystander = run([
        "enqueue",
        "--json",
        "--workflow=alpha",
        "--tag=safe",
        '{"note":"100% done_ok"}',
      ]);
      const bystanderId = bystander.jobs[0].id as string;
      const [before] = await q("SELECT * FROM S.jobs WHERE id = $1", [bystanderId]);
      const tables = await q(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
        [schema],
      );

      const made = new Map<string, string>();
      for (const m of METACHARACTERS) {
        const enq = run(enqueueArgsWith(m));
        const id = enq.jobs[0].id as string;
        made.set(m, id);
        expect(await q("SELECT type, workflow, tags, name, payload FROM S.jobs WHERE id = $1", [id])).toEqual(
          [
            {
              type: typeFor(m),
              workflow: m,
              tags: JSON.stringify([m]),
              name: m,
              payload: JSON.stringify({ m }),
            },
          ],
        );
        const ids = (data: { jobs: { id: string }[] }) => data.jobs.map((j) => j.id).sort();
        expect(ids(run(["list", "--json", "--limit=200", `--workflow=${m}`]))).toEqual([id]);
        expect(ids(run(["list", "--json", "--limit=200", `--tag=${m}`]))).toEqual([id]);
        // --search: a case-insensitive substring of id, name, payload, error or evidence.
        const expected = (
          await q<{ id: string }>(
            "SELECT id FROM S.jobs WHERE EXISTS (SELECT 1 FROM unnest(ARRAY[id, name, payload, error, evidence]) AS c(v) WHERE strpos(lower(c.v), lower($1)) > 0)",
            [m],
          )
        )
          .map((r) => r.id)
          .sort();
        expect(expected).toContain(id);
        expect(ids(run(["list", "--json", "--limit=200", `--search=${m}`]))).toEqual(expected);
      }

      const claim = run([
        "claim",
        "--json",
        "--limit=100",
        ...METACHARACTERS.flatMap((m) => [`--type=${m}`, `--type=${typeFor(m)}`]),
      ]);
      const claimed = (claim.claimed as { job: { id: string; type: string } }[]).map((c) => [
        c.job.type,
        c.job.id,
      ]);
      expect(new Map(claimed as [string, string][])).toEqual(
        new Map([...made].map(([m, id]) => [typeFor(m), id])),
      );
      for (const m of METACHARACTERS) {
        expect(run(["archive", "--json", `--workflow=${m}`])).toEqual({ archived: 1 });
      }

      expect(await q("SELECT * FROM S.jobs WHERE id = $1", [bystanderId])).toEqual([before]);
      expect(
        await q("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", [
          schema,
        ]),
      ).toEqual(tables);
      expect(
        await q<{ n: number; archived: number }>(
          "SELECT count(*)::int AS n, count(archived_at)::int AS archived FROM S.jobs",
        ),
      ).toEqual([{ n: METACHARACTERS.length + 1, archived: METACHARACTERS.length }]);
    } finally {
      await client.end();
    }
  }, 180_000);
});
