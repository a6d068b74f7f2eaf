// The platform-neutral public API, re-exported by both entry points.

export type { Bytes } from "./bytes.js";
export {
  Client,
  type CallOptions,
  type ClientOptions,
  type DeleteOptions,
  type GetOptions,
  type ListOptions,
  type PutOptions,
  type UpdateOptions,
  type Updater,
  type Written,
} from "./client.js";
export {
  AlreadyExistsError,
  ConcordError,
  ConflictError,
  InvalidArgumentError,
  LimitError,
  NotFoundError,
  PermissionDeniedError,
  QuorumError,
  SiblingsError,
  UnauthenticatedError,
  type ErrorCode,
} from "./errors.js";
export { Context, KVObject, Sibling, type ContextLike, type Merge } from "./object.js";
export { partitionOf } from "./placement.js";
export type { RoutingOptions, Topology, TopologyNode } from "./routing.js";
