/**
 * # baton glossary
 *
 * The words below are used with exactly these meanings in code, SQL and docs.
 *
 * - **job** — a durable unit of work in the ledger. Identified by a ULID. Has a `type`, a JSON
 *   `payload`, a `state` (see {@link JobState}), a priority, a `run_at` time, attempt counters, and
 *   optional `workflow`, `project`, `idempotency_key`, `depends_on`, `resource_key` and `tags`.
 * - **type** — names what executes a job: `command` (the process supervisor), `agent` (the agent
 *   runner), `task:<name>` (a configured task) or any name a library user registers a handler for.
 *   A job whose type no executor handles is *agent-managed*: only an agent claims or completes it.
 * - **workflow** — a group of jobs that belong together, e.g. "one file task per file of a
 *   refactor". `resume` works per workflow.
 * - **project** — the git root of the working directory a job was created from (or that directory
 *   itself when it is not in a git repository). Lists default to the current project.
 * - **attempt** — one try at running a job: its fencing token, owner, start/end and outcome.
 * - **lease** — a time-bounded claim on a running job. Each attempt gets a fresh **fencing token**;
 *   heartbeat, complete and fail must present it, and a stale one is answered with `LEASE_LOST`.
 * - **event** — an append-only record of a state change, note or piece of evidence. Written in the
 *   same transaction as the change it records: the audit trail cannot disagree with the ledger.
 * - **executor** — something that runs jobs of some types: the process supervisor, the agent
 *   runner, an in-process worker with registered handlers.
 * - **store** — the persistence layer (SQLite file or PostgreSQL database) behind the ledger.
 * - **engine** — the operations on jobs over a store.
 * - **operation** — one user-facing action, defined once in the catalogue (`src/ops`) and exposed by
 *   every front-end (CLI, MCP, HTTP, library).
 *
 * This module exports nothing at run time; it exists to be read.
 */
export type Glossary = never;
