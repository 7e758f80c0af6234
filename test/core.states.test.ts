import { describe, expect, it } from "vitest";
import type { JobAction, JobState } from "../src/core/states.js";
import {
  CLAIMABLE_STATES,
  JOB_STATES,
  LIVE_STATES,
  TERMINAL_STATES,
  isJobState,
  isSatisfied,
  isTerminal,
  nextState,
} from "../src/core/states.js";

/** No transition. */
const NO = undefined;
/** The same answer whether or not attempts are left. */
type Cell = JobState | undefined | { left: JobState | undefined; none: JobState | undefined };
type Row = Record<JobState, Cell>;

const retry = (left: JobState, none: JobState): Cell => ({ left, none });

/**
 * The expected transition table, written out by hand from the state machine in DESIGN.md and the
 * doc comment of states.ts (not computed by the code under test). Rows are actions, columns states.
 * `satisfies Record<JobAction, Row>` makes adding an action without a row a compile error.
 */
// prettier-ignore
const EXPECTED = {
  //          waiting      queued       running                          retrying     succeeded  failed     timed_out  cancelled  skipped
  claim:    { waiting: NO, queued: "running", running: NO, retrying: "running", succeeded: NO, failed: NO, timed_out: NO, cancelled: NO, skipped: NO },
  complete: { waiting: "succeeded", queued: "succeeded", running: "succeeded", retrying: "succeeded", succeeded: NO, failed: NO, timed_out: NO, cancelled: NO, skipped: NO },
  fail:     { waiting: "failed", queued: "failed", running: retry("retrying", "failed"), retrying: "failed", succeeded: NO, failed: NO, timed_out: NO, cancelled: NO, skipped: NO },
  timeout:  { waiting: NO, queued: NO, running: retry("retrying", "timed_out"), retrying: NO, succeeded: NO, failed: NO, timed_out: NO, cancelled: NO, skipped: NO },
  crash:    { waiting: NO, queued: NO, running: retry("retrying", "failed"), retrying: NO, succeeded: NO, failed: NO, timed_out: NO, cancelled: NO, skipped: NO },
  release:  { waiting: NO, queued: NO, running: "queued", retrying: NO, succeeded: NO, failed: NO, timed_out: NO, cancelled: NO, skipped: NO },
  cancel:   { waiting: "cancelled", queued: "cancelled", running: "cancelled", retrying: "cancelled", succeeded: NO, failed: NO, timed_out: NO, cancelled: NO, skipped: NO },
  skip:     { waiting: "skipped", queued: "skipped", running: "skipped", retrying: "skipped", succeeded: NO, failed: "skipped", timed_out: "skipped", cancelled: "skipped", skipped: NO },
  redrive:  { waiting: NO, queued: NO, running: NO, retrying: NO, succeeded: NO, failed: "queued", timed_out: "queued", cancelled: "queued", skipped: NO },
  retry:    { waiting: NO, queued: NO, running: NO, retrying: NO, succeeded: "queued", failed: "queued", timed_out: "queued", cancelled: "queued", skipped: "queued" },
  unblock:  { waiting: "queued", queued: NO, running: NO, retrying: NO, succeeded: NO, failed: NO, timed_out: NO, cancelled: NO, skipped: NO },
  block:    { waiting: NO, queued: "waiting", running: NO, retrying: NO, succeeded: NO, failed: NO, timed_out: NO, cancelled: NO, skipped: NO },
} satisfies Record<JobAction, Row>;

const ACTIONS = Object.keys(EXPECTED) as JobAction[];

function expected(cell: Cell, attemptsLeft: boolean): JobState | undefined {
  if (cell !== undefined && typeof cell === "object") return attemptsLeft ? cell.left : cell.none;
  return cell;
}

describe("nextState", () => {
  it("the expected table covers every state", () => {
    expect(JOB_STATES).toHaveLength(9);
    for (const action of ACTIONS)
      expect(Object.keys(EXPECTED[action]).sort()).toEqual([...JOB_STATES].sort());
  });

  for (const action of ACTIONS) {
    for (const state of JOB_STATES) {
      for (const attemptsLeft of [true, false]) {
        const want = expected(EXPECTED[action][state], attemptsLeft);
        it(`${state} --${action}${attemptsLeft ? " (attempts left)" : " (no attempts left)"}--> ${want ?? "refused"}`, () => {
          expect(nextState(state, action, attemptsLeft)).toBe(want);
        });
      }
    }
  }

  it("attemptsLeft defaults to false", () => {
    expect(nextState("running", "fail")).toBe("failed");
    expect(nextState("running", "timeout")).toBe("timed_out");
    expect(nextState("running", "crash")).toBe("failed");
  });

  it("no terminal state moves on by itself, and every live state has a way forward", () => {
    const automatic: JobAction[] = ["claim", "crash", "unblock"];
    for (const state of TERMINAL_STATES) {
      for (const action of automatic) expect(nextState(state, action, true)).toBeUndefined();
    }
    // waiting → unblock, queued/retrying → claim, running → crash (lease recovery): never stranded.
    expect(nextState("waiting", "unblock")).toBe("queued");
    expect(nextState("queued", "claim")).toBe("running");
    expect(nextState("retrying", "claim")).toBe("running");
    expect(nextState("running", "crash", false)).toBe("failed");
    expect(nextState("running", "crash", true)).toBe("retrying");
  });

  it("an unknown action throws instead of answering", () => {
    expect(() => nextState("queued", "explode" as JobAction)).toThrow(/unexpected value/);
  });
});

describe("state predicates", () => {
  // Written out, not derived from TERMINAL_STATES.
  const TERMINAL: Record<JobState, boolean> = {
    waiting: false,
    queued: false,
    running: false,
    retrying: false,
    succeeded: true,
    failed: true,
    timed_out: true,
    cancelled: true,
    skipped: true,
  };
  const SATISFIED: Record<JobState, boolean> = {
    waiting: false,
    queued: false,
    running: false,
    retrying: false,
    succeeded: true,
    failed: false,
    timed_out: false,
    cancelled: false,
    skipped: true,
  };

  for (const state of JOB_STATES) {
    it(`${state}: terminal=${TERMINAL[state]} satisfied=${SATISFIED[state]}`, () => {
      expect(isTerminal(state)).toBe(TERMINAL[state]);
      expect(isSatisfied(state)).toBe(SATISFIED[state]);
      expect(TERMINAL_STATES.includes(state)).toBe(TERMINAL[state]);
      expect(LIVE_STATES.includes(state)).toBe(!TERMINAL[state]);
    });
  }

  it("claimable states are queued and retrying", () => {
    expect([...CLAIMABLE_STATES].sort()).toEqual(["queued", "retrying"]);
  });

  it("a satisfied state is always terminal", () => {
    for (const state of JOB_STATES) if (isSatisfied(state)) expect(isTerminal(state)).toBe(true);
  });

  it("isJobState accepts exactly the states", () => {
    for (const state of JOB_STATES) expect(isJobState(state)).toBe(true);
    for (const other of ["", "QUEUED", "done", "archived", "pending", " queued", "retry_scheduled"]) {
      expect(isJobState(other)).toBe(false);
    }
  });

  it("isTerminal throws on a value that is not a state", () => {
    expect(() => isTerminal("archived" as JobState)).toThrow(/unexpected value/);
  });
});
