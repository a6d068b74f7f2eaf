// The one place that turns a Connect error into the SDK's typed errors.

import { Code, ConnectError } from "@connectrpc/connect";

import {
  AlreadyExistsError,
  codeName,
  ConcordError,
  ConflictError,
  InvalidArgumentError,
  LimitError,
  NotFoundError,
  PermissionDeniedError,
  QuorumError,
  UnauthenticatedError,
} from "./errors.js";
import { ContextConflictSchema, LimitExceededSchema, QuorumFailureSchema } from "./gen/concord/kv/v1/kv_pb.js";
import { KVObject, siblingsOf, type Merge } from "./object.js";

/** Where a call went: to build a conflict's current object. */
export interface CallSite {
  namespace: string;
  key: Uint8Array;
  merge?: Merge | undefined;
}

/** A uint64 detail field as a number (exact up to 2^53). */
const num = (b: bigint): number => Number(b);

/** Turns any error of a call into a ConcordError; the ConnectError is its cause. */
export function wrap(err: unknown, site: CallSite): ConcordError {
  if (err instanceof ConcordError) return err;
  const ce = ConnectError.from(err);
  const msg = ce.rawMessage;
  const opts = { cause: ce };
  const quorum = ce.findDetails(QuorumFailureSchema)[0];
  if (quorum !== undefined) return new QuorumError(quorum.acks, quorum.required, msg, opts);
  const conflict = ce.findDetails(ContextConflictSchema)[0];
  const current =
    conflict === undefined
      ? undefined
      : new KVObject({
          namespace: site.namespace,
          key: site.key,
          siblings: siblingsOf(conflict.siblings),
          context: conflict.context,
          merge: site.merge,
        });
  const limit = ce.findDetails(LimitExceededSchema)[0];
  if (limit !== undefined) {
    return new LimitError(codeName(ce.code), limit.limit, num(limit.max), num(limit.actual), num(limit.retryAfterMs), msg, opts);
  }
  switch (ce.code) {
    case Code.FailedPrecondition:
      if (current !== undefined) return new ConflictError(current, msg, opts);
      break;
    case Code.AlreadyExists:
      return new AlreadyExistsError(current, msg, opts);
    case Code.NotFound:
      return new NotFoundError(msg, opts);
    case Code.Unauthenticated:
      return new UnauthenticatedError(msg, opts);
    case Code.PermissionDenied:
      return new PermissionDeniedError(msg, opts);
    case Code.InvalidArgument:
      return new InvalidArgumentError(msg, opts);
  }
  return new ConcordError(codeName(ce.code), msg, opts);
}

/**
 * Whether the node called did not answer the request at all (a refused
 * connection, an unresolvable host, a node that cannot serve), so another
 * node may be asked. An answer — any error with a QuorumFailure, or any
 * other code — is final: a second coordinator could apply a write twice.
 */
export function noAnswer(err: unknown): boolean {
  if (!(err instanceof ConnectError)) return false;
  if (err.code === Code.Unavailable) return err.findDetails(QuorumFailureSchema).length === 0;
  // fetch (browsers) rejects with a TypeError when no response came.
  return err.code === Code.Unknown && err.cause instanceof TypeError;
}
