/**
 * Task status notifications for the 2026-07-28 era (D130). In that revision a server pushes
 * `notifications/tasks` only on a `subscriptions/listen` stream whose filter names the tasks
 * (`notifications: {taskIds: […]}`), from a client that declares the `io.modelcontextprotocol/tasks`
 * extension on that request. The SDK's entries (stdio and Streamable HTTP) serve `subscriptions/listen`
 * themselves and know only the list-change filters, so a listen that names `taskIds` is taken here,
 * in front of them: on stdio by wrapping the wire, over HTTP in the `/mcp` handler (http.ts).
 *
 * Everything is read from the ledger, as `tasks/get` reads it: a subscription sent to a new server
 * process (after the chat, the host or the machine restarted) follows a task an earlier process
 * created. The acknowledgement lists the task ids that are tasks (others are left out); each of them
 * is sent at once as `tasks/get` shows it, then again each time its job changes state, the last time
 * when it ended. When every listed task has ended the subscription is closed gracefully (the empty
 * `subscriptions/listen` result); the client closes it earlier with `notifications/cancelled`.
 */
import type {
  JSONRPCMessage,
  JSONRPCRequest,
  MessageExtraInfo,
  Transport,
  TransportSendOptions,
} from "@modelcontextprotocol/server";
import {
  PROTOCOL_VERSION_META_KEY,
  ProtocolError,
  ProtocolErrorCode,
  SUBSCRIPTION_ID_META_KEY,
  isJSONRPCNotification,
  isJSONRPCRequest,
} from "@modelcontextprotocol/server";
import type { TaskView } from "./tasks.js";
import {
  FIRST_MODERN_VERSION,
  TASKS_EXTENSION,
  envelopeDeclaresTasks,
  followTasks,
  statusKey,
  taskV2,
  viewOf,
} from "./tasks.js";
import type { ContextSource } from "./tools.js";

/** The most task ids one subscription follows. */
export const MAX_LISTEN_TASKS = 100;

type Send = (message: JSONRPCMessage) => Promise<void>;

interface ListenParams {
  notifications?: { taskIds?: unknown };
  _meta?: Record<string, unknown>;
}

/** A 2026-era `subscriptions/listen` that asks for task status notifications (names `taskIds`). */
export function isTaskListen(message: unknown): message is JSONRPCRequest {
  if (!isJSONRPCRequest(message) || message.method !== "subscriptions/listen") return false;
  const params = message.params as ListenParams | undefined;
  if (params?.notifications?.taskIds === undefined) return false;
  const version = params._meta?.[PROTOCOL_VERSION_META_KEY];
  return typeof version === "string" && version >= FIRST_MODERN_VERSION;
}

/**
 * Serve one task subscription: the acknowledgement, the tasks' status notifications, and the
 * graceful close once they all ended. Returns when the subscription is over (ended, refused, or
 * `signal` aborted because the client cancelled or went away).
 */
export async function serveTaskListen(
  message: JSONRPCRequest,
  ctx: ContextSource,
  send: Send,
  signal: AbortSignal,
): Promise<void> {
  const { id } = message;
  const params = message.params as ListenParams;
  const refuse = (code: number, text: string, data?: unknown) =>
    send({ jsonrpc: "2.0", id, error: { code, message: text, ...(data === undefined ? {} : { data }) } });
  if (!envelopeDeclaresTasks(params._meta)) {
    return refuse(
      ProtocolErrorCode.MissingRequiredClientCapability,
      `Missing required client capability: task status notifications need the ${TASKS_EXTENSION} extension in the request's client capabilities`,
      { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
    );
  }
  const ids = params.notifications?.taskIds;
  if (
    !Array.isArray(ids) ||
    ids.some((taskId) => typeof taskId !== "string") ||
    ids.length > MAX_LISTEN_TASKS
  ) {
    return refuse(
      ProtocolErrorCode.InvalidParams,
      `Invalid params: notifications.taskIds must be a list of at most ${MAX_LISTEN_TASKS} task ids`,
    );
  }
  const stamp = { [SUBSCRIPTION_ID_META_KEY]: id };
  let acknowledged = false;
  try {
    const context = await ctx();
    const views: TaskView[] = [];
    for (const taskId of new Set(ids as string[])) {
      try {
        views.push(await viewOf(context, taskId));
      } catch (error) {
        // Not a task (no such job, or one baton does not run): left out of the acknowledgement.
        if (error instanceof ProtocolError && error.code === ProtocolErrorCode.InvalidParams) continue;
        throw error;
      }
    }
    await send({
      jsonrpc: "2.0",
      method: "notifications/subscriptions/acknowledged",
      params: { notifications: { taskIds: views.map((view) => view.taskId) }, _meta: stamp },
    });
    acknowledged = true;
    const notify = (view: TaskView) =>
      send({
        jsonrpc: "2.0",
        method: "notifications/tasks",
        params: { ...taskV2(view, true), _meta: stamp },
      });
    const watched = new Map<string, string>();
    for (const view of views) {
      if (signal.aborted) return;
      await notify(view);
      if (view.status === "working") watched.set(view.taskId, statusKey(view));
    }
    const open = () => !signal.aborted;
    await followTasks(context, watched, open, notify);
    if (open()) await send({ jsonrpc: "2.0", id, result: { resultType: "complete", _meta: stamp } });
  } catch (error) {
    if (!acknowledged && !signal.aborted)
      await refuse(ProtocolErrorCode.InternalError, `Internal error: ${(error as Error).message}`);
    // Afterwards the stream just ends: the client sees a remote close and may listen again.
  }
}

/**
 * The stdio wire with task subscriptions served in front of the SDK's entry: a task listen and
 * its `notifications/cancelled` are taken here, everything else passes through unchanged.
 */
export class TaskListenTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  /** Open subscriptions by their listen request's id. */
  private readonly subscriptions = new Map<string | number, AbortController>();

  constructor(
    private readonly inner: Transport,
    private readonly ctx: ContextSource,
  ) {}

  async start(): Promise<void> {
    this.inner.onclose = () => {
      this.abortAll();
      this.onclose?.();
    };
    this.inner.onerror = (error) => this.onerror?.(error);
    this.inner.onmessage = (message, extra) => this.receive(message, extra);
    await this.inner.start();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.inner.send(message, options);
  }

  async close(): Promise<void> {
    this.abortAll();
    await this.inner.close();
  }

  private abortAll(): void {
    for (const controller of this.subscriptions.values()) controller.abort();
    this.subscriptions.clear();
  }

  private receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    if (isTaskListen(message)) {
      const controller = new AbortController();
      this.subscriptions.set(message.id, controller);
      void serveTaskListen(message, this.ctx, (out) => this.inner.send(out), controller.signal)
        .catch((error: unknown) => this.onerror?.(error as Error))
        .finally(() => {
          if (this.subscriptions.get(message.id) === controller) this.subscriptions.delete(message.id);
        });
      return;
    }
    if (isJSONRPCNotification(message) && message.method === "notifications/cancelled") {
      const requestId = (message.params as { requestId?: unknown } | undefined)?.requestId;
      const controller =
        typeof requestId === "string" || typeof requestId === "number"
          ? this.subscriptions.get(requestId)
          : undefined;
      if (controller !== undefined) {
        controller.abort();
        this.subscriptions.delete(requestId as string | number);
        return;
      }
    }
    this.onmessage?.(message, extra);
  }
}
