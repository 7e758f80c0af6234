/**
 * The operation catalogue: every user-facing operation, defined once. Front-ends (CLI, MCP, HTTP)
 * register over this list; the parity test fails when one of them misses an operation.
 */
import {
  acceptBefore,
  archiveTasks,
  unarchiveTasks,
  claimTask,
  clean,
  deleteTasks,
  doctor,
  heartbeatTask,
  pause,
  recover,
  redriveTask,
  rerunTask,
  releaseTask,
  skipTask,
  unpause,
} from "./admin.js";
import {
  auditLog,
  checkTask,
  completeTask,
  enqueueTask,
  explainTask,
  failTask,
  health,
  listTasks,
  receipt,
  resumeSession,
} from "./checkpoints.js";
import { agentCancel, agentList, agentPause, agentResume, agentShow, searchJobs } from "./agent-jobs.js";
import { listConfiguredAgents } from "./agent-config.js";
import { agentContinue, agentSubmit, delegate } from "./agents.js";
import { jobLogs, jobStatus, retryJob, runCommand, stopJob, waitJob } from "./commands.js";
import type { Operation } from "./operation.js";
import { agentHeartbeat, listAgents, registerAgent, unregisterAgent } from "./registry.js";
import {
  configSchemaOp,
  importTasks,
  installScheduleUnits,
  listSchedules,
  disableSchedule,
  enableSchedule,
  newTask,
  validateConfig,
} from "./task-config.js";
import {
  capabilitiesOperation,
  describeTask,
  jobEvents,
  listConfiguredTasks,
  runTask,
  taskRuns,
} from "./tasks.js";
import { listWorkflows } from "./workflows.js";

export const operations: readonly Operation[] = [
  enqueueTask,
  completeTask,
  failTask,
  resumeSession,
  checkTask,
  listTasks,
  explainTask,
  auditLog,
  receipt,
  listWorkflows,
  health,
  skipTask,
  acceptBefore,
  archiveTasks,
  unarchiveTasks,
  deleteTasks,
  redriveTask,
  rerunTask,
  pause,
  unpause,
  clean,
  doctor,
  claimTask,
  heartbeatTask,
  releaseTask,
  recover,
  runCommand,
  jobStatus,
  jobLogs,
  waitJob,
  stopJob,
  retryJob,
  registerAgent,
  agentHeartbeat,
  unregisterAgent,
  listAgents,
  listConfiguredAgents,
  agentSubmit,
  agentList,
  agentShow,
  agentCancel,
  agentPause,
  agentResume,
  agentContinue,
  delegate,
  searchJobs,
  listConfiguredTasks,
  describeTask,
  runTask,
  taskRuns,
  jobEvents,
  capabilitiesOperation(() => operations),
  validateConfig,
  configSchemaOp,
  listSchedules,
  disableSchedule,
  enableSchedule,
  importTasks,
  installScheduleUnits,
  newTask,
];

const byName = new Map(operations.map((op) => [op.name, op]));

export function getOperation(name: string): Operation | undefined {
  return byName.get(name);
}
