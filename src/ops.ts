/** `baton/ops`: the operation catalogue every front-end (CLI, MCP, HTTP) is built from. */
export { operations, getOperation } from "./ops/catalogue.js";
export type { Operation, OpContext } from "./ops/operation.js";
